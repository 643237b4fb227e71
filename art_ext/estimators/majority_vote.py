"""An ART classifier that combines several classifiers by majority vote, each seeing its own preprocessing.

The NN-favoured JPEG defence fine-tunes one copy of a network per compression level and lets the copies vote;
SHIELD does the same with JPEG qualities. :class:`MajorityVoteClassifier` is that ensemble as one ART
``TensorFlowV2Classifier``: ``predict`` returns vote shares, and gradients -- for ART's attacks -- come from the
mean of the members' probabilities, passed back through every member's own (differentiable) preprocessing.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from art.estimators.classification import TensorFlowV2Classifier

from art_ext.estimators.classification import _outputs_probabilities
from art_ext.params import BOOL, POSITIVE_INT, ClipValues, validate_params
from art_ext.utils import batches, check_inputs


class _VoteModel(tf.Module):
    """The members as one TensorFlow callable: ``member_probabilities`` ``(n, K, C)``; ``__call__`` the log of
    their mean ``(n, C)`` -- the differentiable surrogate ART's loss and class gradients use."""

    def __init__(self, members: list[TensorFlowV2Classifier]):
        super().__init__(name="majority_vote")
        self.members = members
        self._softmax = [not _outputs_probabilities(m.model) if hasattr(m.model, "layers") else True for m in members]
        self._log_mean = tf.function(self._log_mean_probability)  # one graph for all members

    def member_probabilities(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        probabilities = []
        for member, softmax in zip(self.members, self._softmax):
            x_member, _ = member._apply_preprocessing(x, y=None, fit=False)  # the member's own level, as ART does
            out = member.model(x_member, training=training)
            probabilities.append(tf.nn.softmax(out) if softmax else out)
        return tf.stack(probabilities, axis=1)

    def _log_mean_probability(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return tf.math.log(tf.reduce_mean(self.member_probabilities(x, training), axis=1) + 1e-12)

    def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self._log_mean(x, bool(training))


def vote_scores(probabilities: np.ndarray) -> np.ndarray:
    """Vote shares from member probabilities ``(n, K, C)``: ``(votes + mean_probability / 2) / (K + 1/2)``.

    Each row sums to 1 and its argmax is the majority vote, ties broken by the mean probability.
    """
    n_members, n_classes = probabilities.shape[1], probabilities.shape[2]
    votes = np.eye(n_classes, dtype=np.float32)[probabilities.argmax(axis=2)].sum(axis=1)
    return (votes + 0.5 * probabilities.mean(axis=1)) / (n_members + 0.5)


class MajorityVoteClassifier(TensorFlowV2Classifier):
    """
    Majority vote of several TensorFlow classifiers, each applying its own preprocessing defences (for example
    JPEG at its own compression level), as one ART classifier usable with ART's attacks.

    ``predict`` returns vote shares whose argmax is the majority vote (ties broken by the mean probability of the
    members). ``loss_gradient`` and ``class_gradient`` differentiate the log of the members' mean probability
    through every member's preprocessing (``forward`` of ``PreprocessorTensorFlowV2`` defences, e.g. JPEG with
    straight-through rounding: BPDA), the standard adaptive attack on a voting ensemble.

    | Paper link: https://arxiv.org/abs/1802.06816 (SHIELD: vaccinated JPEG models and their ensemble)
    """

    def __init__(
        self,
        classifiers: list[TensorFlowV2Classifier],
        clip_values: tuple[float, float] | None = None,
        channels_first: bool = False,
    ) -> None:
        """
        Create the voting ensemble.

        :param classifiers: The members: ART ``TensorFlowV2Classifier`` objects with the same classes and input
               shape, whose preprocessing (if any) is TensorFlow-native (``PreprocessorTensorFlowV2``).
        :param clip_values: ``(min, max)`` of valid inputs; default: the first member's.
        :param channels_first: Set channels first or last.
        :raises ValueError: No members, members of different kinds, classes or input shapes, members with
                NumPy-only preprocessing, or bad ``clip_values`` / ``channels_first``.
        """
        validate_params(
            {"clip_values": [None, ClipValues()], "channels_first": [BOOL]},
            {"clip_values": clip_values, "channels_first": channels_first},
            "MajorityVoteClassifier",
        )
        classifiers = list(classifiers) if classifiers is not None else []
        if not classifiers:
            raise ValueError("classifiers must be a non-empty list of TensorFlowV2Classifier")
        for i, member in enumerate(classifiers):
            if not isinstance(member, TensorFlowV2Classifier):
                raise ValueError(f"classifiers[{i}] must be a TensorFlowV2Classifier, got {type(member).__name__}")
            if member.nb_classes != classifiers[0].nb_classes:
                raise ValueError(
                    f"classifiers[{i}] has {member.nb_classes} classes, classifiers[0] has {classifiers[0].nb_classes}"
                )
            if tuple(member.input_shape) != tuple(classifiers[0].input_shape):
                raise ValueError(
                    f"classifiers[{i}] has input shape {member.input_shape}, classifiers[0] has "
                    f"{classifiers[0].input_shape}"
                )
            if member.preprocessing_operations and not member.all_framework_preprocessing:
                raise ValueError(
                    f"classifiers[{i}] has NumPy-only preprocessing; use TensorFlow preprocessors "
                    "(e.g. JpegCompressionTensorFlowV2) so the ensemble is one differentiable graph"
                )
        self.classifiers = classifiers
        model = _VoteModel(classifiers)
        super().__init__(
            model=model,
            nb_classes=classifiers[0].nb_classes,
            input_shape=classifiers[0].input_shape,
            loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            channels_first=channels_first,
            clip_values=clip_values if clip_values is not None else classifiers[0].clip_values,
        )
        self._member_probabilities = tf.function(model.member_probabilities)

    def _check_x(self, x: np.ndarray) -> np.ndarray:
        """``x`` as float32 after checking its sample shape, NaN/inf and range (``clip_values``, if set)."""
        return check_inputs(x, "x", clip_values=self.clip_values, input_shape=self.input_shape, min_samples=0)

    def predict_members(self, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """
        Every member's class probabilities.

        :param x: Inputs of the members' input shape, within ``clip_values``.
        :param batch_size: Inputs per TensorFlow call.
        :return: ``(n, K, nb_classes)`` probabilities.
        :raises ValueError: Wrong sample shape, NaN/inf, values outside ``clip_values`` (e.g. 0-255 images for
                ``(0, 1)``), or a bad ``batch_size``.
        """
        validate_params({"batch_size": [POSITIVE_INT]}, {"batch_size": batch_size}, "predict")
        x = self._check_x(x)
        out = np.empty((len(x), len(self.classifiers), self.nb_classes), dtype=np.float32)
        for part in batches(len(x), batch_size):
            out[part] = self._member_probabilities(tf.convert_to_tensor(x[part])).numpy()
        return out

    def predict(self, x: np.ndarray, batch_size: int = 128, training_mode: bool = False, **kwargs) -> np.ndarray:
        """
        Vote shares: rows sum to 1 and their argmax is the majority vote (ties broken by mean probability).

        :param x: Inputs of the members' input shape, within ``clip_values``.
        :param batch_size: Inputs per TensorFlow call.
        :param training_mode: Unused (members run in inference mode).
        :return: ``(n, nb_classes)`` vote shares.
        :raises ValueError: As :meth:`predict_members`.
        """
        return vote_scores(self.predict_members(x, batch_size=batch_size))

    def loss_gradient(self, x: np.ndarray, y: np.ndarray, training_mode: bool = False, **kwargs) -> np.ndarray:
        """
        Gradient of the loss of the members' mean probability with respect to ``x`` (through each member's
        preprocessing), as ART's ``TensorFlowV2Classifier.loss_gradient``.

        :raises ValueError: Wrong sample shape, NaN/inf or values outside ``clip_values``.
        """
        return super().loss_gradient(self._check_x(x), y, training_mode=training_mode, **kwargs)

    def class_gradient(self, x: np.ndarray, label=None, training_mode: bool = False, **kwargs) -> np.ndarray:
        """
        Gradient of the log mean probability of ``label`` with respect to ``x``, as ART's
        ``TensorFlowV2Classifier.class_gradient``.

        :raises ValueError: Wrong sample shape, NaN/inf or values outside ``clip_values``.
        """
        return super().class_gradient(self._check_x(x), label=label, training_mode=training_mode, **kwargs)

    def fit(self, x: np.ndarray, y: np.ndarray, batch_size: int = 128, nb_epochs: int = 10, **kwargs) -> None:
        """Not supported: fit the members (e.g. with :class:`~art_ext.defences.trainer.MultiLevelJpegTrainer`)."""
        raise NotImplementedError("fit the members individually, e.g. with MultiLevelJpegTrainer")
