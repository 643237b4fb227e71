"""Top-1 accuracy of an ART classifier, the number every results table of the package reports."""

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
