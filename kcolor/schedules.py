"""Learning-rate schedules."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kcolor")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant for ``constant_steps``, then linear to 0 over ``decay_steps``.

    The loss study's schedule: 100 epochs, lr 5e-5 for 40, then linearly to 0
    over 60 (``ConstantThenLinearDecay(5e-5, 40 * n, 60 * n)`` for n steps an
    epoch). The rate is 0 after ``constant_steps + decay_steps``.
    """

    def __init__(self, initial_learning_rate, constant_steps, decay_steps, name=None):
        self.initial_learning_rate = float(initial_learning_rate)
        self.constant_steps = int(constant_steps)
        self.decay_steps = int(decay_steps)
        self.name = name

    @classmethod
    def scaled_to(cls, initial_learning_rate, total_steps, constant_fraction=0.4):
        """The study's 40 % constant / 60 % decay shape over ``total_steps``."""
        constant = int(round(total_steps * constant_fraction))
        return cls(initial_learning_rate, constant, max(int(total_steps) - constant, 1))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        past = ops.maximum(step - self.constant_steps, 0.0)
        frac = ops.clip(1.0 - past / max(self.decay_steps, 1), 0.0, 1.0)
        return self.initial_learning_rate * frac

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "constant_steps": self.constant_steps,
            "decay_steps": self.decay_steps,
            "name": self.name,
        }
