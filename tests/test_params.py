"""The declarative validation and set_params contract every public class inherits."""

import random

import numpy as np
import pytest

from art_ext.params import (
    BOOL,
    POSITIVE_INT,
    SEED,
    ClipValues,
    Integral,
    Interval,
    Options,
    Pair,
    Real,
    ValidatedParams,
    seeded,
    validate_params,
)


class Thing(ValidatedParams):
    params = ["rate", "steps", "mode", "clip_values", "seed", "verbose"]
    _parameter_constraints = {
        "rate": [Interval(Real, 0, 1, closed="right")],
        "steps": [POSITIVE_INT],
        "mode": [{"a", "b"}],
        "clip_values": [ClipValues()],
        "seed": [None, SEED],
        "verbose": [BOOL],
    }

    def __init__(self, rate=0.5, steps=3, mode="a", clip_values=(0.0, 1.0), seed=None, verbose=False):
        self.rate, self.steps, self.mode, self.clip_values, self.seed, self.verbose = (
            rate,
            steps,
            mode,
            clip_values,
            seed,
            verbose,
        )
        self._check_params()
        self.rebuilt = 0

    def _check_param_relations(self):
        if self.mode == "b" and self.steps > 10:
            raise ValueError("Thing: mode='b' needs steps <= 10")

    def _params_changed(self, changed):
        if "clip_values" in changed and self.clip_values[0] < -100:
            raise ValueError("Thing: refuses clip_values below -100 after construction")
        self.rebuilt += 1


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"rate": 0}, "rate"),
        ({"rate": 1.5}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": True}, "rate"),
        ({"steps": 0}, "steps"),
        ({"steps": 2.0}, "steps"),
        ({"steps": True}, "steps"),
        ({"mode": "c"}, "mode"),
        ({"clip_values": (1, 0)}, "clip_values"),
        ({"clip_values": (0, float("inf"))}, "clip_values"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"verbose": 1}, "verbose"),
    ],
)
def test_bad_values_are_named(kwargs, name):
    with pytest.raises(ValueError, match=rf"Thing: {name} must be"):
        Thing(**kwargs)


def test_good_values_pass():
    Thing(rate=1, steps=np.int64(4), mode="b", clip_values=np.array([0, 255]), seed=0, verbose=np.bool_(True))


def test_set_params_takes_effect_rejects_unknown_keys_and_is_atomic():
    thing = Thing()
    thing.set_params(rate=0.25, steps=5)
    assert (thing.rate, thing.steps, thing.rebuilt) == (0.25, 5, 1)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['rte'\]"):
        thing.set_params(rte=0.1)
    with pytest.raises(ValueError, match="steps must be"):
        thing.set_params(rate=0.75, steps=0)
    assert (thing.rate, thing.steps) == (0.25, 5)
    with pytest.raises(ValueError, match="steps <= 10"):
        thing.set_params(mode="b", steps=20)
    assert (thing.mode, thing.steps) == ("a", 5)
    with pytest.raises(ValueError, match="refuses"):
        thing.set_params(clip_values=(-200, 0))
    assert thing.clip_values == (0.0, 1.0) and thing.rebuilt == 1
    assert thing.get_params()["rate"] == 0.25


def test_messages_list_every_accepted_form():
    with pytest.raises(ValueError, match=r"seed must be None, or an integer in \[0, 4.29497e\+09\], got 'x'"):
        validate_params({"seed": [None, SEED]}, {"seed": "x"}, "f")
    with pytest.raises(ValueError, match="sequence of 2 items"):
        validate_params({"r": [Pair(Interval(Real, 0, None), ordered=True)]}, {"r": (0.3, 0.1)})
    with pytest.raises(ValueError, match="one of 'x', 'y'"):
        validate_params({"o": [Options(["x", "y"])]}, {"o": "z"})
    validate_params({"n": [Interval(Integral, None, None)]}, {"n": -3, "unchecked": object()})


def test_seeded_is_deterministic_and_leaves_global_state_alone():
    import keras

    def build():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])

    random.seed(7)
    expected = random.random()
    random.seed(7)
    np_state = np.random.get_state()[1].copy()
    with seeded(3):
        a = build()
    with seeded(3):
        b = build()
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert random.random() == expected
    assert np.array_equal(np.random.get_state()[1], np_state)
