import numpy as np
import pytest

from art_ext.metrics import (
    accuracy_after_filtering,
    constant_accuracy_ratio,
    filtering_accuracy,
    filtering_helps,
    sensitivity,
    transferability,
)


def test_filtering_accuracy_counts_kept_inputs_only():
    y = np.array([0, 1, 2, 3])
    pred = np.array([0, 1, 0, 0])  # two right, two wrong
    out = filtering_accuracy(y, pred, rejected=[False, False, True, True])
    assert out == {"unfiltered": 0.5, "filtered": 1.0, "kept": 0.5}
    assert np.isnan(filtering_accuracy(y, pred, rejected=[True] * 4)["filtered"])
    scores = np.eye(4)[pred]  # (n, N) scores are argmaxed
    assert filtering_accuracy(y, scores, [False] * 4)["unfiltered"] == 0.5


def test_filtering_accuracy_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="rejected"):
        filtering_accuracy([0, 1], [0, 1], [True])


def test_transferability_with_and_without_filter():
    y = np.zeros(5, int)
    sub = np.array([1, 1, 1, 1, 0])  # X_a: first four
    tgt = np.array([1, 1, 0, 0, 1])  # fooled: first two (the last is not in X_a)
    assert transferability(y, sub, tgt) == 0.5
    assert transferability(y, sub, tgt, rejected=[True, False, False, False, False]) == 0.25
    assert np.isnan(transferability(y, y, tgt))


def test_sensitivity_of_a_curve():
    out = sensitivity([0.2, 0.0, 0.1], [0.8, 1.0, 0.9])  # order does not matter
    assert out["max_slope"] == pytest.approx(1.0)
    assert out["range"] == pytest.approx(0.2)
    assert out["std"] == pytest.approx(np.std([1.0, 0.9, 0.8]))
    flat = sensitivity([0, 0.1, 0.2], [0.97, 0.97, 0.97])
    assert flat == pytest.approx({"max_slope": 0.0, "std": 0.0, "range": 0.0}, abs=1e-12)
    with pytest.raises(ValueError, match="distinct"):
        sensitivity([0.1, 0.1], [1, 1])
    with pytest.raises(ValueError, match="two"):
        sensitivity([0.1], [1])


def test_sec_4_3_condition_matches_the_accuracy_model():
    p, acc_ori, acc_att = 0.5, 0.99, 0.3
    before = (1 - p) * acc_ori + p * acc_att
    for r_ori, r_att_bar in [(0.95, 0.1), (0.9, 0.95), (0.5, 0.5)]:
        after = accuracy_after_filtering(p, acc_ori, acc_att, r_ori, r_att_bar)
        assert filtering_helps(r_ori, r_att_bar, acc_ori, acc_att, p) == (after > before + 1e-12)
    # no filtering at all: both pass rates 1 -> the accuracy is unchanged
    assert accuracy_after_filtering(p, acc_ori, acc_att, 1.0, 1.0) == pytest.approx(before)


def test_constant_accuracy_ratio_keeps_filtered_accuracy_equal():
    p, acc_ori, acc_att, r_ori, r_bar, r_z = 0.5, 0.99, 0.6, 0.95, 0.4, 0.7
    r_x = constant_accuracy_ratio(p, acc_ori, acc_att, r_ori, r_bar, r_z)
    now = accuracy_after_filtering(p, acc_ori, acc_att, r_ori, r_bar)
    nxt = accuracy_after_filtering(p, acc_ori, r_z * acc_att, r_ori, r_x * r_bar)
    assert 0 < r_x < 1
    assert nxt == pytest.approx(now)
