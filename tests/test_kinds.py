"""The registry of model kinds (kcolor.kinds): each kind registers itself,
presets and colorize ask the registry, and a new kind plugs in without
touching them."""

import numpy as np
import pytest

from kcolor import colorize, kinds, models, presets


def test_every_kind_registers_itself_when_asked():
    found = kinds.kinds()
    assert {"plain", "instance", "hints"} <= set(found)
    assert kinds.for_arch("zhang").name == kinds.for_arch("unet_lite0").name == "plain"
    assert kinds.for_arch("instance_unet_lite0").name == "instance"
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        kinds.for_arch("resnet")
    conditions = kinds.conditions()
    assert conditions["boxes"].flag == "instances"
    assert conditions["boxes"].signature == "colorize_with_boxes"
    assert conditions["hints"].flag == "hints"
    assert conditions["hints"].signature == "colorize_with_hints"


def test_a_plain_model_is_the_plain_kind_and_takes_no_condition():
    model = models.build("zhang", "regression", 0.125)
    assert kinds.for_model(model).name == "plain"
    c = colorize.Colorizer(model, size=32)
    assert c.condition is None and not c.instance_aware and c.max_boxes is None
    photo = np.full((32, 32, 3), 128, np.uint8)
    with pytest.raises(ValueError, match="not instance-aware"):
        c.colorize([photo], boxes=[np.array([[0.1, 0.1, 0.5, 0.5]])])
    with pytest.raises(TypeError, match="unknown condition 'colours'"):
        c.colorize([photo], colours=[1])
    # None for every photo is no condition at all
    np.testing.assert_array_equal(c.colorize([photo], boxes=[None])[0], c.colorize([photo])[0])


class _Doubling(kinds.Kind):
    """A toy kind: a plain network whose output the kind doubles; the
    ``gain`` condition multiplies it again. Registered by a test only."""

    name = "doubling"

    class Gain(kinds.Condition):
        name = "gain"
        flag = "gain"
        signature = "colorize_with_gain"
        refusal = "this model takes no gain"

        def present(self, value):
            return value is not None

        def inputs(self, values, capacity):
            return [np.array(values, np.float32)]

    condition = Gain()

    def owns_arch(self, arch):
        return arch == "doubling_zhang"

    def owns_model(self, model):
        return model.name.startswith("doubling")

    def build(self, arch, head="classification", width=0.25, grid="zhang", name=None, **kw):
        return models.build("zhang", "regression", width, name=name or "doubling")

    def plain_inference(self, model, decoding):
        from kcolor import decode

        inner = decode.build_inference_model(model, **decoding.as_dict())

        class Twice:
            def predict_on_batch(self, L):
                return 2 * np.asarray(inner.predict_on_batch(L))
        return Twice()

    def conditioned_inference(self, model, decoding):
        plain = self.plain_inference(model, decoding)
        return lambda L, gain: plain.predict_on_batch(L) * gain[:, None, None, None]


def test_a_new_kind_plugs_in_through_the_registry_alone(tmp_path, monkeypatch):
    """A preset of a kind kcolor has never heard of loads, colorizes and
    takes its condition, with no change to presets or colorize."""
    monkeypatch.setattr(kinds, "_KINDS", dict(kinds.kinds()))
    kinds.register(_Doubling())
    monkeypatch.setattr(presets, "PRESET_DIR", str(tmp_path))
    model = models.build("doubling_zhang", width=0.125, name="doubling_tiny")
    assert kinds.for_model(model).name == "doubling"
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.1, w.shape) for w in model.get_weights()])
    presets.save_preset(model, "doubling_tiny", "regression", 0.125, "zhang", 32,
                        arch="doubling_zhang")
    loaded, cfg = presets.load("doubling_tiny")
    assert cfg["arch"] == "doubling_zhang" and loaded.name == "doubling_tiny"
    c = colorize.Colorizer("doubling_tiny")
    assert c.condition == "gain"
    L = rng.uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
    from kcolor import decode

    base = np.asarray(decode.build_inference_model(loaded).predict_on_batch(L))
    np.testing.assert_allclose(c.predict_ab(L), 2 * base, rtol=1e-5, atol=1e-5)
    # photo 0 takes the condition, photo 1 the plain path
    out = c.predict_ab(L, gain=[3.0, None])
    np.testing.assert_allclose(out[0], 6 * base[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[1], 2 * base[1], rtol=1e-5, atol=1e-5)
