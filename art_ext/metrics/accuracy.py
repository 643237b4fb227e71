"""Top-1 accuracy of an ART classifier, the number every results table of the package reports, and its confidence
interval."""

from __future__ import annotations

import numpy as np

from art_ext.utils import check_labels

#: Inputs per ``predict`` call: a bound on memory, not a tuning knob.
PREDICT_BATCH_SIZE = 512


def accuracy(classifier, x: np.ndarray, y: np.ndarray, batch_size: int = PREDICT_BATCH_SIZE) -> float:
    """
    Top-1 accuracy of an ART classifier on ``(x, y)``: the fraction of inputs whose highest output is the label.

    :param classifier: Any ART classifier (its ``preprocessing`` and ``preprocessing_defences`` apply, as in
           ``predict``).
    :param x: Inputs in the classifier's layout and ``clip_values``.
    :param y: Labels, class indices ``(n,)`` or one-hot ``(n, nb_classes)``.
    :param batch_size: Inputs per ``predict`` call.
    :return: Accuracy in ``[0, 1]``.
    :raises ValueError: If ``y`` does not hold one valid label per input, or ``x`` is empty.
    """
    if len(x) == 0:
        raise ValueError("x must hold at least one input")
    labels = check_labels(y, len(x), int(classifier.nb_classes))
    return float(np.mean(classifier.predict(x, batch_size=batch_size).argmax(axis=1) == labels))


def accuracy_interval(correct: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """
    Wilson score interval of an accuracy measured as ``correct`` hits out of ``n`` inputs.

    Unlike the normal approximation it stays inside ``[0, 1]`` and is not empty at 0 or ``n`` hits (an accuracy of
    100 % on 1,000 inputs has the 95 % interval 99.6-100 %), which is where the papers' claims sit.

    :param correct: Inputs classified correctly, ``0 <= correct <= n``.
    :param n: Inputs measured, at least 1.
    :param level: Confidence level in ``(0, 1)``.
    :return: ``(low, high)`` in ``[0, 1]``.
    :raises ValueError: For counts or a level out of range.
    """
    from scipy.stats import norm

    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if int(correct) != correct or not 0 <= correct <= n:
        raise ValueError(f"correct must be an integer in [0, n={n}], got {correct!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    z = float(norm.ppf(0.5 + level / 2))
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def paired_accuracy_difference(
    correct_a: np.ndarray, correct_b: np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """
    Difference of two accuracies measured on the SAME inputs, ``acc(a) - acc(b)``, with its confidence interval.

    The inputs are shared, so only those on which the two disagree carry information: with ``b`` the inputs only
    ``a`` gets right and ``c`` those only ``b`` gets right, the difference is ``(b - c) / n`` with the variance
    ``(b + c - (b - c)^2 / n) / n^2`` of the paired (McNemar) design -- far tighter than two independent intervals
    when the two classifiers agree on most inputs, as two defences of one model do.

    :param correct_a: Per input, whether classifier ``a`` is right (booleans, shape ``(n,)``).
    :param correct_b: The same for classifier ``b``, on the same inputs in the same order.
    :param level: Confidence level in ``(0, 1)``.
    :return: ``(difference, low, high)``; the difference is resolved at ``level`` when the interval excludes 0.
    :raises ValueError: If the two do not hold one boolean per input each, or the level is out of range.
    """
    from scipy.stats import norm

    a, b = np.asarray(correct_a), np.asarray(correct_b)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"correct_a and correct_b must be 1-D with one entry per input each, got shapes {a.shape} and {b.shape}"
        )
    if a.dtype != bool or b.dtype != bool:
        raise ValueError(f"correct_a and correct_b must be booleans, got {a.dtype} and {b.dtype}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    n = a.size
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    difference = (only_a - only_b) / n
    half = float(norm.ppf(0.5 + level / 2)) * np.sqrt(max(0.0, only_a + only_b - (only_a - only_b) ** 2 / n)) / n
    return float(difference), float(difference - half), float(difference + half)
