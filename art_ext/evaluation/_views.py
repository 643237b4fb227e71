"""Attack views of an ART classifier: a logits ``TensorFlowV2Classifier`` with the same defences, inputs and
clip values, optionally with BPDA in place of the defences and EOT over their randomness.

ART's white-box attacks want logits and a plain ``TensorFlowV2Classifier`` (APGD rebuilds one from
``estimator.model``); users hold probability models, ensembles and views. A view answers the attacks'
questions; the user's own classifier always has the last word on whether an attack succeeded.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from art.defences.preprocessor.preprocessor import PreprocessorTensorFlowV2
from art.estimators.classification import TensorFlowV2Classifier

from art_ext.evaluation.bpda import BPDA


class LogitsModel(tf.Module):
    """``model``'s outputs as logits: unchanged, or ``log`` of probabilities (valid logits of the same softmax)."""

    def __init__(self, model, probabilities: bool):
        super().__init__(name="logits_view")
        self.model, self.probabilities = model, probabilities

    def __call__(self, x, training: bool = False):
        out = self.model(x, training=training)
        if self.probabilities:
            out = tf.math.log(tf.clip_by_value(tf.cast(out, tf.float32), 1e-30, 1.0))
        return out


class CompiledForward(tf.Module):
    """The defended forward pass in one ``tf.function``: TensorFlow preprocessing (defences, BPDA wrappers,
    standardisation) then the model, as logits. ART differentiates through it from its eager tape, which is an
    order of magnitude faster than running the Keras layers eagerly."""

    def __init__(self, model, probabilities: bool, operations: list, input_shape: tuple[int, ...]):
        super().__init__(name="compiled_forward")
        self.logits_model = LogitsModel(model, probabilities)
        self.operations = operations
        self._forward = tf.function(self._run, input_signature=[tf.TensorSpec((None, *input_shape), tf.float32)])

    def _run(self, x):
        for operation in self.operations:
            x, _ = operation.forward(x)
        return self.logits_model(x, training=False)

    def __call__(self, x, training: bool = False):
        return self._forward(tf.cast(x, tf.float32))


class TargetedMarginLoss:
    """Targeted difference-of-logits-ratio loss (Croce & Hein 2020, APGD-T), to be *minimised* for target ``t``:
    ``(max_{j != t} z_j - z_t) / (z_(1) - (z_(3) + z_(4)) / 2)``; scale-invariant, so it cannot be saturated by
    rescaling the logits. ART's attacks pass the target as the label of a targeted attack."""

    def __init__(self):
        self.reduction = "mean"

    def __call__(self, y_true, y_pred, *args, **kwargs):
        y_pred = tf.cast(y_pred, tf.float32)
        target = tf.cast(y_true, tf.float32)
        z_t = tf.reduce_sum(target * y_pred, axis=1)
        other = tf.reduce_max(y_pred - 1e9 * target, axis=1)
        top = tf.sort(y_pred, axis=1, direction="DESCENDING")
        k = int(y_pred.shape[1])
        tail = (top[:, 2] + top[:, 3]) / 2.0 if k >= 4 else top[:, min(2, k - 1)]
        loss = (other - z_t) / (top[:, 0] - tail + 1e-12)
        reduction = getattr(self.reduction, "value", self.reduction)
        if reduction in ("none", None):
            return loss
        return tf.reduce_sum(loss) if reduction == "sum" else tf.reduce_mean(loss)


class EOTClassifier(TensorFlowV2Classifier):
    """A ``TensorFlowV2Classifier`` whose gradients, losses and predictions are averages over ``nb_samples`` passes:
    Expectation over Transformation (Athalye et al. 2018) for defences with randomness."""

    def __init__(self, *args, nb_samples: int = 10, **kwargs):
        super().__init__(*args, **kwargs)
        self.nb_samples = int(nb_samples)

    def _mean(self, fn, *args, **kwargs):
        return np.mean([fn(*args, **kwargs) for _ in range(self.nb_samples)], axis=0)

    def loss_gradient(self, x, y, training_mode: bool = False, **kwargs):
        return self._mean(super().loss_gradient, x, y, training_mode=training_mode, **kwargs)

    def class_gradient(self, x, label=None, training_mode: bool = False, **kwargs):
        return self._mean(super().class_gradient, x, label=label, training_mode=training_mode, **kwargs)

    def compute_loss(self, x, y, reduction: str = "none", training_mode: bool = False, **kwargs):
        return self._mean(super().compute_loss, x, y, reduction=reduction, training_mode=training_mode, **kwargs)

    def predict(self, x, batch_size: int = 128, training_mode: bool = False, **kwargs):
        return self._mean(super().predict, x, batch_size=batch_size, training_mode=training_mode, **kwargs)


class JointScores(TensorFlowV2Classifier):
    """A view whose predictions are the classifier's logits with the detector's score appended as one more column
    (``nb_classes`` stays the classifier's): what a black-box attack on the classifier *and* its detector queries.

    :param view: The classifier's forward view (its defences inside).
    :param score: ``x -> score`` in TensorFlow, the input flagged where ``score > 0``.
    """

    def __init__(self, view: TensorFlowV2Classifier, score):
        super().__init__(
            model=view.model,
            nb_classes=view.nb_classes,
            input_shape=tuple(view.input_shape),
            loss_object=view.loss_object,
            clip_values=view.clip_values,
            channels_first=view.channels_first,
            preprocessing_defences=view.preprocessing_defences,
            preprocessing=view.preprocessing,
        )
        self._view, self._score = view, score

    def predict(self, x, batch_size: int = 128, training_mode: bool = False, **kwargs):
        logits = self._view.predict(x, batch_size=batch_size)
        scores = [
            np.asarray(self._score(tf.constant(x[i : i + batch_size], tf.float32))).reshape(-1)
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate([logits, np.concatenate(scores)[:, None]], axis=1)


def attack_view(
    classifier: TensorFlowV2Classifier, probabilities: bool, bpda: bool = False, eot: int = 0, loss_object=None
) -> TensorFlowV2Classifier:
    """A logits view of ``classifier`` for ART's white-box attacks.

    :param classifier: The user's classifier (any ``TensorFlowV2Classifier``).
    :param probabilities: Whether its model outputs probabilities (the view then outputs their log).
    :param bpda: Replace every preprocessing defence by :class:`BPDA` (identity gradient). Without it the defences
        are kept as they are: TensorFlow defences are differentiated, NumPy ones give ART's ``estimate_gradient``.
    :param eot: Number of passes averaged per gradient (``0``: no EOT).
    :param loss_object: The view's loss; default categorical cross-entropy on logits.
    """
    import keras

    defences = list(classifier.preprocessing_defences or [])
    if bpda:
        defences = [d if isinstance(d, BPDA) else BPDA(d) for d in defences]
    own = list(classifier.preprocessing_defences or [])
    standardisation = [op for op in classifier.preprocessing_operations if not any(op is d for d in own)]
    operations = [op for op in defences + standardisation if op.apply_predict]
    model, preprocessing = LogitsModel(classifier.model, probabilities), classifier.preprocessing
    if all(isinstance(op, PreprocessorTensorFlowV2) for op in operations):
        model = CompiledForward(classifier.model, probabilities, operations, tuple(classifier.input_shape))
        defences, preprocessing = [], None
    options = dict(
        model=model,
        nb_classes=classifier.nb_classes,
        input_shape=tuple(classifier.input_shape),
        loss_object=loss_object or keras.losses.CategoricalCrossentropy(from_logits=True),
        clip_values=classifier.clip_values,
        channels_first=classifier.channels_first,
        preprocessing_defences=defences or None,
        preprocessing=preprocessing,
    )
    if eot:
        return EOTClassifier(nb_samples=eot, **options)
    return TensorFlowV2Classifier(**options)


def tf_logits(view: TensorFlowV2Classifier):
    """``x -> logits`` of a view in TensorFlow (its preprocessing applied in the graph), for custom attacks."""

    def logits(x):
        x_pre, _ = view._apply_preprocessing(x, None, fit=False)  # pylint: disable=protected-access
        return view.model(x_pre, training=False)

    return logits
