"""ConstantThenLinearDecay: values, scaling and serialization."""

import keras
import numpy as np
import pytest
from conftest import keras_roundtrip

from kcolor.schedules import ConstantThenLinearDecay


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 1e-3),
        (5, 1e-3),
        (10, 1e-3),  # end of the constant phase
        (20, 5e-4),  # midway through the 20-step decay
        (25, 2.5e-4),
        (30, 0.0),  # end
        (45, 0.0),  # after the end
        (10_000, 0.0),
    ],
)
def test_values(step, expected):
    s = ConstantThenLinearDecay(1e-3, constant_steps=10, decay_steps=20)
    assert float(s(step)) == pytest.approx(expected, abs=1e-10)


def test_scaled_to_is_40_60():
    s = ConstantThenLinearDecay.scaled_to(5e-5, 100)
    assert (s.initial_learning_rate, s.constant_steps, s.decay_steps) == (5e-5, 40, 60)
    assert float(s(40)) == pytest.approx(5e-5)
    assert float(s(70)) == pytest.approx(2.5e-5)
    assert float(s(100)) == 0.0
    s = ConstantThenLinearDecay.scaled_to(1.0, 7)  # round(2.8) = 3 constant, 4 decay
    assert (s.constant_steps, s.decay_steps) == (3, 4)
    s = ConstantThenLinearDecay.scaled_to(1.0, 1, constant_fraction=1.0)
    assert (s.constant_steps, s.decay_steps) == (1, 1)


def test_serialize_deserialize():
    s = ConstantThenLinearDecay(3e-4, 40, 60, name="study")
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    assert isinstance(clone, ConstantThenLinearDecay)
    assert clone.get_config() == s.get_config()
    for step in (0, 50, 99, 120):
        assert float(clone(step)) == pytest.approx(float(s(step)))


def test_inside_adam_in_a_saved_model(tmp_path):
    s = ConstantThenLinearDecay(1e-2, constant_steps=0, decay_steps=4)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(s), loss="mse")
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 1), np.float32)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)  # 2 steps
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-3)

    loaded = keras_roundtrip(model, tmp_path)
    config = keras.optimizers.serialize(loaded.optimizer)["config"]["learning_rate"]
    schedule = keras.optimizers.schedules.deserialize(config)
    assert isinstance(schedule, ConstantThenLinearDecay)
    assert schedule.get_config() == s.get_config()
    assert int(loaded.optimizer.iterations) == 2
    assert float(loaded.optimizer.learning_rate) == pytest.approx(5e-3)
    loaded.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(2.5e-3)
