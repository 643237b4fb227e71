"""The joint attack on a classifier AND its detector: misclassify while keeping the detector quiet.

A detector is only as good as its worst case against an attacker who knows it is there (Carlini & Wagner 2017,
"Adversarial examples are not easily detected"). :class:`JointDetectorAttack` minimises, per input and target
class ``t``, ``CE(logits, t) + softplus(detector logit)`` (the detector logit shifted so that ``0`` is its
threshold) with projected gradient steps, random restarts and several targets; it keeps, per input, the first
point that is misclassified and not flagged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
from art.attacks.attack import EvasionAttack
from art.estimators.classification.classifier import ClassifierMixin
from art.estimators.estimator import BaseEstimator, LossGradientsMixin
from tqdm.auto import tqdm

from art_ext.params import BOOL, POSITIVE_INT, POSITIVE_REAL, SEED, Options, validate_params


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def detector_logit_function(detector) -> Callable[[tf.Tensor], tf.Tensor]:
    """``x -> score`` in TensorFlow for a known detector: the input is flagged where ``score > 0``.

    Supported: art-ext's ``TwoNLabelingDetector`` / ``NullLabelingDetector`` (``logit(P(attack))`` minus the logit
    of the threshold) and ART's ``BinaryInputDetector`` (the detector network's ``z_1 - z_0``). For anything else
    pass ``detector_logit=`` to :class:`JointDetectorAttack` or :func:`~art_ext.evaluation.evaluate`.

    :raises ValueError: For a detector of another kind.
    """
    from art.defences.detector.evasion import BinaryInputDetector

    from art_ext.defences.detector.evasion.two_n_labeling import _ExtendedLabelDetector
    from art_ext.estimators.two_n_view import attack_logit, outputs_logits
    from art_ext.evaluation._views import attack_view, tf_logits

    if isinstance(detector, _ExtendedLabelDetector):
        view = tf_logits(attack_view(detector.classifier, probabilities=not outputs_logits(detector.classifier)))
        shift, kind = _logit(detector.threshold), detector._kind  # pylint: disable=protected-access
        return lambda x: attack_logit(view(x), kind) - shift
    if isinstance(detector, BinaryInputDetector):
        net = detector.detector
        view = tf_logits(attack_view(net, probabilities=not outputs_logits(net)))

        def score(x):
            z = view(x)
            return z[:, 1] - z[:, 0]

        return score
    raise ValueError(
        f"detector: no built-in gradient for {type(detector).__name__}; pass detector_logit=, a "
        "function x -> score (TensorFlow, score > 0 means flagged)"
    )


class JointDetectorAttack(EvasionAttack):
    """White-box attack on a classifier and a detector together: each input is pushed to a wrong class while the
    detector's score is pushed below its threshold.

    For each of the ``nb_targets`` most likely wrong classes and each of ``nb_random_init`` random starts, projected
    gradient steps (sign steps for L-inf, normalised for L2; step size from ``eps / 2`` decaying to ``eps / 100``)
    minimise ``CE(logits, t) + softplus(score)``; the first point that is misclassified with ``score <= 0`` is kept.
    Inputs that are never broken are returned unchanged.

    | Paper link: https://arxiv.org/abs/1705.07263 (Carlini & Wagner, adversarial examples are not easily detected)

    :param classifier: ART ``TensorFlowV2Classifier`` (its defences and probability outputs are handled like
        :func:`~art_ext.evaluation.evaluate` does: a logits view, BPDA for NumPy defences).
    :param detector: The detector (``detect(x)`` flags inputs); see :func:`detector_logit_function`.
    :param eps: Perturbation budget, in the units of the classifier's ``clip_values``.
    :param norm: ``"inf"`` or ``2``.
    :param max_iter: Steps per target and start.
    :param nb_random_init: Random starts per target.
    :param nb_targets: How many of the most likely wrong classes to target.
    :param batch_size: Inputs per graph call.
    :param detector_logit: ``x -> score`` (TensorFlow) overriding the built-in score of ``detector``.
    :param bpda: Use the identity gradient for every preprocessing defence of the classifier.
    :param seed: Seed of the random starts.
    :param verbose: Show a progress bar.
    """

    attack_params = EvasionAttack.attack_params + [
        "eps",
        "norm",
        "max_iter",
        "nb_random_init",
        "nb_targets",
        "batch_size",
        "seed",
        "verbose",
    ]
    _estimator_requirements = (BaseEstimator, LossGradientsMixin, ClassifierMixin)

    def __init__(
        self,
        classifier,
        detector,
        eps: float = 0.3,
        norm="inf",
        max_iter: int = 100,
        nb_random_init: int = 1,
        nb_targets: int = 3,
        batch_size: int = 128,
        detector_logit: Callable | None = None,
        bpda: bool = False,
        seed: int | None = None,
        verbose: bool = True,
    ):
        from art.estimators.classification import TensorFlowV2Classifier

        if not isinstance(classifier, TensorFlowV2Classifier):
            raise ValueError(f"classifier must be an ART TensorFlowV2Classifier, got {type(classifier).__name__}")
        super().__init__(estimator=classifier)
        self.detector, self.eps, self.norm, self.max_iter = detector, eps, norm, max_iter
        self.nb_random_init, self.nb_targets, self.batch_size = nb_random_init, nb_targets, batch_size
        self.detector_logit, self.bpda, self.seed, self.verbose = detector_logit, bpda, seed, verbose
        self._check_params()
        self._score = detector_logit if detector_logit is not None else detector_logit_function(detector)

    def _check_params(self) -> None:
        validate_params(
            {
                "eps": [POSITIVE_REAL],
                "norm": [Options(("inf", np.inf, 2))],
                "max_iter": [POSITIVE_INT],
                "nb_random_init": [POSITIVE_INT],
                "nb_targets": [POSITIVE_INT],
                "batch_size": [POSITIVE_INT],
                "bpda": [BOOL],
                "seed": [None, SEED],
                "verbose": [BOOL],
            },
            {
                "eps": self.eps,
                "norm": self.norm,
                "max_iter": self.max_iter,
                "nb_random_init": self.nb_random_init,
                "nb_targets": self.nb_targets,
                "batch_size": self.batch_size,
                "bpda": self.bpda,
                "seed": self.seed,
                "verbose": self.verbose,
            },
            caller="JointDetectorAttack",
        )
        if self.detector_logit is not None and not callable(self.detector_logit):
            raise ValueError("JointDetectorAttack: detector_logit must be a callable x -> score")
        if self.nb_targets >= self.estimator.nb_classes:
            raise ValueError(
                f"JointDetectorAttack: nb_targets must be < nb_classes ({self.estimator.nb_classes}), "
                f"got {self.nb_targets}"
            )

    def _step_fn(self, logits_fn):
        eps, steps, linf = float(self.eps), int(self.max_iter), self.norm in ("inf", np.inf)
        lo, hi = self.estimator.clip_values if self.estimator.clip_values is not None else (-np.inf, np.inf)
        score_fn = self._score
        axes = list(range(1, 1 + len(self.estimator.input_shape)))

        def project(delta):
            if linf:
                return tf.clip_by_value(delta, -eps, eps)
            norms = tf.sqrt(tf.reduce_sum(tf.square(delta), axis=axes, keepdims=True)) + 1e-12
            return delta * tf.minimum(1.0, eps / norms)

        shape = (None, *self.estimator.input_shape)
        signature = [
            tf.TensorSpec(shape, tf.float32),
            tf.TensorSpec((None,), tf.int64),
            tf.TensorSpec((None,), tf.int64),
            tf.TensorSpec(shape, tf.float32),
        ]

        @tf.function(input_signature=signature)  # one trace for every batch size
        def attack(x0, y, target, start):
            x_adv = tf.clip_by_value(x0 + project(start), lo, hi)
            best = x0
            done = tf.zeros(tf.shape(x0)[0], tf.bool)
            for i in tf.range(steps):
                size = eps / 100 + (eps / 2 - eps / 100) * 0.5 * (1 + tf.cos(np.pi * tf.cast(i, tf.float32) / steps))
                with tf.GradientTape() as tape:
                    tape.watch(x_adv)
                    logits = logits_fn(x_adv)
                    score = score_fn(x_adv)
                    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(target, logits) + tf.nn.softplus(score)
                success = tf.logical_and(tf.argmax(logits, axis=1, output_type=tf.int64) != y, score <= 0)
                new = tf.logical_and(success, tf.logical_not(done))
                best = tf.where(tf.reshape(new, [-1] + [1] * (len(x0.shape) - 1)), x_adv, best)
                done = tf.logical_or(done, success)
                grad = tape.gradient(loss, x_adv)
                grad = tf.where(tf.math.is_finite(grad), grad, tf.zeros_like(grad))
                if linf:
                    direction = tf.sign(grad)
                else:
                    direction = grad / (tf.sqrt(tf.reduce_sum(tf.square(grad), axis=axes, keepdims=True)) + 1e-12)
                x_adv = tf.clip_by_value(x0 + project(x_adv - size * direction - x0), lo, hi)
            logits, score = logits_fn(x_adv), score_fn(x_adv)
            success = tf.logical_and(tf.argmax(logits, axis=1, output_type=tf.int64) != y, score <= 0)
            new = tf.logical_and(success, tf.logical_not(done))
            best = tf.where(tf.reshape(new, [-1] + [1] * (len(x0.shape) - 1)), x_adv, best)
            return best, tf.logical_or(done, success)

        return attack

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """Attack ``x``; return adversarial inputs (unchanged where the attack failed).

        :param x: Inputs within the classifier's clip values.
        :param y: True labels (indices or one-hot); default the classifier's predictions.
        :return: The adversarial inputs.
        """
        from art_ext.estimators.two_n_view import outputs_logits
        from art_ext.evaluation._views import attack_view, tf_logits
        from art_ext.utils import check_inputs, check_labels

        clf = self.estimator
        x = check_inputs(x, "x", clf.clip_values, tuple(clf.input_shape))
        labels = (
            clf.predict(x, batch_size=self.batch_size).argmax(1)
            if y is None
            else check_labels(y, len(x), clf.nb_classes)
        )
        view = attack_view(clf, probabilities=not outputs_logits(clf), bpda=self.bpda)
        logits_fn = tf_logits(view)
        attack = self._step_fn(logits_fn)
        rng = np.random.default_rng(self.seed)
        x_adv = x.copy()
        broken = np.zeros(len(x), bool)
        clean_logits = view.predict(x, batch_size=self.batch_size)
        clean_logits[np.arange(len(x)), labels] = -np.inf
        targets = np.argsort(-clean_logits, axis=1)[:, : self.nb_targets]
        runs = [(k, r) for k in range(self.nb_targets) for r in range(self.nb_random_init)]
        for k, _ in tqdm(runs, desc="JointDetectorAttack", disable=not self.verbose):
            todo = np.flatnonzero(~broken)
            for s in range(0, len(todo), self.batch_size):
                idx = todo[s : s + self.batch_size]
                if self.norm in ("inf", np.inf):
                    start = rng.uniform(-self.eps, self.eps, x[idx].shape)
                else:
                    start = rng.normal(size=x[idx].shape)
                    start *= (
                        self.eps
                        * rng.uniform()
                        / np.linalg.norm(start.reshape(len(idx), -1), axis=1).reshape((-1,) + (1,) * (x.ndim - 1))
                    )
                best, done = attack(
                    tf.constant(x[idx]),
                    tf.constant(labels[idx], tf.int64),
                    tf.constant(targets[idx, k], tf.int64),
                    tf.constant(start, tf.float32),
                )
                done = done.numpy()
                x_adv[idx[done]] = best.numpy()[done]
                broken[idx[done]] = True
        return x_adv
