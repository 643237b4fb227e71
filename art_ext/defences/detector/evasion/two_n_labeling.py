"""Detectors of 2N labeling and NULL labeling models (Szűcs & Kiss 2023, Eq. 15 / Table 1).

A 2N labeling model says "attacked" with probability ``P(attack) = sum_{i > N} p_i``; a NULL
labeling model with ``p_NULL``. The detectors flag inputs whose ``P(attack)`` exceeds a threshold.
Unlike ART's ``BinaryInputDetector`` (argmax of a binary model) they report the probability, so
the threshold can be tuned, e.g. to a target false-positive rate on clean data with :meth:`fit`.

| Paper link: https://doi.org/10.1007/s11042-022-14021-5
"""

from __future__ import annotations

import numpy as np
from art.defences.detector.evasion.evasion_detector import EvasionDetector
from art.estimators.classification import TensorFlowV2Classifier

from art_ext.estimators.two_n_view import check_extended_classifier, probabilities
from art_ext.params import POSITIVE_INT, UNIT_INTERVAL, Interval, Real, ValidatedParams, validate_params
from art_ext.utils import check_inputs

#: What ``target_fpr`` accepts: a rate strictly between 0 and 1 (0 or 1 would flag nothing or everything).
_TARGET_FPR = Interval(Real, 0, 1, closed="neither")


class _ExtendedLabelDetector(ValidatedParams, EvasionDetector):
    """Threshold on ``P(attack)`` of a 2N / NULL labeling model; subclasses set ``_kind``."""

    _kind = "2n"
    defence_params = ["classifier", "threshold", "target_fpr"]
    _parameter_constraints = {
        "classifier": [TensorFlowV2Classifier],
        "threshold": [UNIT_INTERVAL],
        "target_fpr": [_TARGET_FPR],
    }

    def __init__(self, classifier: TensorFlowV2Classifier, threshold: float = 0.5, target_fpr: float = 0.05) -> None:
        super().__init__()
        self.classifier = classifier
        self.threshold = threshold
        self.target_fpr = target_fpr
        self._check_params()

    def _check_param_relations(self) -> None:
        self._nb_classes = check_extended_classifier(self.classifier, self._kind)

    def attack_probability(self, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """``P(attack)`` per input (float32, shape ``(n,)``), computed ``batch_size`` inputs at a time.

        :param x: Inputs within the classifier's clip values.
        :param batch_size: Number of inputs per model call; bounds the memory used.
        :raises ValueError: For inputs of the wrong shape or range, NaN/inf, or a ``batch_size`` that is not a
            positive integer.
        """
        validate_params({"batch_size": [POSITIVE_INT]}, {"batch_size": batch_size}, type(self).__name__)
        x = check_inputs(x, "x", self.classifier.clip_values, tuple(self.classifier.input_shape))
        return probabilities(self.classifier, x, batch_size)[:, self._nb_classes :].sum(axis=1)

    def fit(
        self, x: np.ndarray, y: np.ndarray | None = None, batch_size: int = 128, nb_epochs: int = 20, **kwargs
    ) -> _ExtendedLabelDetector:
        """Calibrate the threshold on clean inputs; the model itself is trained by the trainer, not here.

        Sets ``threshold`` to the ``1 - target_fpr`` quantile of ``P(attack)`` on ``x`` (clean
        data), so about ``target_fpr`` of clean inputs are flagged. ``clean_fpr_`` records the
        rate reached on ``x``.

        :param x: Clean inputs (held out from training, ideally).
        :param y: Unused (ART's signature).
        :param batch_size: Number of inputs per model call.
        :param nb_epochs: Unused (ART's signature).
        :param kwargs: ``target_fpr`` overrides the instance's value for this call.
        :return: ``self``.
        :raises ValueError: For bad inputs, ``batch_size`` or ``target_fpr``.
        """
        target_fpr = kwargs.get("target_fpr", self.target_fpr)
        validate_params({"target_fpr": [_TARGET_FPR]}, {"target_fpr": target_fpr}, f"{type(self).__name__}.fit")
        scores = self.attack_probability(x, batch_size)
        self.threshold = float(np.quantile(scores, 1.0 - target_fpr, method="higher"))
        self.clean_fpr_ = float(np.mean(scores > self.threshold))
        return self

    def detect(self, x: np.ndarray, batch_size: int = 128, **kwargs) -> tuple[dict, np.ndarray]:
        """Flag inputs whose ``P(attack)`` exceeds the threshold.

        :param x: Inputs within the classifier's clip values.
        :param batch_size: Number of inputs per model call; bounds the memory used.
        :return: ``(report, is_adversarial)``: ``report["attack_probability"]`` holds ``P(attack)``
            per input and ``report["threshold"]`` the threshold; ``is_adversarial`` is a boolean array.
        :raises ValueError: For bad inputs or ``batch_size``.
        """
        scores = self.attack_probability(x, batch_size)
        return {"attack_probability": scores, "threshold": self.threshold}, scores > self.threshold


class TwoNLabelingDetector(_ExtendedLabelDetector):
    """Detector of a 2N labeling model: ``P(attack) = sum of the last N softmax probabilities`` (Eq. 15).

    An input is adversarial when ``P(attack) > threshold``. :meth:`fit` only calibrates the
    threshold for a clean false-positive rate ``target_fpr``; train the model with
    :class:`~art_ext.defences.trainer.TwoNLabelingTrainer`.

    | Paper link: https://doi.org/10.1007/s11042-022-14021-5

    :param classifier: ART ``TensorFlowV2Classifier`` with 2N outputs (logits or probabilities).
    :param threshold: Decision threshold on ``P(attack)`` (paper: a predefined value; default 0.5).
    :param target_fpr: Clean false-positive rate :meth:`fit` calibrates the threshold for.
    :raises ValueError: If the classifier has no 2N outputs or a parameter is out of range.
    """

    _kind = "2n"


class NullLabelingDetector(_ExtendedLabelDetector):
    """Detector of a NULL labeling model (N + 1 outputs): ``P(attack) = p_NULL``, the last probability.

    Same interface as :class:`TwoNLabelingDetector`.

    | Paper link: https://doi.org/10.1007/s11042-022-14021-5
    | NULL labeling: https://arxiv.org/abs/1703.04318

    :param classifier: ART ``TensorFlowV2Classifier`` with N + 1 outputs, NULL last.
    :param threshold: Decision threshold on ``p_NULL``.
    :param target_fpr: Clean false-positive rate :meth:`fit` calibrates the threshold for.
    """

    _kind = "null"
