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
