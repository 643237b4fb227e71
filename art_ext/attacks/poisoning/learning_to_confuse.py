"""Learning to Confuse (DeepConfuse): a noise generator trained to hijack a victim's training.

| Paper link: https://papers.nips.cc/paper/9368-learning-to-confuse-generating-training-time-adversarial-data-with-auto-encoder
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from art.attacks.attack import PoisoningAttackBlackBox
from art.estimators.classification import TensorFlowV2Classifier
from tqdm.auto import trange

from art_ext.distribute import (
    STRATEGY,
    check_built_in_scope,
    distributed_step,
    is_distributed,
    per_replica_mean,
    resolve_strategy,
)
from art_ext.estimators.classification import classifier_logits
from art_ext.params import (
    BOOL,
    NON_NEGATIVE_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    SEED,
    ClipValues,
    Interval,
    Options,
    ValidatedParams,
    seeded,
    validate_params,
)
from art_ext.params import Callable as CallableConstraint
from art_ext.persistence import atomic_write, load_keras, save_keras
from art_ext.utils import batches, check_inputs, check_labels, jsonable

logger = logging.getLogger(__name__)

#: Readings of the generator's clean loss: on the poisoned batch itself (authors' code) or an independent batch.
_CLEAN_BATCHES = ("same", "independent")
#: Batch of the fresh victims' validation predictions in :meth:`LearningToConfuse.fit` (inference only).
_EVAL_BATCH = 1000
#: Default batch of the generator in :meth:`LearningToConfuse.poison` / ``perturb`` / ``noise`` (inference only).
_GENERATOR_BATCH = 256
#: The default schedule (``schedule="staged"``): stages of (share of the rounds, clean batch, factor of
#: ``generator_learning_rate``). The authors' procedure warms the generator up (the poisoned batch's own clean loss
#: gives the per-digit signal that starts it), then the clean loss on an independent batch refines it, first at the
#: full learning rate and then at 0.3 of it. The shares are those of the 330-round MNIST chain that met the goal
#: (60 + 40 + 230 rounds; :doc:`/results/learning_to_confuse`).
STAGED_SCHEDULE = ((0.18, "same", 1.0), (0.12, "independent", 1.0), (0.70, "independent", 0.3))
#: Named schedules; ``"constant"`` is one stage with ``clean_batch`` at ``generator_learning_rate``.
_SCHEDULES = ("staged", "constant")
#: Default number of rounds of :meth:`LearningToConfuse.fit`.
DEFAULT_ROUNDS = 160
#: Default share of ``x`` that :meth:`LearningToConfuse.fit` holds out to score each round's fresh victim
#: (``keep_best``) when no ``x_val`` is given.
DEFAULT_VALIDATION_SPLIT = 0.05
#: Inputs sampled to fingerprint the training set of a checkpoint (a resumed fit must see the same data).
_FINGERPRINT_SAMPLES = 256
#: The parameters saved with a fitted generator (the others -- surrogate object, target_fn, generator -- are not
#: serialisable; pass them to :meth:`LearningToConfuse.load`).
_SAVED_PARAMS = (
    "eps",
    "nb_classes",
    "clip_values",
    "victim_learning_rate",
    "generator_learning_rate",
    "unroll_steps",
    "victim_epochs",
    "clean_batch",
    "schedule",
    "keep_best",
    "seed",
    "verbose",
)


def _per_example_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def _shard(strategy: tf.distribute.Strategy, *arrays: np.ndarray) -> tuple:
    """NumPy batches as tensors; under a distributed strategy, each split into the replicas' equal shares."""
    if not is_distributed(strategy):
        return tuple(tf.constant(a) for a in arrays)
    replicas = strategy.num_replicas_in_sync

    def share(array):
        def value_fn(context):
            i, n = context.replica_id_in_sync_group, len(array)
            return tf.constant(array[i * n // replicas : (i + 1) * n // replicas])

        return strategy.experimental_distribute_values_from_function(value_fn)

    return tuple(share(a) for a in arrays)


class LearningToConfuse(ValidatedParams, PoisoningAttackBlackBox):
    """
    Learning to Confuse (DeepConfuse) by Feng, Cai and Zhou (NeurIPS 2019): an auto-encoder ``g`` learns
    bounded noise ``eps * g(x)`` such that a classifier trained on ``clip(x + eps * g(x))`` (labels kept)
    fails on clean data. ``g`` is trained by hijacking the training trajectory of an *imaginary victim*
    (the ``surrogate`` architecture); the real victim is never queried (black-box), as with ART's
    clean-label backdoor that takes a proxy model.

    Training (:meth:`fit`) follows the authors' alternating procedure. For each batch:

    1. generator step: the imaginary victim ``theta`` takes ``unroll_steps`` differentiable SGD steps on
       the batch poisoned by the generator being trained, ``theta' = theta - lr * grad CE(f_theta(x + eps
       g(x)), y)`` (second order, nested ``GradientTape``, a functional forward with explicit weights);
       the generator then takes an Adam step of gradient *ascent* on the clean loss ``CE(f_theta'(x_c), y_c)``
       (descent on ``CE(f_theta'(x_c), target_fn(y_c))`` in the label-specific variant), where ``(x_c, y_c)`` is
       the same batch (``clean_batch="same"``, the authors' code) or an independently drawn one
       (``clean_batch="independent"``);
    2. victim step: ``theta`` takes a plain SGD step on the batch poisoned by the *frozen* generator.

    After ``victim_epochs`` passes (one round) the frozen generator is refreshed with the trained one
    and the imaginary victim restarts from a fresh initialisation, so every round's victim is a fresh
    model trained on the previous round's poison: its accuracy on ``x_val`` (if given to :meth:`fit`)
    is the per-round fresh-victim accuracy, recorded in ``history_``. With a sequence of surrogates the
    rounds take them in turn (the imaginary victim of the ``i``-th round, counting from 0, is of
    ``surrogate[i % k]``).

    Readings of details the paper leaves open (from the authors' code): the unrolled victim runs in training
    mode (batch statistics for BN) on both the poisoned and the clean batch; the victim uses plain SGD; the clean
    loss, the paper's expectation over the clean training set, is estimated on the poisoned batch itself. An
    independent batch (``clean_batch="independent"``) is the other unbiased estimate: it rewards noise that hurts
    what the victim learns about *other* inputs (its generalisation) rather than the batch it was just shown. On
    MNIST it refines a fitted generator further but starts slower from scratch. Hence the default ``schedule``
    ("staged"): the authors' reading first, then the independent batch, then the independent batch at a lower
    learning rate, each stage continuing from the previous stage's kept generator with a fresh Adam; ``fit`` shares
    the rounds it is asked for among these stages. Measured on the :doc:`results page </results/learning_to_confuse>`.

    | Paper link: https://papers.nips.cc/paper/9368-learning-to-confuse-generating-training-time-adversarial-data-with-auto-encoder
    """

    attack_params = PoisoningAttackBlackBox.attack_params + [
        "eps",
        "surrogate",
        "generator",
        "target_fn",
        "nb_classes",
        "clip_values",
        "victim_learning_rate",
        "generator_learning_rate",
        "unroll_steps",
        "victim_epochs",
        "clean_batch",
        "schedule",
        "keep_best",
        "seed",
        "verbose",
        "strategy",
    ]
    _estimator_requirements = ()
    _parameter_constraints = {
        "eps": [POSITIVE_REAL],
        "surrogate": [None, TensorFlowV2Classifier, str, CallableConstraint(), tuple, list],
        "generator": [None, keras.Model],
        "target_fn": [None, CallableConstraint()],
        "nb_classes": [None, Interval(Integral, 2, None)],
        "clip_values": [ClipValues()],
        "victim_learning_rate": [POSITIVE_REAL],
        "generator_learning_rate": [POSITIVE_REAL],
        "unroll_steps": [POSITIVE_INT],
        "victim_epochs": [POSITIVE_INT],
        "clean_batch": [Options(_CLEAN_BATCHES)],
        "schedule": [Options(_SCHEDULES), tuple, list],
        "keep_best": [BOOL],
        "seed": [None, SEED],
        "verbose": [BOOL],
        "strategy": [None, STRATEGY],
    }

    def __init__(
        self,
        eps: float = 0.3,
        surrogate: TensorFlowV2Classifier | str | Callable[..., keras.Model] | tuple | list | None = None,
        generator: keras.Model | None = None,
        target_fn: Callable[[np.ndarray], np.ndarray] | None = None,
        nb_classes: int | None = None,
        clip_values: tuple[float, float] = (0.0, 1.0),
        victim_learning_rate: float = 0.01,
        generator_learning_rate: float = 1e-3,
        unroll_steps: int = 1,
        victim_epochs: int = 1,
        clean_batch: str = "same",
        schedule: str | tuple = "staged",
        keep_best: bool = True,
        seed: int | None = None,
        verbose: bool = True,
        strategy: tf.distribute.Strategy | None = None,
    ):
        """
        Create a Learning to Confuse attack.

        :param eps: L-inf budget of the noise (paper: 0.3 on MNIST, 0.032 on CIFAR-10).
        :param surrogate: The imaginary victim's architecture: an ART ``TensorFlowV2Classifier`` (its model is
            cloned with fresh weights), a model name of :func:`art_ext.models.get_model`, or a factory
            ``(input_shape, nb_classes) -> keras.Model`` returning a freshly initialised logits model.
            Default: ``"deepconfuse_victim"``, the authors' MNIST CNN. A sequence of these is an ensemble of
            imaginary victims taken in turn, one per round (the ``i``-th round, counting from 0, trains
            ``surrogate[i % len(surrogate)]``; ``history_`` records its index as ``"surrogate"``), so the generator
            learns noise that confuses each architecture's training, not one architecture's (an extension of the
            paper, which uses one; a round costs what its surrogate's steps cost). ``keep_best`` then judges the
            generators by the first surrogate's fresh victims only, so that the scores compared come from one
            architecture.
        :param generator: A Keras model mapping inputs to noise of the same shape in ``[-1, 1]`` (``tanh``
            output; it is clipped to ``[-1, 1]`` anyway). Default: :func:`art_ext.models.generators.default_generator`
            (the authors' auto-encoder for 28x28 images, a U-Net for colour images of at least 32x32, a small conv
            auto-encoder otherwise). It is trained in place.
        :param target_fn: Label-specific variant: maps class indices to target classes (e.g.
            ``lambda y: (y + 1) % 10``); the generator then *descends* on the clean loss towards the targets.
        :param nb_classes: Number of classes; default: the surrogate classifiers', else ``max(y) + 1`` at fit.
        :param clip_values: ``(min, max)`` of valid inputs; poisoned inputs are clipped to it.
        :param victim_learning_rate: SGD learning rate of the imaginary victim, in the unrolled step and in
            its own training (authors: 0.01).
        :param generator_learning_rate: Adam learning rate of the generator; the stages of ``schedule`` scale it
            (authors: 1e-4 for 1000 epochs on a GPU; 1e-3 reaches the goal in a CPU budget of rounds).
        :param unroll_steps: Differentiable victim steps per generator step (paper: 1). More steps see further
            along the victim's trajectory at proportionally higher cost.
        :param victim_epochs: Passes of the imaginary victim per round, i.e. how long it trains along its
            trajectory before the frozen generator is refreshed and the victim restarts (authors: 1).
        :param clean_batch: Batch of the clean loss in the generator step of the ``"constant"`` schedule: ``"same"``
            as the poisoned batch (the authors' code) or ``"independent"`` (a second shuffle of the training set per
            pass).
        :param schedule: How :meth:`fit` spends its rounds. ``"staged"`` (default; ``STAGED_SCHEDULE`` in this
            module): 18% of the rounds with the authors' procedure (same batch), then 12% with an independent clean
            batch, then 70% with an independent clean batch at 0.3 times ``generator_learning_rate``; every stage
            starts a fresh Adam from the previous stage's kept generator (``keep_best``). ``"constant"``: one stage
            with ``clean_batch`` at ``generator_learning_rate`` (the authors' schedule with ``clean_batch="same"``).
            Or a sequence of stages ``(share, clean_batch, learning_rate_factor)``; the shares are normalised to the
            rounds asked for.
        :param keep_best: When :meth:`fit` scores fresh victims (on ``x_val`` or on its ``validation_split``), keep
            each stage's generator whose fresh victim had the lowest validation accuracy (highest success towards
            the targets in the label-specific variant).
        :param seed: Seed of :meth:`fit` (the imaginary victims' and the default generator's initialisation, the
            shuffling); local: the global random state is not touched.
        :param verbose: Show a progress bar.
        :param strategy: A ``tf.distribute.Strategy`` to fit under (``None``: one device). Each batch is split
            across the replicas; the imaginary victims, the generators and their optimizers are created in its
            scope; a ``generator`` you pass must have been built in ``strategy.scope()``.
        """
        super().__init__()
        self.eps = eps
        self.surrogate = surrogate
        self.generator = generator
        self.target_fn = target_fn
        self.nb_classes = nb_classes
        self.clip_values = clip_values
        self.victim_learning_rate = victim_learning_rate
        self.generator_learning_rate = generator_learning_rate
        self.unroll_steps = unroll_steps
        self.victim_epochs = victim_epochs
        self.clean_batch = clean_batch
        self.schedule = schedule
        self.keep_best = keep_best
        self.seed = seed
        self.verbose = verbose
        self.strategy = strategy
        self._check_params()
        self.generator_: keras.Model | None = None
        self.nb_classes_: int | None = None
        self.history_: list[dict] = []

    # ------------------------------------------------------------------ parameters

    def _check_param_relations(self) -> None:
        self.clip_values = tuple(float(v) for v in self.clip_values)
        span = self.clip_values[1] - self.clip_values[0]
        if not float(self.eps) <= span:
            raise ValueError(
                f"LearningToConfuse: eps must be a number in (0, {span:g}] (the clip range), got {self.eps!r}"
            )
        self.eps = float(self.eps)
        if not isinstance(self.schedule, str):
            self.schedule = self._check_schedule(self.schedule)
        if isinstance(self.surrogate, (tuple, list)):
            if not self.surrogate:
                raise ValueError("LearningToConfuse: surrogate must hold at least one surrogate when a sequence")
            self.surrogate = tuple(self.surrogate) if len(self.surrogate) > 1 else self.surrogate[0]
        surrogates = self._surrogates()
        for index, surrogate in enumerate(surrogates):
            self._check_surrogate(surrogate, "surrogate" if len(surrogates) == 1 else f"surrogate[{index}]")
        classes = {
            f"surrogate[{i}]" if len(surrogates) > 1 else "surrogate": int(s.nb_classes)
            for i, s in enumerate(surrogates)
            if isinstance(s, TensorFlowV2Classifier)
        }
        if self.nb_classes is not None:
            classes = {"nb_classes": int(self.nb_classes), **classes}
        if len(set(classes.values())) > 1:
            raise ValueError(f"LearningToConfuse: the numbers of classes disagree: {classes}")

    def _surrogates(self) -> tuple:
        """The imaginary victims' surrogates taken in turn, one per round (the default: the authors' CNN)."""
        if self.surrogate is None:
            return ("deepconfuse_victim",)
        return self.surrogate if isinstance(self.surrogate, tuple) else (self.surrogate,)

    @staticmethod
    def _check_surrogate(surrogate, name: str) -> None:
        """One surrogate (``name``: how the errors call it): a known model name, an ART classifier of a Keras model
        whose logits can be read, or a factory."""
        if isinstance(surrogate, str):
            from art_ext.models import list_models

            if surrogate not in list_models():
                raise ValueError(
                    f"LearningToConfuse: unknown {name} model {surrogate!r}; choose one of {list_models()}"
                )
        elif isinstance(surrogate, TensorFlowV2Classifier):
            if not isinstance(surrogate.model, keras.Model):
                raise ValueError(f"LearningToConfuse: the {name} classifier must wrap a keras.Model")
            try:
                classifier_logits(surrogate)
            except ValueError as err:
                raise ValueError(f"LearningToConfuse: {name}: {err}") from err
        elif isinstance(surrogate, keras.Model) or not callable(surrogate):
            raise ValueError(
                f"LearningToConfuse: {name} must be a model name, a TensorFlowV2Classifier (e.g. "
                f"art_ext.estimators.wrap(model)) or a factory (input_shape, nb_classes) -> keras.Model, got "
                f"{type(surrogate).__name__}"
            )

    @staticmethod
    def _check_schedule(schedule) -> tuple[tuple[float, str, float], ...]:
        """Validate a custom schedule: a non-empty sequence of ``(share, clean_batch, learning_rate_factor)``."""
        stages = []
        for stage in schedule:
            if not isinstance(stage, (tuple, list)) or len(stage) != 3:
                raise ValueError(
                    "LearningToConfuse: schedule must be 'staged', 'constant' or a sequence of stages "
                    f"(share, clean_batch, learning_rate_factor), got the stage {stage!r}"
                )
            share, clean_batch, factor = stage
            validate_params(
                {"share": [POSITIVE_REAL], "clean_batch": [Options(_CLEAN_BATCHES)], "factor": [POSITIVE_REAL]},
                {"share": share, "clean_batch": clean_batch, "factor": factor},
                "LearningToConfuse schedule stage",
            )
            stages.append((float(share), str(clean_batch), float(factor)))
        if not stages:
            raise ValueError("LearningToConfuse: schedule must hold at least one stage")
        return tuple(stages)

    def _stages(self, nb_epochs: int) -> list[tuple[int, str, float]]:
        """The schedule as ``(rounds, clean_batch, learning_rate)`` stages of ``nb_epochs`` rounds in all (stages
        that round to no rounds are dropped)."""
        if self.schedule == "staged":
            stages = STAGED_SCHEDULE
        elif self.schedule == "constant":
            stages = ((1.0, self.clean_batch, 1.0),)
        else:
            stages = self.schedule
        shares = np.cumsum([share for share, _, _ in stages]) / sum(share for share, _, _ in stages)
        ends = np.round(shares * nb_epochs).astype(int)
        starts = np.concatenate([[0], ends[:-1]])
        return [
            (int(end - start), clean_batch, self.generator_learning_rate * factor)
            for (_, clean_batch, factor), start, end in zip(stages, starts, ends)
            if end > start
        ]

    @staticmethod
    def _victim_factory(surrogate, input_shape: tuple[int, ...], nb_classes: int) -> Callable[[], keras.Model]:
        """A zero-argument factory of freshly initialised imaginary victims of ``surrogate``."""
        if isinstance(surrogate, TensorFlowV2Classifier):
            return lambda: keras.models.clone_model(surrogate.model)
        if isinstance(surrogate, str):
            from art_ext.models import get_model

            return lambda: get_model(surrogate, input_shape, nb_classes)
        return lambda: surrogate(input_shape, nb_classes)

    # ------------------------------------------------------------------ TF graphs

    @staticmethod
    def _logits_fn(surrogate) -> Callable[..., tf.Tensor]:
        """``logits(call, x, training, fit)``: the logits of an imaginary victim of ``surrogate``, where
        ``call(x, training=...)`` is its network. A surrogate ART classifier's preprocessing and output type are
        honoured (its ``preprocessing`` and ``preprocessing_defences`` applied as ART's ``fit`` / ``predict`` apply
        them, probabilities turned into log-probabilities: :func:`~art_ext.estimators.classifier_logits`)."""
        if isinstance(surrogate, TensorFlowV2Classifier):

            def logits(call, x, training, fit):
                return classifier_logits(surrogate, fit=fit, training=training, model=call)(x)

        else:

            def logits(call, x, training, fit):
                return call(x, training=training)

        return logits

    def _build_steps(
        self,
        strategy: tf.distribute.Strategy,
        victim: keras.Model,
        logits_fn: Callable[..., tf.Tensor],
        frozen: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        batch_size: int,
    ):
        """The victim step (``optimizer``: the victim's SGD), its per-replica function and the prediction of one
        imaginary victim, traced once per fit: ``(victim_step, victim_replica, predict)``."""
        eps, (lo, hi) = self.eps, self.clip_values

        def victim_replica(x, y):
            x_poison = _noisy(frozen, x, False, eps, lo, hi)
            with tf.GradientTape() as tape:
                logits = logits_fn(victim, x_poison, True, True)
                loss = per_replica_mean(_per_example_loss(y, logits), batch_size)
            optimizer.apply_gradients(zip(tape.gradient(loss, victim.trainable_variables), victim.trainable_variables))
            return loss

        @tf.function(reduce_retracing=True)
        def predict(x):
            return tf.argmax(logits_fn(victim, x, False, False), axis=1, output_type=tf.int32)

        return distributed_step(strategy, victim_replica), victim_replica, predict

    def _build_generator_step(
        self,
        strategy: tf.distribute.Strategy,
        victim: keras.Model,
        logits_fn: Callable[..., tf.Tensor],
        generator: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        batch_size: int,
        then: Callable | None = None,
    ):
        """The generator step (unrolled update of ``victim``, then an Adam step of ``optimizer``), traced once per
        stage (and imaginary victim).

        ``then(x, y)``, if given, is a per-replica step run after it on the same batch inside the same compiled
        function -- the fit passes the victim's own step, so TensorFlow overlaps the victim's independent work
        (the frozen generator's noise) with the generator step's, and the pair costs one dispatch (timed against
        two calls by ``benchmarks/learning_to_confuse.py``).

        Under a distributed strategy each replica takes its share of the batch; the unrolled update uses the
        gradient of the *global* batch (the replicas' gradients of their losses scaled to the global batch, summed
        by a differentiable all-reduce), so the look-ahead is the single-device one, and the generator's gradients
        are summed by its optimizer."""
        eps, (lo, hi) = self.eps, self.clip_values
        lr = tf.constant(self.victim_learning_rate, tf.float32)
        sign = 1.0 if self.target_fn is not None else -1.0  # descent towards targets / ascent on the true labels
        unroll = int(self.unroll_steps)

        def functional(theta, non_trainable):
            return lambda x, training: victim.stateless_call(theta, non_trainable, x, training=training)[0]

        def generator_replica(x, y, x_clean, y_clean, target):
            context = tf.distribute.get_replica_context()
            distributed = context is not None and context.num_replicas_in_sync > 1
            non_trainable = [tf.convert_to_tensor(v) for v in victim.non_trainable_variables]
            with tf.GradientTape() as outer:
                x_poison = _noisy(generator, x, True, eps, lo, hi)
                theta = [tf.convert_to_tensor(v) for v in victim.trainable_variables]
                for _ in range(unroll):
                    with tf.GradientTape() as inner:
                        inner.watch(theta)
                        logits = logits_fn(functional(theta, non_trainable), x_poison, True, True)
                        loss = per_replica_mean(_per_example_loss(y, logits), batch_size)
                    grads = inner.gradient(loss, theta)
                    if distributed:
                        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
                    theta = [w - lr * g for w, g in zip(theta, grads)]
                clean_logits = logits_fn(functional(theta, non_trainable), x_clean, True, True)
                objective = sign * per_replica_mean(_per_example_loss(target, clean_logits), batch_size)
            variables = generator.trainable_variables
            optimizer.apply_gradients(zip(outer.gradient(objective, variables), variables))
            if then is not None:  # reads of the victim above come first (automatic control dependencies)
                then(x, y)
            correct = tf.cast(tf.equal(tf.argmax(clean_logits, axis=1, output_type=tf.int32), y_clean), tf.float32)
            return per_replica_mean(correct, batch_size)

        return distributed_step(strategy, generator_replica)

    @staticmethod
    def _copy_weights(source: keras.Model, target: keras.Model) -> None:
        for t, s in zip(target.variables, source.variables):
            t.assign(s)

    # ------------------------------------------------------------------ public API

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        nb_epochs: int = DEFAULT_ROUNDS,
        batch_size: int = 64,
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        validation_split: float = DEFAULT_VALIDATION_SPLIT,
        checkpoint: str | None = None,
        **kwargs,
    ) -> LearningToConfuse:
        """
        Train the noise generator with the alternating procedure over the stages of ``schedule`` (see the class
        docstring).

        :param x: Clean training inputs, NHWC within ``clip_values``.
        :param y: Their labels (class indices or one-hot).
        :param nb_epochs: Number of rounds (each ``victim_epochs`` passes over ``x``), shared among the stages of
            ``schedule`` (authors: 1000 on GPU).
        :param batch_size: Batch size (authors: 64 on MNIST); the last incomplete batch of a pass is skipped.
        :param x_val: Optional clean validation inputs to score each round's fresh victim on.
        :param y_val: Their labels.
        :param validation_split: Without ``x_val``: the share of ``x`` held out of the generator's training to score
            the fresh victims on (for ``keep_best``); 0 turns the scoring off. The poison of :meth:`poison` covers
            every input all the same.
        :param checkpoint: Optional ``.npz`` path: the fit's state is written there (atomically) after every round
            and a fit with the same parameters and data resumes from it, so a long fit survives an interruption
            (not bit-identical to an uninterrupted fit: the victims' initialisations differ).
        :return: The fitted attack (``generator_`` and ``history_`` set).
        :raises ValueError: On bad inputs, labels, targets, batch size or checkpoint.
        """
        if kwargs:
            raise ValueError(f"unexpected arguments {sorted(kwargs)}")
        x = check_inputs(x, "x", self.clip_values)
        self._check_image_shape(x.shape)
        nb_classes = self._nb_classes(y)
        y = check_labels(y, len(x), nb_classes)
        targets = self._targets(y, nb_classes)
        validate_params(
            {
                "nb_epochs": [POSITIVE_INT],
                "batch_size": [POSITIVE_INT],
                "validation_split": [Interval(Real, 0, 1, closed="left")],
                "checkpoint": [None, str, os.PathLike],
            },
            {
                "nb_epochs": nb_epochs,
                "batch_size": batch_size,
                "validation_split": validation_split,
                "checkpoint": checkpoint,
            },
            "LearningToConfuse.fit",
        )
        if checkpoint is not None and not os.fspath(checkpoint).endswith(".npz"):
            raise ValueError(f"checkpoint must be a path ending in .npz, got {checkpoint!r}")
        if (x_val is None) != (y_val is None):
            raise ValueError("give both x_val and y_val, or neither")
        rng = np.random.default_rng(self.seed)
        if x_val is not None:
            x_val = check_inputs(x_val, "x_val", self.clip_values, input_shape=x.shape[1:])
            y_val = check_labels(y_val, len(x_val), nb_classes, "y_val")
        elif int(round(validation_split * len(x))) > 0:
            order = rng.permutation(len(x))
            held = np.sort(order[: int(round(validation_split * len(x)))])
            kept = np.sort(order[len(held) :])
            if len(kept) == 0:
                raise ValueError(f"validation_split={validation_split} leaves no training inputs")
            x_val, y_val, x, y, targets = x[held], y[held], x[kept], y[kept], targets[kept]
        with seeded(self.seed):  # every network built in fit (victims, default generator) draws from the seed
            return self._fit(
                x,
                y,
                targets,
                nb_classes,
                int(nb_epochs),
                min(int(batch_size), len(x)),
                x_val,
                y_val,
                rng,
                None if checkpoint is None else os.fspath(checkpoint),
            )

    def _fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        targets: np.ndarray,
        nb_classes: int,
        nb_epochs: int,
        batch_size: int,
        x_val: np.ndarray | None,
        y_val: np.ndarray | None,
        rng: np.random.Generator,
        checkpoint: str | None,
    ) -> LearningToConfuse:
        """:meth:`fit` on validated inputs."""
        from art_ext.models.generators import default_generator

        strategy = resolve_strategy(self.strategy)
        surrogates = self._surrogates()
        factories = [self._victim_factory(s, x.shape[1:], nb_classes) for s in surrogates]
        if self.generator is not None:
            check_built_in_scope(self.strategy, self.generator.variables, "LearningToConfuse", "generator")
        with strategy.scope():  # the fit's own networks and optimizers
            victims = [make_victim() for make_victim in factories]
        for index, victim in enumerate(victims):
            if tuple(victim.output_shape[1:]) != (nb_classes,) or tuple(victim.input_shape[1:]) != x.shape[1:]:
                name = "surrogate" if len(victims) == 1 else f"surrogate[{index}]"
                raise ValueError(
                    f"the {name} maps {victim.input_shape[1:]} to {victim.output_shape[1:]}, "
                    f"expected {x.shape[1:]} to ({nb_classes},)"
                )
        with strategy.scope():
            generator = self.generator if self.generator is not None else default_generator(x.shape[1:])
            frozen = keras.models.clone_model(generator)
            victim_optimizers = [keras.optimizers.SGD(self.victim_learning_rate) for _ in victims]
            for victim, victim_optimizer in zip(victims, victim_optimizers):
                victim_optimizer.build(victim.trainable_variables)
        if tuple(generator.output_shape[1:]) != x.shape[1:]:
            raise ValueError(
                f"the generator must output the input shape {x.shape[1:]}, got {generator.output_shape[1:]}"
            )
        self._copy_weights(generator, frozen)
        logits_fns = [self._logits_fn(s) for s in surrogates]
        # Per surrogate: (victim_step, victim_replica, predict); round i (from 0) trains the victim of surrogate i % k.
        steps = [
            self._build_steps(strategy, victim, logits_fn, frozen, victim_optimizer, batch_size)
            for victim, logits_fn, victim_optimizer in zip(victims, logits_fns, victim_optimizers)
        ]
        stages = self._stages(nb_epochs)
        scoring = x_val is not None
        config = {k: v for k, v in self.get_config().items() if k != "verbose"}
        if config["surrogate"] is None and self.surrogate is not None:  # a resumed fit must use the same surrogates
            config["surrogate"] = [_describe(s) for s in surrogates]
        fingerprint = _fingerprint(x, y, targets, config, nb_epochs, batch_size, x_val)

        def val_accuracy(turn: int, labels: np.ndarray) -> float:
            predict = steps[turn][2]
            pred = np.concatenate([predict(tf.constant(x_val[s])).numpy() for s in batches(len(x_val), _EVAL_BATCH)])
            return float(np.mean(pred == labels))

        def victim_pass(turn: int, generator_step=None, clean_batch: str = "same") -> float:
            accs = []
            order = _shuffled_batches(rng, len(x), batch_size)
            independent = generator_step is not None and clean_batch == "independent"
            clean_order = _shuffled_batches(rng, len(x), batch_size) if independent else order
            for idx, cdx in zip(order, clean_order):
                xb, yb = _shard(strategy, x[idx], y[idx].astype(np.int32))
                if generator_step is not None:
                    xc, yc = _shard(strategy, x[cdx], y[cdx].astype(np.int32)) if independent else (xb, yb)
                    (tb,) = _shard(strategy, targets[cdx].astype(np.int32))
                    accs.append(float(generator_step(xb, yb, xc, yc, tb)))  # the victim's step included
                    bar.set_postfix(victim_clean_acc=f"{np.mean(accs[-50:]):.3f}", refresh=False)
                else:
                    steps[turn][0](xb, yb)
            return float(np.mean(accs)) if accs else float("nan")

        def evaluate(turn: int, record: dict) -> float:
            """Score the victim of surrogate ``turn`` (fresh, trained on the frozen generator's poison only) on
            ``x_val``."""
            record["fresh_victim_val_accuracy"] = val_accuracy(turn, y_val)
            if self.target_fn is None:
                return record["fresh_victim_val_accuracy"]
            record["fresh_victim_target_success"] = val_accuracy(turn, self._targets(y_val, nb_classes))
            return -record["fresh_victim_target_success"]

        state = {"stage": 0, "round": 0, "best_score": float("inf"), "history": []}
        best_weights = None
        optimizer = None
        if checkpoint is not None and os.path.isfile(checkpoint):
            state, best_weights, optimizer_weights = _load_checkpoint(checkpoint, fingerprint, generator, frozen, rng)
            logger.info("resuming from %s at round %d", checkpoint, state["round"])
        else:
            optimizer_weights = None
        self.history_ = state["history"]
        done = sum(rounds for rounds, _, _ in stages[: state["stage"]])
        bar = trange(nb_epochs, initial=done + state["round"], desc="LearningToConfuse", disable=not self.verbose)
        for stage_index, (rounds, clean_batch, learning_rate) in enumerate(stages):
            if stage_index < state["stage"]:
                continue
            with strategy.scope():
                optimizer = keras.optimizers.Adam(learning_rate)  # a fresh Adam per stage
                optimizer.build(generator.trainable_variables)
            if optimizer_weights is not None:
                for v, w in zip(optimizer.variables, optimizer_weights):
                    v.assign(w)
                optimizer_weights = None
            generator_steps = [  # traced on first use
                self._build_generator_step(strategy, victim, logits_fn, generator, optimizer, batch_size, then=replica)
                for victim, logits_fn, (_, replica, _) in zip(victims, logits_fns, steps)
            ]
            first_of_fit = stage_index == 0
            for r in range(state["round"], rounds):
                turn = (done + r) % len(victims)
                running = [victim_pass(turn, generator_steps[turn], clean_batch) for _ in range(self.victim_epochs)]
                # This round's victim started fresh and trained only on the previous round's (frozen) poison.
                record = {"round": done + r + 1, "stage": stage_index + 1, "victim_clean_accuracy": running[-1]}
                if len(victims) > 1:
                    record["surrogate"] = turn
                if scoring and not (first_of_fit and r == 0):  # round 1's victim saw the untrained generator
                    score = evaluate(turn, record)
                    if turn == 0 and score < state["best_score"]:  # scores of one architecture compared
                        state["best_score"], best_weights = score, [v.numpy() for v in frozen.variables]
                self.history_.append(record)
                logger.info("round %d: %s", done + r + 1, record)
                if "fresh_victim_val_accuracy" in record:
                    bar.set_postfix(
                        victim_clean_acc=f"{running[-1]:.3f}",
                        fresh_val_acc=f"{record['fresh_victim_val_accuracy']:.3f}",
                    )
                self._copy_weights(generator, frozen)
                self._copy_weights(factories[turn](), victims[turn])
                bar.update()
                if checkpoint is not None:
                    state["stage"], state["round"] = stage_index, r + 1
                    _save_checkpoint(checkpoint, fingerprint, state, generator, frozen, best_weights, optimizer, rng)
            if scoring:
                # One more fresh victim (of the first surrogate, which keep_best judges by), on the stage's final
                # generator; then the stage's kept generator.
                turn = 0
                for _ in range(self.victim_epochs):
                    victim_pass(turn)
                record = {
                    "round": done + rounds,
                    "stage": stage_index + 1,
                    "final": True,
                    "victim_clean_accuracy": float("nan"),
                }
                if len(victims) > 1:
                    record["surrogate"] = turn
                score = evaluate(turn, record)
                self.history_.append(record)
                logger.info("stage %d, final fresh victim: %s", stage_index + 1, record)
                if self.keep_best and best_weights is not None and state["best_score"] < score:
                    for v, w in zip(frozen.variables, best_weights):
                        v.assign(w)
                    self._copy_weights(frozen, generator)  # the next stage continues from the kept generator
                self._copy_weights(factories[turn](), victims[turn])
            done += rounds
            state = {"stage": stage_index + 1, "round": 0, "best_score": float("inf"), "history": self.history_}
            best_weights = None
            if checkpoint is not None:
                _save_checkpoint(checkpoint, fingerprint, state, generator, frozen, None, None, rng)
        bar.close()
        self.generator_, self.nb_classes_ = frozen, nb_classes
        return self

    def poison(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> tuple[np.ndarray, np.ndarray]:
        """
        Poison inputs with the fitted generator: ``clip(x + eps * g(x))``, labels unchanged.

        :param x: Clean inputs, NHWC within ``clip_values``.
        :param y: Their labels (returned unchanged; required, as the poison keeps the true labels).
        :param batch_size: (keyword) Batch size of the generator, default 256.
        :return: ``(x_poison, y)``, with ``|x_poison - x| <= eps`` and ``x_poison`` within ``clip_values``.
        :raises ValueError: If the attack is not fitted, or on bad inputs.
        """
        batch_size = kwargs.pop("batch_size", _GENERATOR_BATCH)
        if kwargs:
            raise ValueError(f"unexpected arguments {sorted(kwargs)}")
        x = check_inputs(x, "x", self.clip_values, input_shape=tuple(self._fitted().input_shape[1:]))
        if y is None:
            raise ValueError("y (the labels) is required: the poison keeps the true labels")
        y = np.asarray(y)
        check_labels(y, len(x), self.nb_classes_ if self.nb_classes_ is not None else self._nb_classes(y))
        return self.perturb(x, batch_size=batch_size), y.copy()

    def perturb(self, x: np.ndarray, batch_size: int = _GENERATOR_BATCH, eps: float | None = None) -> np.ndarray:
        """
        ``clip(x + eps * g(x))`` projected exactly onto the L-inf ball of radius ``eps`` and ``clip_values``.

        :param x: Clean inputs, NHWC within ``clip_values``.
        :param batch_size: Batch size of the generator.
        :param eps: The budget, in the units of ``clip_values``; default the fitted ``eps``. Another value rescales
            the fitted noise to that budget (the paper's accuracy-vs-eps curve) without fitting again; a value
            beyond the width of ``clip_values`` acts as that width.
        :return: float32 poisoned inputs with ``|result - x| <= eps`` exactly.
        :raises ValueError: If the attack is not fitted, or on bad inputs.
        """
        validate_params({"eps": [NON_NEGATIVE_REAL, None]}, {"eps": eps}, "LearningToConfuse.perturb")
        lo, hi = self.clip_values
        eps = self.eps if eps is None else min(float(eps), float(hi) - float(lo))  # beyond the range: the same
        x, noise = self._raw_noise(x, batch_size)
        lower = np.maximum(_inside(x, -eps), np.float32(lo))
        upper = np.minimum(_inside(x, eps), np.float32(hi))
        return np.clip(x + np.float32(eps) * noise, lower, upper).astype(np.float32)

    def noise(self, x: np.ndarray, batch_size: int = _GENERATOR_BATCH) -> np.ndarray:
        """The generator's raw noise ``g(x)`` in ``[-1, 1]`` (Table 2 of the paper predicts labels from it)."""
        return self._raw_noise(x, batch_size)[1]

    def _raw_noise(self, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """The validated float32 ``x`` and ``g(x)``, computed ``batch_size`` inputs at a time."""
        generator = self._fitted()
        x = check_inputs(x, "x", self.clip_values, input_shape=tuple(generator.input_shape[1:]))
        validate_params({"batch_size": [POSITIVE_INT]}, {"batch_size": batch_size}, "LearningToConfuse")
        return x, np.concatenate(
            [self._noise_fn(generator)(tf.constant(x[s])).numpy() for s in batches(len(x), batch_size)]
        )

    def get_config(self) -> dict[str, Any]:
        """The serialisable parameters (the surrogate only when it is a model name or a sequence of names)."""
        return {
            **{name: getattr(self, name) for name in _SAVED_PARAMS},
            "clip_values": list(self.clip_values),
            "surrogate": self._saved_surrogate(),
        }

    def _saved_surrogate(self) -> str | list[str] | None:
        """The surrogate as saved: a model name, a list of names, or ``None`` for anything else (not serialisable)."""
        if isinstance(self.surrogate, str):
            return self.surrogate
        if isinstance(self.surrogate, tuple) and all(isinstance(s, str) for s in self.surrogate):
            return list(self.surrogate)
        return None

    def save(self, path: str) -> None:
        """
        Save the fitted generator with the attack's parameters to a ``.keras`` file tagged as an art-ext
        LearningToConfuse (atomically; the file also opens in plain Keras as the generator).

        :param path: Destination; must end in ``.keras``.
        :raises ValueError: If the attack is not fitted, or ``path`` does not end in ``.keras`` or cannot be written.
        """
        save_keras(
            path,
            self._fitted(),
            "LearningToConfuse",
            {**self.get_config(), "history": self.history_, "nb_classes_": self.nb_classes_},
        )

    @classmethod
    def load(cls, path: str, **params: Any) -> LearningToConfuse:
        """
        Load an attack written by :meth:`save`, fitted with the saved generator (Keras ``safe_mode``).

        :param path: The ``.keras`` file.
        :param params: Constructor parameters that override the saved ones, e.g. ``surrogate`` (a classifier or
               factory is not saved) or ``target_fn`` to train further, or ``verbose``.
        :return: The fitted attack.
        :raises ValueError: If the file is missing or not an art-ext LearningToConfuse file, or a parameter is invalid.
        """
        generator, config, _ = load_keras(path, "LearningToConfuse")
        try:
            history, nb_classes = list(config.pop("history")), config.pop("nb_classes_")
            saved = {name: config[name] for name in (*_SAVED_PARAMS, "surrogate")}
        except (KeyError, TypeError) as err:
            raise ValueError(f"not an art-ext LearningToConfuse file: {path} (invalid configuration: {err})") from err
        if tuple(generator.input_shape[1:]) != tuple(generator.output_shape[1:]):
            raise ValueError(
                f"not an art-ext LearningToConfuse file: {path} (the network maps "
                f"{generator.input_shape[1:]} to {generator.output_shape[1:]}, not noise of the input "
                f"shape)"
            )
        attack = cls(**{**saved, **params})
        attack.generator_, attack.history_, attack.nb_classes_ = generator, history, nb_classes
        return attack

    # ------------------------------------------------------------------ helpers

    def __deepcopy__(self, memo: dict) -> LearningToConfuse:
        """A deep copy (the generator included); surrogate classifiers are shared, not copied (they are the user's
        models and may hold traced functions that cannot be copied), as is a strategy; compiled noise functions are
        rebuilt on use."""
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        memo[id(self.surrogate)] = self.surrogate
        for surrogate in self._surrogates():
            memo[id(surrogate)] = surrogate
        memo[id(self.strategy)] = self.strategy
        for key, value in self.__dict__.items():
            if key != "_noise_fns":
                clone.__dict__[key] = copy.deepcopy(value, memo)
        return clone

    def _fitted(self) -> keras.Model:
        if self.generator_ is None:
            raise ValueError("the attack is not fitted: call fit() or LearningToConfuse.load(path) first")
        return self.generator_

    def _noise_fn(self, generator: keras.Model):
        cache = self.__dict__.setdefault("_noise_fns", {})
        if id(generator) not in cache:
            cache.clear()
            cache[id(generator)] = tf.function(
                lambda x: tf.clip_by_value(generator(x, training=False), -1.0, 1.0), reduce_retracing=True
            )
        return cache[id(generator)]

    def _check_image_shape(self, shape: tuple[int, ...]) -> None:
        """``x`` must be an NHWC batch of the shape the given generator and surrogate classifiers take."""
        if len(shape) != 4:
            raise ValueError(f"x must be a batch of images (n, H, W, C), got shape {tuple(shape)}")
        models = [("generator", self.generator)] + [
            ("surrogate", s.model) for s in self._surrogates() if isinstance(s, TensorFlowV2Classifier)
        ]
        for name, model in models:
            if model is not None and tuple(model.input_shape[1:]) != tuple(shape[1:]):
                raise ValueError(
                    f"x must have samples of shape {tuple(model.input_shape[1:])} (the {name}'s input), "
                    f"got {tuple(shape[1:])}"
                )

    def _nb_classes(self, y) -> int:
        if self.nb_classes is not None:
            return int(self.nb_classes)
        classifiers = [s for s in self._surrogates() if isinstance(s, TensorFlowV2Classifier)]
        if classifiers:
            return int(classifiers[0].nb_classes)
        y = np.asarray(y)
        if y.ndim == 2:
            return int(y.shape[1])
        if y.size == 0 or not np.issubdtype(y.dtype, np.number):
            raise ValueError("y must hold numeric class indices")
        return max(2, int(np.max(y)) + 1)

    def _targets(self, y: np.ndarray, nb_classes: int) -> np.ndarray:
        if self.target_fn is None:
            return y
        targets = np.asarray(self.target_fn(y.copy()))
        try:
            return check_labels(targets, len(y), nb_classes, "target_fn(y)")
        except ValueError as err:
            raise ValueError(f"target_fn returned invalid targets: {err}") from err


def _noisy(model: keras.Model, x: tf.Tensor, training: bool, eps: float, lo: float, hi: float) -> tf.Tensor:
    """``clip(x + eps * g(x))`` with ``g(x)`` clipped to ``[-1, 1]``."""
    return tf.clip_by_value(x + eps * tf.clip_by_value(model(x, training=training), -1.0, 1.0), lo, hi)


def _describe(surrogate) -> str:
    """A surrogate as a checkpoint's fingerprint sees it: its name, its classifier's model, or its factory."""
    if isinstance(surrogate, str):
        return surrogate
    if isinstance(surrogate, TensorFlowV2Classifier):
        model = surrogate.model
        return f"classifier {model.name} {tuple(model.input_shape)} -> {tuple(model.output_shape)}"
    name = getattr(surrogate, "__qualname__", type(surrogate).__name__)
    return f"factory {getattr(surrogate, '__module__', '')}.{name}"


def _fingerprint(x, y, targets, config, nb_epochs, batch_size, x_val) -> str:
    """A hash of what a checkpointed fit depends on: parameters, round count, batch size and (a sample of) data."""
    digest = hashlib.sha256()
    step = max(1, len(x) // _FINGERPRINT_SAMPLES)
    for array in (x[::step], y, targets, np.zeros(0) if x_val is None else x_val[:: max(1, len(x_val) // 16)]):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps([jsonable(config), nb_epochs, batch_size, x.shape], sort_keys=True).encode())
    return digest.hexdigest()


def _save_checkpoint(path, fingerprint, state, generator, frozen, best_weights, optimizer, rng) -> None:
    """Write the fit's state after a round (atomically): weights, Adam's slots, the kept weights, RNG, history."""
    meta = {
        "fingerprint": fingerprint,
        "state": {**state, "history": jsonable(state["history"])},
        "rng": rng.bit_generator.state,
        "best": best_weights is not None,
        "optimizer": optimizer is not None,
    }
    arrays = {"meta": np.array(json.dumps(meta))}
    for name, values in (
        ("generator", [v.numpy() for v in generator.variables]),
        ("frozen", [v.numpy() for v in frozen.variables]),
        ("best", best_weights or []),
        ("optimizer", [] if optimizer is None else [v.numpy() for v in optimizer.variables]),
    ):
        arrays.update({f"{name}_{i}": value for i, value in enumerate(values)})

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write, suffix=".npz")


def _load_checkpoint(path, fingerprint, generator, frozen, rng):
    """Restore what :func:`_save_checkpoint` wrote into the models and ``rng``; return ``(state, best weights,
    optimizer weights)``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {key: data[key] for key in data.files if key != "meta"}
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"not a LearningToConfuse checkpoint: {path} ({err})") from err
    if meta.get("fingerprint") != fingerprint:
        raise ValueError(
            f"the checkpoint {path} belongs to a fit with other parameters or data; delete it or choose another path"
        )

    def group(name):
        count = sum(1 for key in arrays if key.startswith(f"{name}_"))
        return [arrays[f"{name}_{i}"] for i in range(count)]

    for model, name in ((generator, "generator"), (frozen, "frozen")):
        for v, w in zip(model.variables, group(name)):
            v.assign(w)
    rng.bit_generator.state = meta["rng"]
    return meta["state"], (group("best") if meta["best"] else None), (group("optimizer") if meta["optimizer"] else None)


def _inside(x: np.ndarray, step: float) -> np.ndarray:
    """``x + step`` in float32, rounded towards ``x`` so that ``|result - x| <= |step|`` holds exactly."""
    x64 = x.astype(np.float64)
    bound = (x64 + step).astype(np.float32)
    over = np.abs(bound.astype(np.float64) - x64) > abs(step)
    return np.where(over, np.nextafter(bound, x), bound).astype(np.float32)


def _shuffled_batches(rng: np.random.Generator, n: int, batch_size: int):
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]
