"""Multiply-accumulate count of a colorizer's convolutions at a given input size.

FLOPs are reported as 2 x MACs (one multiply and one add per MAC), the
convention of most model cards. Only convolutions are counted: batch norm,
activations, rescaling and decoding are elementwise and cost under 1 % here.
"""

import keras


def _conv_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _conv_layers(layer)
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            yield layer


def conv_macs(model, size):
    """Multiply-accumulates of every Conv2D / Conv2DTranspose of ``model`` for
    one ``size`` x ``size`` input, as {layer name: MACs}.

    Works for models whose nested sub-models take the outer input (as
    ``kcolor.models.build_colorizer`` does)."""
    convs = list(_conv_layers(model))
    macs = {}
    for layer in convs:
        sub = _owning_model(model, layer)
        probe = keras.Model(sub.inputs, layer.output)
        out = probe.compute_output_spec(keras.KerasTensor((1, size, size, 1)))
        kh, kw = layer.kernel_size
        c_in = layer.kernel.shape[-1] if isinstance(layer, keras.layers.Conv2DTranspose) \
            else layer.kernel.shape[-2]
        if isinstance(layer, keras.layers.Conv2DTranspose):
            # every input pixel scatters a kh x kw x c_out patch
            in_h, in_w = out.shape[1] // layer.strides[0], out.shape[2] // layer.strides[1]
            macs[layer.name] = in_h * in_w * kh * kw * c_in * layer.filters
        else:
            macs[layer.name] = out.shape[1] * out.shape[2] * kh * kw * c_in * layer.filters
    return macs


def _owning_model(model, layer):
    if layer in model.layers:
        return model
    for sub in model.layers:
        if isinstance(sub, keras.Model):
            found = _owning_model(sub, layer)
            if found is not None:
                return found
    return None


def gflops(model, size):
    """Convolution GFLOPs (2 x MACs / 1e9) for one ``size`` x ``size`` photo."""
    return 2 * sum(conv_macs(model, size).values()) / 1e9
