"""N-class views of 2N- and (N+1)-output models (Szűcs & Kiss 2023, Table 2), and a filtering pipeline.

A 2N labeling model (:class:`~art_ext.defences.trainer.TwoNLabelingTrainer`) outputs 2N classes:
class ``i`` is "clean digit i", class ``N + i`` is "digit i carrying an adversarial perturbation".
To answer the original N-class question the paper adds the two probabilities,
``p_i + p_{N+i}``. :class:`NClassView` is that conversion as an ART ``TensorFlowV2Classifier``:
it is differentiable, so every ART attack and metric runs on it unchanged (white-box attacks
on the defended model included). For a NULL labeling model (N + 1 outputs) the view drops the
NULL class and renormalises, ``p_i / (1 - p_NULL)``.

:class:`FilteringPipeline` is the test phase of the paper (Fig. 2 / Fig. 5): an evasion detector
discards suspected adversarial inputs and a classifier labels the rest.

| Paper link: https://doi.org/10.1007/s11042-022-14021-5
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np
import tensorflow as tf
from art.estimators.classification import TensorFlowV2Classifier

from art_ext.estimators.classification import PROBABILITY_FLOOR, CheckedClassifier, options_like, outputs_logits
from art_ext.params import POSITIVE_INT, validate_params
from art_ext.utils import batches, check_inputs

if TYPE_CHECKING:
    from art.defences.detector.evasion import EvasionDetector

KINDS = ("2n", "null")

#: Name prefix of the class layer :func:`~art_ext.defences.trainer.extend_classes` adds (``logits_2n``, ...).
HEAD_NAME = "logits_"

#: Label :meth:`FilteringPipeline.predict` gives to rejected inputs.
REJECTED = -1


def nb_original_classes(nb_outputs: int, kind: str) -> int:
    """Number of original classes N of a model with ``nb_outputs`` outputs (2N for ``"2n"``, N + 1 for ``"null"``).

    :raises ValueError: If ``kind`` is unknown or ``nb_outputs`` does not fit it.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "2n":
        if nb_outputs < 4 or nb_outputs % 2:
            raise ValueError(f"a 2N labeling model needs an even number (>= 4) of outputs, got {nb_outputs}")
        return nb_outputs // 2
    if nb_outputs < 3:
        raise ValueError(f"a NULL labeling model needs N + 1 >= 3 outputs, got {nb_outputs}")
    return nb_outputs - 1


def n_class_logits(logits: tf.Tensor, kind: str = "2n") -> tf.Tensor:
    """Logits over the N original classes from 2N (or N + 1) logits; differentiable TF.

    ``"2n"``: ``logsumexp(z_i, z_{N+i})``, whose softmax is exactly ``p_i + p_{N+i}``.
    ``"null"``: the first N logits, whose softmax is ``p_i / (1 - p_NULL)``.
    """
    n = nb_original_classes(int(logits.shape[-1]), kind)
    if kind == "2n":
        return tf.reduce_logsumexp(tf.stack([logits[..., :n], logits[..., n:]], axis=-1), axis=-1)
    return logits[..., :n]


def attack_logit(logits: tf.Tensor, kind: str = "2n") -> tf.Tensor:
    """``logit(P(attack))`` per input: P(attack) is the sum of the last N probabilities (2N) or ``p_NULL``."""
    n = nb_original_classes(int(logits.shape[-1]), kind)
    adversarial = logits[..., n:]
    return tf.reduce_logsumexp(adversarial, axis=-1) - tf.reduce_logsumexp(logits[..., :n], axis=-1)


@keras.saving.register_keras_serializable(package="art_ext")
class MergeExtendedClasses(keras.layers.Layer):
    """Keras layer: 2N (or N + 1) logits -> N logits, see ``n_class_logits``.

    :param kind: ``"2n"`` or ``"null"``.
    :param from_logits: ``False`` when the wrapped model outputs probabilities (they are logged first).
    """

    def __init__(self, kind: str = "2n", from_logits: bool = True, **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.from_logits = kind, bool(from_logits)

    def call(self, inputs):
        logits = inputs if self.from_logits else tf.math.log(tf.maximum(inputs, PROBABILITY_FLOOR))
        return n_class_logits(logits, self.kind)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], nb_original_classes(int(input_shape[-1]), self.kind))

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "from_logits": self.from_logits}


def check_extended_classifier(classifier, kind: str, name: str = "classifier") -> int:
    """Check ``classifier`` is an ART ``TensorFlowV2Classifier`` with 2N (or N + 1) outputs; return N.

    :raises ValueError: Otherwise, naming ``name``.
    """
    if not isinstance(classifier, TensorFlowV2Classifier):
        raise ValueError(
            f"{name} must be an ART TensorFlowV2Classifier (see art_ext.estimators.wrap), "
            f"got {type(classifier).__name__}"
        )
    other = KINDS[1 - KINDS.index(kind)] if kind in KINDS else None
    layers = getattr(classifier.model, "layers", None)
    if other is not None and layers and layers[-1].name == f"{HEAD_NAME}{other}":
        raise ValueError(
            f"{name}: its model was extended for {other!r} labeling (extend_classes(model, {other!r})), "
            f"not {kind!r}; its {classifier.nb_classes} outputs would be misread"
        )
    try:
        return nb_original_classes(int(classifier.nb_classes), kind)
    except ValueError as err:
        raise ValueError(
            f"{name}: {err}; turn an N-class Keras model into one with "
            f"art_ext.defences.trainer.extend_classes(model, {kind!r})"
        ) from None


def probabilities(classifier, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Softmax probabilities of an ART TensorFlow classifier (its ``predict`` may return logits), computed
    ``batch_size`` inputs at a time (ART's ``TensorFlowV2Classifier.predict`` ignores ``batch_size``), so memory
    is bounded by ``batch_size`` whatever the classifier."""
    validate_params({"batch_size": [POSITIVE_INT]}, {"batch_size": batch_size}, "probabilities")
    logits = outputs_logits(classifier)
    out = np.empty((len(x), classifier.nb_classes), np.float32)
    for s in batches(len(x), batch_size):
        part = np.asarray(classifier.predict(x[s], batch_size=batch_size), np.float32)
        if logits:
            part = np.exp(part - part.max(axis=1, keepdims=True))
            part /= part.sum(axis=1, keepdims=True)
        out[s] = part
    return out


class NClassView(CheckedClassifier):
    """The N-class classifier of a 2N labeling (or NULL labeling) model, as an ART ``TensorFlowV2Classifier``.

    Outputs N logits whose softmax is ``p_i + p_{N+i}`` (2N, Table 2 of Szűcs & Kiss 2023) or
    ``p_i / (1 - p_NULL)`` (NULL). The view shares the weights of ``classifier`` (nothing is
    copied), keeps its clip values and preprocessing, and is differentiable, so ART attacks run
    on it directly. Training the view trains the shared model on the N-class task only. Inputs are checked
    at the boundary and predicted in batches, as in :class:`~art_ext.estimators.CheckedClassifier`.

    | Paper link: https://doi.org/10.1007/s11042-022-14021-5

    :param classifier: ART ``TensorFlowV2Classifier`` with 2N (``kind="2n"``) or N + 1 (``"null"``) outputs.
    :param kind: ``"2n"`` or ``"null"``.
    :raises ValueError: If ``classifier`` is not a TensorFlowV2Classifier with a fitting number of outputs.
    """

    def __init__(self, classifier: TensorFlowV2Classifier, kind: str = "2n"):
        n = check_extended_classifier(classifier, kind)
        base = classifier.model
        inputs = keras.Input(shape=tuple(classifier.input_shape))
        merged = MergeExtendedClasses(kind, from_logits=outputs_logits(classifier), name="n_class_view")(base(inputs))
        model = keras.Model(inputs, merged, name=f"{base.name}_n_class_view")
        super().__init__(**options_like(classifier, model, from_logits=True, nb_classes=n))
        self.kind = kind
        self.extended_classifier = classifier


class FilteringPipeline:
    """Detector + classifier with a reject option: the test phase of 2N labeling (Fig. 2 / Fig. 5 of the paper).

    Inputs the detector flags are rejected (label :data:`REJECTED`, ``-1``); the others get the
    classifier's label. Works with any ART ``EvasionDetector`` (e.g. ART's ``BinaryInputDetector``
    in front of an adversarially trained model, the paper's BIN+ADV baseline).

    | Paper link: https://doi.org/10.1007/s11042-022-14021-5

    :param detector: An ART ``EvasionDetector``.
    :param classifier: An N-class ART classifier (e.g. :class:`NClassView`).
    """

    def __init__(self, detector: EvasionDetector, classifier):
        from art.defences.detector.evasion import EvasionDetector

        if not isinstance(detector, EvasionDetector):
            raise ValueError(f"detector must be an ART EvasionDetector, got {type(detector).__name__}")
        if not hasattr(classifier, "predict") or not hasattr(classifier, "nb_classes"):
            raise ValueError(f"classifier must be an ART classifier, got {type(classifier).__name__}")
        self.detector, self.classifier = detector, classifier

    def predict(self, x: np.ndarray, batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
        """Labels with a reject option.

        :param x: Inputs of the classifier's input shape, within its clip values.
        :param batch_size: Number of inputs per detector and classifier call (bounds memory).
        :return: ``(labels, rejected)``: int64 class indices with ``-1`` where rejected, and the boolean mask.
        :raises ValueError: For inputs of the wrong shape, NaN/inf, values outside the clip values, or a
            ``batch_size`` that is not a positive integer.
        """
        validate_params({"batch_size": [POSITIVE_INT]}, {"batch_size": batch_size}, "FilteringPipeline.predict")
        x = check_inputs(x, "x", getattr(self.classifier, "clip_values", None), tuple(self.classifier.input_shape))
        labels, rejected = np.empty(len(x), np.int64), np.empty(len(x), bool)
        for s in batches(len(x), batch_size):
            _, flagged = self.detector.detect(x[s], batch_size=batch_size)
            rejected[s] = np.asarray(flagged, dtype=bool).reshape(-1)
            labels[s] = self.classifier.predict(x[s], batch_size=batch_size).argmax(axis=1)
        return np.where(rejected, REJECTED, labels), rejected
