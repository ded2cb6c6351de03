"""Adam with a learning-rate multiplier per group of variables.

Fine-tuning a pretrained encoder under a freshly initialised decoder wants a
smaller step for the encoder (the U-Net recipes: 0.1×). Keras 3 optimizers
take one learning rate; ``MultiplierAdam`` scales it per variable by the first
``lr_multipliers`` key that the variable's path starts with (its
``variable.path``, e.g. ``lite_block3_dwconv/kernel``). Adam's step is
invariant to the scale of the gradient, so scaling gradients would not do
this; scaling the learning rate does.

The factors are read off the Keras variables in ``build``, by their index:
the TensorFlow backend hands ``update_step`` the underlying ``tf.Variable``,
which has no Keras path. Both backends call ``update_step`` once per
variable, so this works under TensorFlow and JAX.
"""

import keras


@keras.saving.register_keras_serializable(package="kcolor")
class MultiplierAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with ``lr_multipliers``: {path prefix: factor}."""

    def __init__(self, learning_rate=0.001, lr_multipliers=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.lr_multipliers = dict(lr_multipliers or {})

    def multiplier(self, variable):
        """The factor of a Keras variable (by its path)."""
        path = getattr(variable, "path", None) or variable.name
        for prefix, factor in self.lr_multipliers.items():
            if path.startswith(prefix):
                return float(factor)
        return 1.0

    def build(self, var_list):
        self._factors = [self.multiplier(v) for v in var_list]
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        factor = self._factors[self._get_variable_index(variable)]
        if factor != 1.0:
            learning_rate = learning_rate * factor
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "lr_multipliers": self.lr_multipliers}
