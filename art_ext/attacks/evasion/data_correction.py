"""Ensemble data correction of Kwon, Yoon & Choi (2021): modify an input slightly so that several known
(local) classifiers recognise its TRUE class, so that an unknown classifier recognises it too.

It is a targeted Carlini & Wagner L2 attack with the true label as target, run jointly against an
ensemble: the C&W change of variables keeps the input in its box, Adam minimises the squared L2
distortion plus a weighted sum of the local models' C&W margin losses, and a per-sample binary search
tunes the trade-off constant.

| Paper link: https://doi.org/10.3837/tiis.2021.09.009
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf
from art.attacks.attack import EvasionAttack
from art.estimators.classification import EnsembleClassifier, TensorFlowV2Classifier
from art.estimators.classification.classifier import ClassGradientsMixin
from art.estimators.estimator import BaseEstimator
from tqdm.auto import tqdm

from art_ext.distribute import STRATEGY, check_built_in_scope, resolve_strategy
from art_ext.estimators.classification import classifier_logits
from art_ext.metrics import distortion_norms
from art_ext.params import (
    BOOL,
    NON_NEGATIVE_INT,
    NON_NEGATIVE_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    ArrayLike,
    Options,
    ValidatedParams,
)
from art_ext.utils import batches, check_inputs, check_labels, from_tanh_space, to_tanh_space

logger = logging.getLogger(__name__)

#: The paper's MNIST settings (Sec. 4.3): Adam lr 0.1, 400 iterations, initial constant 0.01, margin 0.
PAPER_MNIST = {"confidence": 0.0, "learning_rate": 0.1, "max_iter": 400, "initial_const": 0.01}
#: The paper's CIFAR-10 settings (Sec. 4.3): Adam lr 0.01, 6000 iterations, initial constant 0.01, margin 0.
PAPER_CIFAR10 = {"confidence": 0.0, "learning_rate": 0.01, "max_iter": 6000, "initial_const": 0.01}
#: Smallest batch of the cheap check "does this input already meet the margin?" (one forward pass, no gradients, so
#: it can take larger batches than the optimisation's ``batch_size``).
_CHECK_BATCH = 256
#: Floor of the logit spread a margin is divided by (``confidence_units="spread"``): constant logits have none.
_MIN_SPREAD = 1e-6
#: Subtracted from the true class's logit so that ``max`` over the logits picks the best OTHER class.
_MASK_LOGIT = 1e9


class EnsembleDataCorrection(ValidatedParams, EvasionAttack):
    """
    Ensemble data correction (Kwon, Yoon & Choi, 2021): the smallest L2 change of an input that makes
    every local classifier predict its true class with a margin, so that the change transfers to an
    unknown (black-box) classifier and corrects its prediction too.

    Algorithm 1 of the paper, batched over samples and models: with ``x_c = tanh-box(w)`` (C&W change of
    variables) and the true class ``y``, Adam minimises per sample

    ``||(x_c - x) / (max - min)||_2^2 + c * sum_i weights_i * max(-m_i(x_c), -confidence)``

    where ``(min, max)`` are the ``clip_values`` and ``m_i`` is how clearly local model ``i`` predicts ``y``:
    with ``confidence_units="spread"`` (default) its logit margin ``Z_y - max_{j != y} Z_j`` divided by the
    standard deviation of its logits ``std_k Z_k`` at the same input, with ``"logit"`` the margin itself (the
    paper's and C&W's form). A sample stops as soon as every local model has ``m_i >= confidence`` (and
    predicts ``y``); a per-sample binary search over ``c`` (C&W style, starting at ``initial_const``, x10 while
    it fails) keeps the least-distorted success. Inputs that already meet the margin on every local model are
    returned bitwise unchanged; inputs that cannot be corrected are returned unchanged too (``success_`` tells
    them apart). All local models and the whole batch run in one fused ``tf.function``; with a ``strategy``
    the batch is split across its replicas.

    The same settings mean the same thing for every model and input scale:

    * the distortion is measured in units of the box, so inputs in (0, 1) and in (0, 255) get the same
      corrections with the same ``initial_const`` (the tanh change of variables, in which ``learning_rate``
      acts, is already relative to the box);
    * ``Z_i`` are logits, or log-probabilities for a model that outputs probabilities (they differ by one
      constant per input, so margins and the argmax are the same), with the classifier's ART
      ``preprocessing`` and ``preprocessing_defences`` applied as ART's ``predict`` applies them;
    * a margin in standard deviations of the model's own logits does not change when a model's logits are
      larger or smaller (temperature, training length, architecture), which a margin in logits does: 5 logits
      is a small margin for a model whose logits spread widely and a large one for a model with small logits.

    Readings where the paper is vague: ``Z_i`` are logits (the paper calls them probabilities but cites C&W,
    whose ``Z`` are logits); the paper's margin is 0 and its "initial value 0.01" is the initial constant
    of C&W's search, while the per-model weights ``c_i`` start at 1 (``weights``).

    Defaults are chosen for what the method is for, transfer to an UNKNOWN classifier, by measurement on
    models of other families than the ones reported on (``benchmarks/defaults_edc.py``; numbers on the
    "Defaults on unseen models" results page): ``confidence=1`` logit standard deviation, because the paper's
    margin 0 leaves the corrected inputs on the local decision boundaries and barely helps an unknown model;
    ``initial_const=1`` with 3 search steps, because at the paper's 0.01 the first searches mostly fail and run
    all their iterations. ``learning_rate=0.1`` and ``max_iter=400`` are the paper's MNIST settings; all of the
    paper's settings are in
    :data:`~art_ext.attacks.evasion.data_correction.PAPER_MNIST` and
    :data:`~art_ext.attacks.evasion.data_correction.PAPER_CIFAR10` (margin 0 is the same in both units).

    After :meth:`generate`: ``success_`` (every local model meets the margin), ``changed_`` (the input was
    modified), ``l0_``, ``l2_``, ``linf_`` (distortion per sample), ``iterations_`` (Adam steps used, summed
    over the search) and ``generating_count_`` (inputs that needed correcting, the paper's "generating
    count").

    | Paper link: https://doi.org/10.3837/tiis.2021.09.009
    """

    attack_params = EvasionAttack.attack_params + [
        "weights",
        "confidence",
        "learning_rate",
        "max_iter",
        "binary_search_steps",
        "initial_const",
        "confidence_units",
        "refine_steps",
        "batch_size",
        "strategy",
        "verbose",
    ]
    _estimator_requirements = (BaseEstimator, ClassGradientsMixin)
    _parameter_constraints = {
        "weights": [ArrayLike(ndim=1)],
        "confidence": [NON_NEGATIVE_REAL],
        "learning_rate": [POSITIVE_REAL],
        "max_iter": [POSITIVE_INT],
        "binary_search_steps": [POSITIVE_INT],
        "initial_const": [POSITIVE_REAL],
        "confidence_units": [Options(["spread", "logit"])],
        "refine_steps": [NON_NEGATIVE_INT],
        "batch_size": [POSITIVE_INT],
        "strategy": [None, STRATEGY],
        "verbose": [BOOL],
    }

    def __init__(
        self,
        estimators: list[TensorFlowV2Classifier] | EnsembleClassifier,
        weights: list[float] | np.ndarray | None = None,
        confidence: float = 1.0,
        learning_rate: float = 0.1,
        max_iter: int = 400,
        binary_search_steps: int = 3,
        initial_const: float = 1.0,
        confidence_units: str = "spread",
        refine_steps: int = 0,
        batch_size: int = 128,
        strategy: tf.distribute.Strategy | None = None,
        verbose: bool = True,
    ) -> None:
        """
        Create an :class:`EnsembleDataCorrection` instance.

        :param estimators: The local models: a list of ART ``TensorFlowV2Classifier`` (or an ART
               ``EnsembleClassifier`` of them), all with the same ``input_shape``, ``nb_classes`` and
               ``clip_values``, outputting logits or probabilities. Their preprocessing (if any) must be
               TensorFlow-native.
        :param weights: Per-model loss weights ``c_i`` (non-negative, not all zero); default 1 each, or an
               ``EnsembleClassifier``'s own weights rescaled to sum to the number of models.
        :param confidence: Required margin ``Z_y - max_{j != y} Z_j`` on every local model (the ``kappa`` of the
               hinge), in the units ``confidence_units`` says. The paper uses 0; the default transfers better to
               unknown models (class docstring).
        :param learning_rate: Adam learning rate in tanh space (paper: 0.1 MNIST, 0.01 CIFAR-10).
        :param max_iter: Adam iterations per binary-search step (paper: 400 MNIST, 6000 CIFAR-10).
        :param binary_search_steps: Searches over the constant ``c``, per sample; 1 means a single run at
               ``initial_const``.
        :param initial_const: Initial constant ``c`` (paper: 0.01; the class docstring says why the default is 1).
               The distortion it weighs is measured in units of ``clip_values``, so it does not depend on the
               input scale.
        :param confidence_units: ``"spread"``: ``confidence`` counts standard deviations of each model's logits
               at the corrected input (the same for every model; it must stay below ``K / sqrt(K - 1)``, 3.33 for
               10 classes, which no logits reach); ``"logit"``: it counts logits (log-probability ratios), as in
               the paper and C&W.
        :param refine_steps: Adam steps a sample keeps running after it first meets the margin (at most
               ``max_iter`` in all), keeping its least-distorted iterate that still meets the margin: once the hinge
               is satisfied only the distortion term pulls, so the correction shrinks back towards the margin, as
               C&W's (and the paper's) run over all iterations does. 0 (default) stops each sample at its first
               success, which is fastest and, at Adam's first large steps, overshoots the smallest correction.
        :param batch_size: Inputs corrected together in one batch.
        :param strategy: A ``tf.distribute.Strategy`` whose replicas each correct a contiguous share of every
               batch (results gathered in order); ``None`` runs on one device. The local models must have been
               built inside ``strategy.scope()``.
        :param verbose: Show a progress bar.
        :raises ValueError: If the estimators or the parameters are invalid.
        """
        members, ensemble_weights, ensemble = self._unpack(estimators)
        super().__init__(estimator=ensemble)
        self.estimators = members
        self.weights = ensemble_weights if weights is None else weights
        self.confidence = confidence
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.binary_search_steps = binary_search_steps
        self.initial_const = initial_const
        self.confidence_units = confidence_units
        self.refine_steps = refine_steps
        self.batch_size = batch_size
        self.strategy = strategy
        self.verbose = verbose
        self._check_params()
        self._optimise = None  # the fused tf.function, built on first use

    # ------------------------------------------------------------------ setup and validation

    @staticmethod
    def _unpack(estimators) -> tuple[list[TensorFlowV2Classifier], np.ndarray, EnsembleClassifier]:
        """Validate the local models; return them, their default weights and an ART ensemble of them."""
        if isinstance(estimators, EnsembleClassifier):
            members = list(estimators.classifiers)
            weights = np.asarray(estimators._classifier_weights, dtype=np.float64)  # pylint: disable=W0212
            weights = weights * len(members) / weights.sum() if weights.sum() > 0 else weights
        elif isinstance(estimators, (list, tuple)):
            members = list(estimators)
            weights = np.ones(len(members))
        else:
            raise ValueError(
                "estimators must be a list of TensorFlowV2Classifier or an ART EnsembleClassifier, "
                f"got {type(estimators).__name__}"
            )
        if not members:
            raise ValueError("estimators must hold at least one classifier")
        for i, est in enumerate(members):
            if not isinstance(est, TensorFlowV2Classifier):
                raise ValueError(f"estimators[{i}] must be an ART TensorFlowV2Classifier, got {type(est).__name__}")
            if est.clip_values is None:
                raise ValueError(f"estimators[{i}] has no clip_values; the tanh box needs (min, max)")
            if not est.all_framework_preprocessing:
                raise ValueError(f"estimators[{i}] has non-TensorFlow preprocessing; it must be differentiable in TF")
        first = members[0]
        for i, est in enumerate(members[1:], start=1):
            if tuple(est.input_shape) != tuple(first.input_shape):
                raise ValueError(
                    f"estimators[{i}] has input_shape {tuple(est.input_shape)}, "
                    f"estimators[0] has {tuple(first.input_shape)}"
                )
            if est.nb_classes != first.nb_classes:
                raise ValueError(f"estimators[{i}] has {est.nb_classes} classes, estimators[0] has {first.nb_classes}")
            if not np.array_equal(np.asarray(est.clip_values), np.asarray(first.clip_values)):
                raise ValueError(
                    f"estimators[{i}] has clip_values {tuple(np.asarray(est.clip_values).tolist())}, "
                    f"estimators[0] has {tuple(np.asarray(first.clip_values).tolist())}"
                )
        clip = np.asarray(first.clip_values, dtype=np.float64)
        if clip.ndim != 1:
            raise ValueError("clip_values must be scalars (min, max); per-feature bounds are not supported")
        ensemble = (
            estimators
            if isinstance(estimators, EnsembleClassifier)
            else EnsembleClassifier(classifiers=members, clip_values=(float(clip[0]), float(clip[1])))
        )
        return members, weights, ensemble

    def _check_param_relations(self) -> None:
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.shape != (len(self.estimators),):
            raise ValueError(
                f"EnsembleDataCorrection: weights must hold one value per estimator "
                f"({len(self.estimators)}), got {self.weights!r}"
            )
        if np.any(weights < 0) or not np.any(weights > 0):
            raise ValueError(
                f"EnsembleDataCorrection: weights must be non-negative and not all zero, got {self.weights!r}"
            )
        if self.confidence_units == "spread":
            # margin / std of K logits is largest with one logit above K - 1 equal ones: K / sqrt(K - 1), approached
            # only as that logit goes to infinity, so a margin at or above it can never be met
            k = int(self.estimators[0].nb_classes)
            bound = k / np.sqrt(k - 1) if k > 1 else 0.0
            if self.confidence >= bound:
                raise ValueError(
                    f"EnsembleDataCorrection: confidence={self.confidence!r} spreads can never be met with {k} "
                    f"classes: a logit margin divided by the standard deviation of the {k} logits stays below "
                    f"{k} / sqrt({k} - 1) = {bound:.3g}; use a smaller confidence or confidence_units='logit'"
                )
        for i, est in enumerate(self.estimators):
            check_built_in_scope(self.strategy, est.model.variables, "EnsembleDataCorrection", f"estimators[{i}].model")

    def _params_changed(self, changed: set[str]) -> None:
        # the compiled graph bakes in weights, learning_rate, max_iter and the strategy: rebuild it on next use
        self._optimise = None

    # ------------------------------------------------------------------ the fused TF graph

    def _scores(self, forwards, x: tf.Tensor, y_onehot: tf.Tensor) -> tf.Tensor:
        """How clearly each local model predicts ``y``, shape ``(n_models, n)``: the margin
        ``Z_y - max_{j != y} Z_j``, divided by the spread ``std_k Z_k`` of the same logits for
        ``confidence_units="spread"``.

        ``Z`` are logits, or log-probabilities for a model that outputs probabilities: they differ by a constant
        per sample, so margins and spreads are the same for both. The spread is held constant in the gradient
        (the hinge then pushes the margin, as in C&W, with a per-model, per-sample step size).
        """
        z = tf.stack([tf.cast(forward(x), tf.float32) for forward in forwards], axis=0)
        z_true = tf.reduce_sum(z * y_onehot, axis=-1)
        z_other = tf.reduce_max(z - _MASK_LOGIT * y_onehot, axis=-1)
        margins = z_true - z_other
        if self.confidence_units == "spread":
            spread = tf.stop_gradient(tf.math.reduce_std(z, axis=-1))
            margins = margins / tf.maximum(spread, _MIN_SPREAD)
        return margins

    def _met(self, scores: tf.Tensor) -> tf.Tensor:
        """Per sample: every local model predicts ``y`` with at least the margin ``confidence``."""
        return tf.reduce_all((scores >= float(self.confidence)) & (scores > 0.0), axis=0)

    def _build(self):
        """Build the fused optimisation: Adam on ``w`` for a whole batch and every local model."""
        forwards = [classifier_logits(est) for est in self.estimators]
        clip_min, clip_max = (float(v) for v in np.asarray(self.estimators[0].clip_values))
        scale = clip_max - clip_min
        weights = tf.constant(np.asarray(self.weights, dtype=np.float32)[:, None])
        lr, beta1, beta2, eps = float(self.learning_rate), 0.9, 0.999, 1e-8
        max_iter = int(self.max_iter)
        # One trace for every batch size (the last batch is usually smaller).
        x_spec = tf.TensorSpec([None, *self.estimators[0].input_shape], tf.float32)
        y_spec = tf.TensorSpec([None, self.estimators[0].nb_classes], tf.float32)
        per_sample = tf.TensorSpec([None], tf.float32)
        kappa = float(self.confidence)
        refine = int(self.refine_steps)
        not_yet = tf.constant(np.iinfo(np.int32).max)  # steps left of a sample that has not met the margin yet

        @tf.function(input_signature=[x_spec, y_spec, per_sample])
        def optimise(x, y_onehot, const):
            """Run up to ``max_iter`` Adam steps from ``w = 0``; each sample stops ``refine_steps`` steps after its
            first success, its least-distorted success kept.

            Samples that stop leave the batch (their state is dropped, their result written out), so the
            remaining steps cost only what the samples still running need.
            """
            n = tf.shape(x)[0]
            w0 = to_tanh_space(x, clip_min, clip_max)
            base = from_tanh_space(w0, clip_min, clip_max)
            axes = list(range(1, len(x.shape)))

            def corrected(x, w0, base, dw):
                # x + (box(w0 + dw) - box(w0)): exactly x at dw = 0, in the box up to rounding
                return tf.clip_by_value(x + from_tanh_space(w0 + dw, clip_min, clip_max) - base, clip_min, clip_max)

            def l2_squared(x_c, xa):
                # distortion in units of the box (clip_values): the same trade-off at any input scale
                return tf.reduce_sum(tf.square((x_c - xa) / scale), axis=axes)

            def record(ids, hit, x_c, l2sq, found, x_found, best):
                """Write out the successes ``hit`` that are less distorted than the sample's best so far."""
                better = hit & (l2sq < tf.gather(best, ids))
                rows = tf.expand_dims(tf.boolean_mask(ids, better), 1)
                x_found = tf.tensor_scatter_nd_update(x_found, rows, tf.boolean_mask(x_c, better))
                found = tf.tensor_scatter_nd_update(found, rows, tf.ones(tf.shape(rows)[:1], tf.bool))
                best = tf.tensor_scatter_nd_update(best, rows, tf.boolean_mask(l2sq, better))
                return found, x_found, best

            def step(i, active, found, x_found, best, iters):
                ids, xa, ya, ca, w0a, basea, dw, m, v, left = active
                with tf.GradientTape() as tape:
                    tape.watch(dw)
                    x_c = corrected(xa, w0a, basea, dw)
                    scores = self._scores(forwards, x_c, ya)
                    l2sq = l2_squared(x_c, xa)
                    hinge = tf.reduce_sum(weights * tf.maximum(-scores, -kappa), axis=0)
                    loss = tf.reduce_sum(l2sq + ca * hinge)
                # record successes (evaluated before this step's update); a sample's first success starts its
                # countdown of refine_steps, and it leaves the batch when that reaches 0
                hit = self._met(scores)
                found, x_found, best = record(ids, hit, x_c, l2sq, found, x_found, best)
                left = tf.where(hit, tf.minimum(left, refine), left)
                grad = tape.gradient(loss, dw)
                t = tf.cast(i + 1, tf.float32)
                m = beta1 * m + (1.0 - beta1) * grad
                v = beta2 * v + (1.0 - beta2) * tf.square(grad)
                dw = dw - lr * (m / (1.0 - beta1**t)) / (tf.sqrt(v / (1.0 - beta2**t)) + eps)
                left = tf.where(left == not_yet, left, left - 1)
                keep = left >= 0
                rows = tf.expand_dims(tf.boolean_mask(ids, keep), 1)
                iters = tf.tensor_scatter_nd_add(iters, rows, tf.ones(tf.shape(rows)[:1], tf.int32))
                active = tuple(tf.boolean_mask(t, keep) for t in (ids, xa, ya, ca, w0a, basea, dw, m, v, left))
                return i + 1, active, found, x_found, best, iters

            def not_finished(i, active, *_):
                return (i < max_iter) & (tf.size(active[0]) > 0)

            zeros = tf.zeros_like(x)
            countdown = tf.fill([n], not_yet)
            active = (tf.range(n), x, y_onehot, const, w0, base, zeros, zeros, zeros, countdown)
            inf = tf.fill([n], np.float32(np.inf))
            init = (tf.constant(0), active, tf.zeros([n], tf.bool), x, inf, tf.zeros([n], tf.int32))
            _, active, found, x_found, best, iters = tf.while_loop(not_finished, step, init)
            ids, xa, ya, _, w0a, basea, dw, _, _, _ = active

            def check_last():
                x_last = corrected(xa, w0a, basea, dw)
                met = self._met(self._scores(forwards, x_last, ya))
                return record(ids, met, x_last, l2_squared(x_last, xa), found, x_found, best)[:2]

            # the last update is checked too (not on an empty batch: TF's fused conv kernels reject those)
            found, x_found = tf.cond(tf.size(ids) > 0, check_last, lambda: (found, x_found))
            return found, x_found, iters

        @tf.function(input_signature=[x_spec, y_spec])
        def met(x, y_onehot):
            return self._met(self._scores(forwards, x, y_onehot))

        strategy = resolve_strategy(self.strategy)
        if strategy.num_replicas_in_sync == 1:
            return optimise, met

        def replica_fn(*shard):
            found, x_found, iters = optimise(*shard)
            return tf.cast(found, tf.int32), x_found, iters  # collectives do not gather booleans

        @tf.function
        def sharded(args):
            # replica_fn is a plain callable: strategy.run would call a tf.function in cross-replica context
            return strategy.run(replica_fn, args=args)

        def optimise_sharded(*arrays):
            """``optimise`` on contiguous shards of the batch, one per replica, results gathered in order."""
            n_replicas = strategy.num_replicas_in_sync
            bounds = np.linspace(0, len(arrays[0]), n_replicas + 1).astype(int)

            def shard(context):
                lo, hi = bounds[context.replica_id_in_sync_group], bounds[context.replica_id_in_sync_group + 1]
                return tuple(tf.constant(a[lo:hi]) for a in arrays)

            shards = strategy.experimental_distribute_values_from_function(shard)
            found, x_found, iters = (strategy.gather(r, axis=0) for r in sharded(shards))
            return tf.cast(found, tf.bool), x_found, iters

        return optimise_sharded, met

    # ------------------------------------------------------------------ public API

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """
        Correct the inputs ``x`` towards their true labels ``y``.

        :param x: Inputs, shape ``(n, *input_shape)``, values within the estimators' ``clip_values``.
        :param y: True labels (REQUIRED), class indices ``(n,)`` or one-hot ``(n, nb_classes)``.
        :param kwargs: None are accepted (a misspelt argument is an error, not silently ignored).
        :return: Corrected inputs (a new array; unchanged where no correction was needed or none was found).
        :raises ValueError: If ``y`` is missing, ``x``/``y`` are malformed (shape, NaN/inf, range), or on an unknown
                 keyword argument.
        """
        if kwargs:
            raise ValueError(f"EnsembleDataCorrection.generate: unexpected argument(s) {sorted(kwargs)}")
        first = self.estimators[0]
        clip = tuple(float(v) for v in np.asarray(first.clip_values))
        if y is None:
            raise ValueError("y (the true labels) is required: data correction moves inputs towards their true class")
        x = check_inputs(x, "x", clip_values=clip, input_shape=tuple(first.input_shape))
        labels = check_labels(y, len(x), first.nb_classes)
        if self._optimise is None:
            self._optimise, self._met_fn = self._build()

        n, n_classes = len(x), first.nb_classes
        onehot = np.eye(n_classes, dtype=np.float32)[labels]
        x_out = x.copy()
        needs = np.zeros(n, dtype=bool)
        for s in batches(n, max(self.batch_size, _CHECK_BATCH)):
            needs[s] = ~self._met_fn(x[s], onehot[s]).numpy()
        success = ~needs
        iterations = np.zeros(n, dtype=np.int64)
        todo = np.flatnonzero(needs)

        bar = tqdm(total=len(todo), desc="EnsembleDataCorrection", disable=not self.verbose)
        for s in batches(len(todo), self.batch_size):
            idx = todo[s]
            found, best, its = self._search(x[idx], onehot[idx])
            x_out[idx[found]] = best[found]
            success[idx] = found
            iterations[idx] = its
            bar.update(len(idx))
        bar.close()

        norms = distortion_norms(x, x_out)
        self.success_ = success
        self.changed_ = needs & success
        self.l0_, self.l2_, self.linf_ = norms["l0"], norms["l2"], norms["linf"]
        self.iterations_ = iterations
        self.generating_count_ = int(needs.sum())
        logger.info(
            "Corrected %d of %d inputs that needed it (%d inputs)", int(self.changed_.sum()), self.generating_count_, n
        )
        return x_out

    def _search(self, x: np.ndarray, onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-sample binary search over the constant; return success, best inputs, Adam steps used."""
        n = len(x)
        const = np.full(n, float(self.initial_const), dtype=np.float32)
        lower, upper = np.zeros(n, np.float32), np.full(n, np.inf, np.float32)
        best = x.copy()
        best_l2 = np.full(n, np.inf)
        iterations = np.zeros(n, dtype=np.int64)
        for _ in range(self.binary_search_steps):
            found, x_c, its = (np.asarray(t) for t in self._optimise(x, onehot, const))
            iterations += its
            l2 = np.sqrt(np.sum(np.square(x_c.astype(np.float64) - x), axis=tuple(range(1, x.ndim))))
            better = found & (l2 < best_l2)
            best[better], best_l2[better] = x_c[better], l2[better]
            # success: try a smaller constant; failure: a larger one (x10 until an upper bound is known)
            upper = np.where(found, np.minimum(upper, const), upper)
            lower = np.where(found, lower, np.maximum(lower, const))
            const = np.where(np.isfinite(upper), (lower + upper) / 2.0, const * 10.0).astype(np.float32)
        return np.isfinite(best_l2), best, iterations
