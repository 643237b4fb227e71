"""Every metric refuses what it cannot measure (NaN, strings, rates outside [0, 1]), naming the argument."""

import numpy as np
import pytest

from art_ext.metrics import (
    accuracy_after_filtering,
    constant_accuracy_ratio,
    distortion_norms,
    filtering_accuracy,
    filtering_helps,
    sensitivity,
    summarize,
)

RATES = dict(p_attack=0.5, acc_clean=0.9, acc_attacked=0.2, clean_pass_rate=0.95, attacked_pass_rate=0.3)


@pytest.mark.parametrize(
    "name, value",
    [
        ("p_attack", 1.5),
        ("acc_clean", float("nan")),
        ("clean_pass_rate", -0.1),
        ("attacked_pass_rate", "high"),
        ("acc_attacked", True),
    ],
)
def test_rates_outside_the_unit_interval_are_refused(name, value):
    for fn in (accuracy_after_filtering, filtering_helps):
        with pytest.raises(ValueError, match=rf"{fn.__name__}: {name} must be"):
            fn(**{**RATES, name: value})
    with pytest.raises(ValueError, match=rf"{name} must be"):
        constant_accuracy_ratio(**{**RATES, name: value}, r_z=0.5)
    with pytest.raises(ValueError, match="r_z must be"):
        constant_accuracy_ratio(**RATES, r_z=float("inf"))


def test_valid_rates_still_give_the_model():
    assert 0.0 <= accuracy_after_filtering(**RATES) <= 1.0
    assert filtering_helps(**RATES) is True


def test_distortion_and_summaries_refuse_nan_and_strings():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="x_adv contains NaN"):
        distortion_norms(x, np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="x must be a real numeric array"):
        distortion_norms(np.array([["a"] * 3] * 2), x)
    with pytest.raises(ValueError, match="values contains NaN"):
        summarize([1.0, np.nan])
    with pytest.raises(ValueError, match="values must be real numbers"):
        summarize(["a"])
    assert summarize([1.0, 3.0])["mean"] == 2.0
    np.testing.assert_array_equal(distortion_norms(x, x + 1)["linf"], [1.0, 1.0])


def test_filtering_accuracy_and_sensitivity_refuse_bad_inputs():
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="rejected must hold booleans"):
        filtering_accuracy(y, y, np.array([0.2, 0.5, 1.0]))
    with pytest.raises(ValueError, match="y_true must hold real numbers"):
        filtering_accuracy(np.array(["a", "b", "c"]), y, np.zeros(3, bool))
    with pytest.raises(ValueError, match="accuracy contains NaN"):
        sensitivity([0.0, 0.1], [0.9, np.nan])
    assert filtering_accuracy(y, y, np.array([False, True, False]))["filtered"] == 1.0
