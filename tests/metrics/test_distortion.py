import numpy as np
import pytest

from art_ext.metrics import distortion_norms, summarize


def test_norms():
    x = np.zeros((2, 2, 2, 1), np.float32)
    x_adv = x.copy()
    x_adv[0, 0, 0, 0] = 0.3
    x_adv[0, 1, 1, 0] = -0.4
    d = distortion_norms(x, x_adv)
    np.testing.assert_allclose(d["l0"], [2, 0])
    np.testing.assert_allclose(d["l2"], [0.5, 0], rtol=1e-6)
    np.testing.assert_allclose(d["linf"], [0.4, 0], rtol=1e-6)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        distortion_norms(np.zeros((2, 3)), np.zeros((2, 4)))


def test_summarize():
    s = summarize(np.array([1.0, 2.0, 3.0]))
    assert s == {"mean": 2.0, "std": pytest.approx(np.std([1, 2, 3])), "min": 1.0, "max": 3.0, "n": 3}
    assert summarize(np.array([]))["n"] == 0
