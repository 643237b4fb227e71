import numpy as np
import pytest

from art_ext.metrics import accuracy


class _Fixed:
    """A stand-in ART classifier whose prediction is the first feature's class index."""

    nb_classes = 3

    def predict(self, x, batch_size=128):
        return np.eye(3)[x[:, 0].astype(int)]


def test_accuracy_takes_indices_and_one_hot_labels():
    x = np.array([[0.0], [1.0], [2.0], [2.0]])
    assert accuracy(_Fixed(), x, np.array([0, 1, 2, 0])) == 0.75
    assert accuracy(_Fixed(), x, np.eye(3)[[0, 1, 2, 0]]) == 0.75


@pytest.mark.parametrize(
    "y, match",
    [(np.array([0, 1]), "2 labels but there are 4 inputs"), (np.array([0, 1, 2, 3]), r"must lie in \[0, 3\)")],
)
def test_accuracy_rejects_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        accuracy(_Fixed(), np.zeros((4, 1)), y)


def test_accuracy_rejects_an_empty_batch():
    with pytest.raises(ValueError, match="at least one input"):
        accuracy(_Fixed(), np.zeros((0, 1)), np.zeros(0, int))


def test_accuracy_interval_is_wilsons_and_stays_in_the_unit_interval():
    from art_ext.metrics import accuracy_interval

    low, high = accuracy_interval(1000, 1000)
    assert high == 1.0 and low == pytest.approx(0.99617, abs=1e-5)  # 100 % of 1,000: 99.6-100 %
    assert accuracy_interval(0, 10) == (0.0, pytest.approx(0.27753, abs=1e-5))
    low, high = accuracy_interval(5, 10)
    assert low == pytest.approx(1 - high) and low == pytest.approx(0.23659, abs=1e-5)  # symmetric at 1/2
    assert accuracy_interval(90, 100, level=0.99)[0] < accuracy_interval(90, 100)[0]  # wider at a higher level


@pytest.mark.parametrize(
    "args, match",
    [
        ((3, 0), "n must be a positive integer"),
        ((11, 10), r"correct must be an integer in \[0, n=10\]"),
        ((1.5, 10), "correct must be"),
        ((5, 10, 1.0), r"level must be in \(0, 1\)"),
    ],
)
def test_accuracy_interval_rejects_bad_counts(args, match):
    from art_ext.metrics import accuracy_interval

    with pytest.raises(ValueError, match=match):
        accuracy_interval(*args)


def test_paired_accuracy_difference_counts_only_the_disagreements():
    from art_ext.metrics import paired_accuracy_difference

    a = np.array([True] * 90 + [False] * 10)
    b = np.array([True] * 80 + [False] * 20)  # a is right on 10 inputs where b is wrong, never the other way
    difference, low, high = paired_accuracy_difference(a, b)
    assert difference == pytest.approx(0.10) and low > 0 and low < difference < high
    # adding inputs on which both agree shrinks the interval around the (diluted) difference
    agree = np.ones(900, bool)
    d2, low2, high2 = paired_accuracy_difference(np.r_[a, agree], np.r_[b, agree])
    assert d2 == pytest.approx(0.01) and high2 - low2 < high - low
    same = paired_accuracy_difference(a, a)
    assert same == (0.0, 0.0, 0.0)
    flipped = paired_accuracy_difference(b, a)
    assert flipped == pytest.approx((-difference, -high, -low))


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.ones(3, bool), np.ones(4, bool), "one entry per input"),
        (np.ones(3), np.ones(3), "must be booleans"),
        (np.ones((2, 2), bool), np.ones((2, 2), bool), "must be 1-D"),
    ],
)
def test_paired_accuracy_difference_rejects_mismatched_inputs(a, b, match):
    from art_ext.metrics import paired_accuracy_difference

    with pytest.raises(ValueError, match=match):
        paired_accuracy_difference(a, b)
