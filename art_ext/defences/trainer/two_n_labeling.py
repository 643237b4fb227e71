"""2N labeling and NULL labeling training (Szűcs & Kiss 2023; Hosseini et al. 2017, L-inf variant).

Both defences teach one network to classify AND to flag adversarial inputs, by extending the label
set. A simulated attacker perturbs part of every training batch with FGSM:

* **2N labeling** (Szűcs & Kiss 2023): 2N outputs; a perturbed input of class ``y`` gets label
  ``y + N``. ``P(attack)`` is the sum of the last N probabilities, the class is ``argmax_i p_i + p_{N+i}``.
* **NULL labeling** (Hosseini et al. 2017, the L-inf variant of Sec. 3.4 of Szűcs & Kiss): N + 1
  outputs; a perturbed input gets NULL probability ``f(eps) = eps / eps_max``, the rest q-smoothed on ``y``.

The FGSM perturbations are made inside the compiled training step (one TF graph per batch: attack,
soft targets, loss, update), only for the perturbed share of the batch.

| Paper link: https://doi.org/10.1007/s11042-022-14021-5
| NULL labeling: https://arxiv.org/abs/1703.04318
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from art.defences.trainer.trainer import Trainer
from art.estimators.classification import TensorFlowV2Classifier
from tqdm.auto import trange

from art_ext.data.batches import TrainingBatches, training_batches
from art_ext.distribute import (
    STRATEGY,
    check_built_in_scope,
    distributed_step,
    is_distributed,
    replica_mean,
    resolve_strategy,
)
from art_ext.estimators.batch_norm import REFRESH_BATCHES, refresh_batch_norm
from art_ext.estimators.classification import classifier_logits
from art_ext.estimators.two_n_view import HEAD_NAME, check_extended_classifier, n_class_logits
from art_ext.params import (
    BOOL,
    POSITIVE_INT,
    POSITIVE_REAL,
    SEED,
    Interval,
    Options,
    Real,
    ValidatedParams,
    validate_params,
)
from art_ext.utils import batches, check_inputs, check_labels, fgsm

logger = logging.getLogger(__name__)

#: ``optimizer`` value selecting the paper's training (Sec. 4.5): SGD with momentum, learning rate cosine-annealed.
PAPER_OPTIMIZER = "paper"

#: Adam learning rate used when neither ``optimizer`` nor the classifier gives an optimiser (the Keras default).
FALLBACK_LEARNING_RATE = 1e-3
#: Default ``eps_max`` as a share of the width of the classifier's ``clip_values`` (the paper's 0.3 on [0, 1]).
DEFAULT_EPS_MAX_FRACTION = 0.3


def extend_classes(
    model: keras.Model, kind: str = "2n", keep_weights: bool = True, name: str | None = None
) -> keras.Model:
    """Turn an N-class Keras model into a 2N (``kind="2n"``) or N + 1 (``"null"``) one by replacing its last layer.

    The last layer must be a ``Dense`` layer; the new one outputs logits (no activation) and the
    rest of the network is shared with ``model`` (not copied: clone the model first to keep the
    original intact). With ``keep_weights``, the new layer starts from the old weights: both the
    clean and the adversarial copy of each class (2N), or the N classes with a zero NULL column.

    :param model: A built functional or sequential Keras model whose last layer is ``Dense(N)``.
    :param kind: ``"2n"`` or ``"null"``.
    :param keep_weights: Initialise the new layer from the old one.
    :param name: Name of the new model (default ``<name>_2n`` / ``<name>_null``).
    :return: The new model.
    :raises ValueError: If ``kind`` is unknown or the last layer is not ``Dense``.
    """
    if kind not in ("2n", "null"):
        raise ValueError(f"kind must be '2n' or 'null', got {kind!r}")
    validate_params(
        {"keep_weights": [BOOL], "name": [None, str]}, {"keep_weights": keep_weights, "name": name}, "extend_classes"
    )
    if not isinstance(model, keras.Model) or not getattr(model, "layers", None):
        raise ValueError(f"model must be a built keras.Model, got {type(model).__name__}")
    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense):
        raise ValueError(f"the last layer of model must be Dense (the class layer), got {type(last).__name__}")
    n = int(last.units)
    width = 2 * n if kind == "2n" else n + 1
    head = keras.layers.Dense(width, name=f"{HEAD_NAME}{kind}")
    outputs = head(last.input)
    if keep_weights:
        kernel, bias = (np.asarray(w) for w in last.get_weights()) if last.use_bias else (last.get_weights()[0], None)
        if bias is None:
            bias = np.zeros(n, np.float32)
        if kind == "2n":
            new_kernel, new_bias = np.concatenate([kernel, kernel], 1), np.concatenate([bias, bias])
        else:
            new_kernel = np.concatenate([kernel, np.zeros((kernel.shape[0], 1), kernel.dtype)], 1)
            new_bias = np.concatenate([bias, [bias.min()]])
        head.set_weights([new_kernel.astype(np.float32), new_bias.astype(np.float32)])
    return keras.Model(model.inputs, outputs, name=name or f"{model.name}_{kind}")


def smoothed_targets(
    y: tf.Tensor, perturbed: tf.Tensor, eps: tf.Tensor, nb_classes: int, kind: str, smoothing: float, eps_max: float
) -> tf.Tensor:
    """Soft training targets of 2N or NULL labeling (TF, batched).

    ``"2n"``: probability ``q`` on ``y`` (clean) or ``y + N`` (perturbed), ``(1 - q) / (2N - 1)`` on
    every other class. ``"null"``: clean inputs get ``q`` on ``y`` and ``(1 - q) / (N - 1)`` on the
    other original classes; perturbed ones get ``f = eps / eps_max`` on NULL and ``(1 - f)`` times
    the clean distribution on the rest (Hosseini et al. 2017 with the L-inf ``f`` of Sec. 3.4).

    :param y: Class indices ``(b,)``.
    :param perturbed: Boolean ``(b,)``.
    :param eps: Per-sample attack amplitude ``(b,)`` (0 for clean inputs).
    :param nb_classes: N.
    """
    q = tf.constant(smoothing, tf.float32)
    y = tf.cast(y, tf.int32)
    if kind == "2n":
        k = 2 * nb_classes
        target = tf.where(perturbed, y + nb_classes, y)
        return tf.one_hot(target, k) * (q - (1.0 - q) / (k - 1)) + (1.0 - q) / (k - 1)
    clean = tf.one_hot(y, nb_classes) * (q - (1.0 - q) / (nb_classes - 1)) + (1.0 - q) / (nb_classes - 1)
    f = tf.where(perturbed, tf.clip_by_value(tf.cast(eps, tf.float32) / eps_max, 0.0, 1.0), 0.0)[:, None]
    return tf.concat([clean * (1.0 - f), f], axis=1)


class _ExtendedLabelTrainer(ValidatedParams, Trainer):
    """Shared training loop of 2N and NULL labeling; subclasses set ``_kind``."""

    _kind = "2n"
    params = [
        "substitute",
        "eps_max",
        "perturbed_fraction",
        "smoothing",
        "optimizer",
        "learning_rate",
        "momentum",
        "cosine_annealing",
        "validation_split",
        "patience",
        "refresh_batch_norm",
        "seed",
        "verbose",
        "strategy",
    ]
    _parameter_constraints = {
        "substitute": [None, TensorFlowV2Classifier],
        "eps_max": [None, POSITIVE_REAL],
        "perturbed_fraction": [Interval(Real, 0, 1, closed="right")],
        "smoothing": [Interval(Real, 0, 1, closed="right")],
        "optimizer": [None, Options([PAPER_OPTIMIZER]), keras.optimizers.Optimizer],
        "learning_rate": [POSITIVE_REAL],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "cosine_annealing": [BOOL],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "patience": [POSITIVE_INT],
        "refresh_batch_norm": [BOOL],
        "seed": [None, SEED],
        "verbose": [BOOL],
        "strategy": [None, STRATEGY],
    }

    def __init__(
        self,
        classifier: TensorFlowV2Classifier,
        substitute: TensorFlowV2Classifier | None = None,
        eps_max: float | None = None,
        perturbed_fraction: float = 0.5,
        smoothing: float = 0.8,
        optimizer: keras.optimizers.Optimizer | str | None = None,
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        cosine_annealing: bool = True,
        validation_split: float = 0.0,
        patience: int = 5,
        refresh_batch_norm: bool = True,
        seed: int | None = None,
        verbose: bool = False,
        strategy: tf.distribute.Strategy | None = None,
    ) -> None:
        self._nb_classes = check_extended_classifier(classifier, self._kind)
        super().__init__(classifier=classifier)
        self.substitute = substitute
        self.eps_max = eps_max
        self.perturbed_fraction = perturbed_fraction
        self.smoothing = smoothing
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.cosine_annealing = cosine_annealing
        self.validation_split = validation_split
        self.patience = patience
        self.refresh_batch_norm = refresh_batch_norm
        self.seed = seed
        self.verbose = verbose
        self.strategy = strategy
        self._check_params()
        self._step_fns: dict[str, Callable] = {}
        self._fallback_optimizer: keras.optimizers.Optimizer | None = None

    # ------------------------------------------------------------------ validation

    @property
    def eps_limit(self) -> float:
        """The upper bound of the training FGSM amplitudes in input units: ``eps_max``, or by default
        ``DEFAULT_EPS_MAX_FRACTION`` (0.3) times the width of the classifier's ``clip_values``."""
        if self.eps_max is not None:
            return float(self.eps_max)
        clip = self._classifier.clip_values
        return DEFAULT_EPS_MAX_FRACTION * (float(np.max(clip[1])) - float(np.min(clip[0])))

    def _check_param_relations(self) -> None:
        clip = self._classifier.clip_values
        if self.eps_max is None and clip is None:
            raise ValueError(
                f"{type(self).__name__}: eps_max=None is a share of the classifier's clip_values, which are None; "
                "pass eps_max in the classifier's input units, or wrap the classifier with clip_values"
            )
        if clip is not None and self.eps_limit > float(np.max(clip[1])) - float(np.min(clip[0])):
            raise ValueError(
                f"{type(self).__name__}: eps_max must not exceed the input range "
                f"{tuple(float(c) for c in clip)}, got {self.eps_max}"
            )
        if self.substitute is not None:
            n = self._nb_classes
            if self.substitute.nb_classes != n:
                raise ValueError(
                    f"{type(self).__name__}: substitute must have the classifier's N = {n} original "
                    f"classes, got {self.substitute.nb_classes}"
                )
            if tuple(self.substitute.input_shape) != tuple(self._classifier.input_shape):
                raise ValueError(
                    f"{type(self).__name__}: substitute input shape {tuple(self.substitute.input_shape)}"
                    f" differs from the classifier's {tuple(self._classifier.input_shape)}"
                )

    def _check_labels(self, y, n: int, name: str = "y") -> np.ndarray:
        """Labels over the N original classes; labels that would fit the classifier's outputs as ordinary classes
        get an error saying the classifier must be an extended (2N / N + 1) model."""
        try:
            return check_labels(y, n, self._nb_classes, name)
        except ValueError as err:
            outputs = int(self._classifier.nb_classes)
            try:
                check_labels(y, n, outputs, name)
            except ValueError:
                raise err from None
            extended = "2N" if self._kind == "2n" else "N + 1"
            raise ValueError(
                f"{err}. {type(self).__name__} reads the classifier's {outputs} outputs as {extended} labeling of "
                f"N = {self._nb_classes} original classes, and {name} must be over those N; if your model has "
                f"{outputs} ordinary classes, it needs {extended} outputs: extend it with "
                f"extend_classes(model, {self._kind!r}) (art_ext.defences.trainer) and wrap the result"
            ) from None

    def _check_strategy(self, optimizer: keras.optimizers.Optimizer) -> None:
        """The classifier's model, the substitute's and the optimiser must live in the strategy's scope."""
        owner = type(self).__name__
        check_built_in_scope(self.strategy, self._classifier.model.variables, owner, "classifier.model")
        if self.substitute is not None:
            check_built_in_scope(self.strategy, self.substitute.model.variables, owner, "substitute.model")
        check_built_in_scope(self.strategy, optimizer.variables, owner, "the optimizer")

    # ------------------------------------------------------------------ the compiled step

    def _attacker_logits(self) -> Callable[[tf.Tensor], tf.Tensor]:
        """N-class logits the simulated attacker differentiates (substitute, or the model's own N-class view), on raw
        inputs through the classifier's ART preprocessing (:func:`~art_ext.estimators.classifier_logits`)."""
        if self.substitute is not None:
            return classifier_logits(self.substitute)
        own, kind = classifier_logits(self._classifier), self._kind
        return lambda x: n_class_logits(own(x), kind)

    def _build_steps(
        self,
        optimizer: keras.optimizers.Optimizer,
        generator: tf.random.Generator,
        val_generator: tf.random.Generator,
        mix_generator: tf.random.Generator,
    ) -> None:
        clf, kind, n = self._classifier, self._kind, self._nb_classes
        model = clf.model
        clip = clf.clip_values if clf.clip_values is not None else (-np.inf, np.inf)
        clip = (float(np.min(clip[0])), float(np.max(clip[1])))
        attacker, eps_max, fraction, q = (
            self._attacker_logits(),
            self.eps_limit,
            float(self.perturbed_fraction),
            float(self.smoothing),
        )
        train_logits, eval_logits = classifier_logits(clf, fit=True, training=True), classifier_logits(clf)
        spec = [tf.TensorSpec([None, *clf.input_shape], tf.float32), tf.TensorSpec([None], tf.int64)]

        def batch_and_targets(x, y, gen):
            b = tf.shape(x)[0]
            k = tf.cast(tf.round(fraction * tf.cast(b, tf.float32)), tf.int32)
            chosen = tf.argsort(gen.uniform([b]))[:k]  # k distinct random samples to perturb
            eps = gen.uniform([k], 0.0, eps_max)
            x_adv = fgsm(attacker, tf.gather(x, chosen), tf.gather(y, chosen), eps, clip)
            x_in = tf.tensor_scatter_nd_update(x, chosen[:, None], x_adv)
            perturbed = tf.scatter_nd(chosen[:, None], tf.ones([k], tf.bool), [b])
            eps_all = tf.scatter_nd(chosen[:, None], eps, [b])
            return x_in, smoothed_targets(y, perturbed, eps_all, n, kind, q, eps_max)

        def loss_fn(x, targets, logits_fn):  # scaled to the global batch: the replicas' sum is its mean
            return replica_mean(tf.nn.softmax_cross_entropy_with_logits(targets, logits_fn(x)))

        def train_step(x, y):
            x_in, targets = batch_and_targets(x, y, generator)
            with tf.GradientTape() as tape:
                loss = loss_fn(x_in, targets, train_logits)
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        def val_step(x, y):
            x_in, targets = batch_and_targets(x, y, val_generator)
            return loss_fn(x_in, targets, eval_logits)

        signature = None if is_distributed(self.strategy) else spec
        self._step_fns = {
            "train": distributed_step(self.strategy, train_step, input_signature=signature, reduce_retracing=False),
            "val": distributed_step(self.strategy, val_step, input_signature=signature, reduce_retracing=False),
            # the training mix (clean and perturbed) for the batch-norm refresh, on one device
            "mix": tf.function(lambda x, y: batch_and_targets(x, y, mix_generator)[0], input_signature=spec),
        }

    def _make_optimizer(self, total_steps: int | None) -> keras.optimizers.Optimizer:
        """The optimiser of this ``fit`` call (see the ``optimizer`` parameter), built for the model's variables."""
        variables = self._classifier.model.trainable_variables
        with resolve_strategy(self.strategy).scope():
            if isinstance(self.optimizer, keras.optimizers.Optimizer):
                optimizer = self.optimizer
            elif self.optimizer == PAPER_OPTIMIZER:
                lr = self.learning_rate
                if self.cosine_annealing:
                    if total_steps is None:
                        raise ValueError(
                            f"{type(self).__name__}: optimizer='paper' anneals the learning rate over all steps, but "
                            "the dataset's length is unknown; give it one with "
                            "dataset.apply(tf.data.experimental.assert_cardinality(nb_batches)), or pass "
                            "cosine_annealing=False"
                        )
                    lr = keras.optimizers.schedules.CosineDecay(self.learning_rate, decay_steps=max(1, total_steps))
                optimizer = keras.optimizers.SGD(learning_rate=lr, momentum=self.momentum)
            else:
                optimizer = getattr(self._classifier, "optimizer", None)
                if optimizer is None:
                    if self._fallback_optimizer is None:
                        logger.warning(
                            "%s: the classifier has no optimizer; training with Adam(learning_rate=%g), the Keras "
                            "default (pass optimizer=... to choose)",
                            type(self).__name__,
                            FALLBACK_LEARNING_RATE,
                        )
                        self._fallback_optimizer = keras.optimizers.Adam(learning_rate=FALLBACK_LEARNING_RATE)
                    optimizer = self._fallback_optimizer
                elif not isinstance(optimizer, keras.optimizers.Optimizer):
                    raise ValueError(
                        f"{type(self).__name__}: the classifier's optimizer must be a Keras optimizer, got "
                        f"{type(optimizer).__name__}; pass optimizer=<keras optimizer> or "
                        f"optimizer={PAPER_OPTIMIZER!r}"
                    )
            if not optimizer.built:
                optimizer.build(variables)
        return optimizer

    def _steps(self, optimizer: keras.optimizers.Optimizer, seed: int) -> tuple[Callable, Callable]:
        """The compiled train and validation steps for ``optimizer``, traced once and reused by later ``fit`` calls
        (their random generators are reset to ``seed``); a parameter change or another optimiser rebuilds them."""
        if self._step_fns.get("optimizer") is not optimizer:
            with resolve_strategy(self.strategy).scope():  # under a strategy: a different stream on every replica
                replicated = (tf.random.Generator.from_seed(seed), tf.random.Generator.from_seed(seed + 1))
            self._generators = (*replicated, tf.random.Generator.from_seed(seed + 2))  # the last: one device
            self._build_steps(optimizer, *self._generators)
            self._step_fns["optimizer"] = optimizer
        for offset, generator in enumerate(self._generators):
            generator.reset_from_seed(seed + offset)
        return self._step_fns["train"], self._step_fns["val"]

    def _params_changed(self, changed: set[str]) -> None:
        self._step_fns = {}

    def _run_step(self, step: Callable, batches_of: TrainingBatches) -> list[float]:
        """``step`` over one epoch of ``batches_of`` (distributed across the strategy's replicas), its losses."""
        return [float(step(xb, yb)) for xb, yb in batches_of.epoch_for(self.strategy)]

    # ------------------------------------------------------------------ public

    def fit(
        self, x, y: np.ndarray | None = None, batch_size: int = 128, nb_epochs: int = 20, **kwargs
    ) -> _ExtendedLabelTrainer:
        """Train the classifier's model with 2N / NULL labeling (Fig. 1 of the paper).

        Per batch, ``perturbed_fraction`` of the samples (chosen at random) are perturbed with
        untargeted FGSM of the substitute, ``eps ~ U(0, eps_max)`` per sample, relabelled, and the
        model takes one optimiser step on the soft-label cross-entropy. With ``validation_split > 0``
        that share of ``x`` is held out; training stops when its loss (the same task, with fixed
        perturbation draws) has not improved for ``patience`` epochs, and the best weights are restored.
        The optimiser is the classifier's own unless ``optimizer`` says otherwise (see the class). The
        classifier's ART ``preprocessing`` and ``preprocessing_defences`` are applied as in its ``fit``.

        :param x: Clean training inputs (NHWC, within the classifier's clip values), or a ``tf.data.Dataset`` of
            ``(x, y)`` batches (data larger than memory; then ``y`` is ``None``, ``batch_size`` is the dataset's own
            and ``validation_split`` must be 0).
        :param y: Labels over the N original classes (indices or one-hot); ``None`` for a dataset.
        :param batch_size: Batch size of array inputs (the global batch, split across a strategy's replicas).
        :param nb_epochs: Maximum number of epochs.
        :param kwargs: Unused (ART's signature, as ``AdversarialTrainer.fit``).
        :return: ``self``.
        :raises ValueError: For bad inputs, labels (over the N original classes), ``nb_epochs`` or ``batch_size``.
        """
        return self._fit(x, y, batch_size, nb_epochs, "fit")

    def fit_generator(self, generator, nb_epochs: int = 20, **kwargs) -> _ExtendedLabelTrainer:
        """Train as :meth:`fit` on the batches of an ART ``DataGenerator`` (data larger than memory; ART's
        ``AdversarialTrainer.fit_generator`` signature): each epoch takes ``ceil(generator.size /
        generator.batch_size)`` batches of ``generator.get_batch()``, validated as they come.

        :param generator: ART ``DataGenerator`` yielding clean inputs and labels over the N original classes.
        :param nb_epochs: Maximum number of epochs.
        :param kwargs: Unused (ART's signature).
        :return: ``self``.
        :raises ValueError: For a generator without a positive ``size`` / ``batch_size``, a bad batch, ``nb_epochs``,
            or ``validation_split > 0`` (early stopping needs array inputs).
        """
        return self._fit(generator, None, None, nb_epochs, "fit_generator")

    def _fit(self, x, y, batch_size: int | None, nb_epochs: int, caller: str) -> _ExtendedLabelTrainer:
        clf, owner = self._classifier, f"{type(self).__name__}.{caller}"
        validate_params({"nb_epochs": [POSITIVE_INT]}, {"nb_epochs": nb_epochs}, owner)
        arrays = not isinstance(x, tf.data.Dataset) and not callable(getattr(x, "get_batch", None))
        if arrays:
            validate_params({"batch_size": [POSITIVE_INT]}, {"batch_size": batch_size}, owner)
        elif self.validation_split > 0:
            raise ValueError(
                f"{owner}: validation_split={self.validation_split} holds out part of array inputs; with a "
                "tf.data.Dataset or DataGenerator pass validation_split=0"
            )
        rng = np.random.default_rng(self.seed)
        seed = int(rng.integers(2**31))
        source = dict(
            input_shape=tuple(clf.input_shape),
            nb_classes=self._nb_classes,
            clip_values=clf.clip_values,
            check_y=self._check_labels,
            owner=owner,
        )
        val_batches = None
        if arrays:
            x = check_inputs(x, "x", clf.clip_values, tuple(clf.input_shape), min_samples=2)
            y = self._check_labels(y, len(x))
            order = rng.permutation(len(x))
            n_val = int(round(self.validation_split * len(x)))
            val_idx, train_idx = order[:n_val], order[n_val:]
            if len(train_idx) == 0:
                raise ValueError(f"{owner}: validation_split leaves no training samples")
            train = training_batches(x[train_idx], y[train_idx], batch_size=batch_size, seed=rng, **source)
            if n_val:
                val_x, val_y = x[val_idx], y[val_idx]
                val_batches = TrainingBatches(
                    "arrays",
                    lambda: ((val_x[s], val_y[s]) for s in batches(n_val, batch_size)),
                    -(-n_val // batch_size),
                    (tf.TensorSpec((None, *clf.input_shape), tf.float32), tf.TensorSpec((None,), tf.int64)),
                )
        else:
            train = training_batches(x, y, batch_size=None, **source)
        steps = train.steps_per_epoch
        optimizer = self._make_optimizer(None if steps is None else steps * int(nb_epochs))
        self._check_strategy(optimizer)
        train_step, val_step = self._steps(optimizer, seed)
        val_generator = self._generators[1]

        self.history_: dict[str, list[float]] = {"loss": [], "val_loss": []}
        best, best_weights, waited = np.inf, None, 0
        self.best_epoch_ = int(nb_epochs) - 1
        bar = trange(int(nb_epochs), desc=f"{type(self).__name__} epochs", disable=not self.verbose)
        for epoch in bar:
            losses = self._run_step(train_step, train)
            if not losses:
                raise ValueError(f"{owner}: the training data yielded no batch")
            self.history_["loss"].append(float(np.mean(losses)))
            if val_batches is not None:
                val_generator.reset_from_seed(seed + 1)  # the same eps / sample draws every epoch
                val = float(np.mean(self._run_step(val_step, val_batches)))
                self.history_["val_loss"].append(val)
                if val < best:
                    best, waited, self.best_epoch_ = val, 0, epoch
                    best_weights = copy.deepcopy(clf.model.get_weights())
                else:
                    waited += 1
                bar.set_postfix(loss=self.history_["loss"][-1], val_loss=val)
                if waited >= self.patience:
                    logger.info("early stopping after epoch %d (best %d)", epoch, self.best_epoch_)
                    break
            else:
                bar.set_postfix(loss=self.history_["loss"][-1])
        if best_weights is not None:
            clf.model.set_weights(best_weights)
        if self.refresh_batch_norm:
            self._refresh_batch_norm(train)
        return self

    def _refresh_batch_norm(self, train: TrainingBatches) -> None:
        """Batch-norm statistics of the final weights, on up to ``REFRESH_BATCHES`` batches of the training mix."""
        clf, mix = self._classifier, self._step_fns["mix"]
        inputs = (mix(tf.cast(xb, tf.float32), tf.cast(yb, tf.int64)) for xb, yb in train.epoch())
        forward = classifier_logits(clf, fit=True, training=True)
        refresh_batch_norm(clf.model, inputs, forward, max_batches=REFRESH_BATCHES)


class TwoNLabelingTrainer(_ExtendedLabelTrainer):
    """2N labeling (Szűcs & Kiss 2023): train a 2N-output model to classify and to flag FGSM-perturbed inputs.

    Class ``N + i`` means "class ``i`` carrying an adversarial perturbation". Per training batch a
    simulated attacker perturbs ``perturbed_fraction`` of the images with FGSM made on
    ``substitute`` (paper: a separately trained clean model of the same architecture), with
    ``eps ~ U(0, eps_max)`` drawn per image; their label becomes ``y + N``; targets are
    label-smoothed with ``q``; the model is trained with cross-entropy (Fig. 1). At test time use
    :class:`~art_ext.defences.detector.evasion.TwoNLabelingDetector` and :class:`~art_ext.estimators.NClassView`
    (or :class:`~art_ext.estimators.FilteringPipeline`).

    The optimiser follows ART's convention (as ``AdversarialTrainer``, which trains with the classifier's
    ``fit``): by default the classifier's own optimiser (``classifier.optimizer``), which keeps its state across
    ``fit`` calls. ``optimizer="paper"`` trains as Sec. 4.5 of the paper: SGD with momentum and a learning rate
    cosine-annealed to 0 over all steps of a ``fit`` call (``learning_rate``, ``momentum``, ``cosine_annealing``;
    a fresh optimiser per call). It converges more slowly: in 3 epochs on 30,000 digits it left a fresh zoo CNN at
    96.1-96.4 % filtered accuracy, where the classifier's Adam reached 98.0 % (``benchmarks/defaults_two_n.py``).
    A classifier without an optimiser is trained with ``Adam(1e-3)`` (the Keras default; a warning says so).

    Where the paper is vague we chose: label smoothing spreads ``1 - q`` evenly over the other
    2N - 1 classes; exactly ``round(perturbed_fraction * batch)`` images of each batch are perturbed;
    early stopping watches the training loss on a held-out split (``validation_split``); the learning
    rate of ``optimizer="paper"`` (not given in the paper) defaults to 0.01 with momentum 0.9.

    | Paper link: https://doi.org/10.1007/s11042-022-14021-5

    :param classifier: ART ``TensorFlowV2Classifier`` whose model outputs 2N logits (or probabilities);
        see :func:`extend_classes`.
    :param substitute: N-class ART ``TensorFlowV2Classifier`` used by the simulated attacker; ``None``
        uses the classifier's own N-class view (white-box FGSM on the current model).
    :param eps_max: Upper bound of the per-sample FGSM amplitude ``eps ~ U(0, eps_max)`` in the classifier's input
        units (those of its ``clip_values``); ``None`` (default): 0.3 of the width of ``clip_values``, the
        paper's 0.3 on [0, 1] images and 76.5 on [0, 255] ones (see :attr:`eps_limit`).
    :param perturbed_fraction: Share of each batch that is perturbed (paper: 0.5).
    :param smoothing: Label smoothing ``q``, the target probability of the true (extended) class (paper: 0.8).
    :param optimizer: ``None`` (default): the classifier's own optimiser; ``"paper"``: SGD with momentum and cosine
        annealing (the next three parameters); or a Keras optimiser to use (it keeps its state across ``fit`` calls).
    :param learning_rate: Initial SGD learning rate of ``optimizer="paper"``.
    :param momentum: SGD momentum of ``optimizer="paper"``.
    :param cosine_annealing: With ``optimizer="paper"``, anneal the learning rate to 0 along a cosine over all steps
        of a ``fit`` call.
    :param validation_split: Share of the training data held out for early stopping (0 disables it).
    :param patience: Epochs without validation improvement before stopping.
    :param refresh_batch_norm: At the end of ``fit``, set the model's batch-normalisation statistics to those of the
        final weights on up to 20 batches of the training mix (:func:`~art_ext.estimators.refresh_batch_norm`):
        Keras' moving averages trail the weights, and after a few epochs the inference-mode model can be far worse
        than the trained one. A model without batch normalisation is unaffected.
    :param seed: Seed of the shuffling, perturbed-sample choice and eps draws.
    :param verbose: Show a progress bar over epochs.
    :param strategy: A ``tf.distribute.Strategy`` to train under (each global batch split across its replicas, see
        :mod:`art_ext.distribute`); the classifier's model, the substitute and the classifier's optimiser must have
        been built in its ``scope()``. ``None``: one device, as without a strategy.
    :raises ValueError: For a classifier without 2N outputs, a substitute with other than N classes,
        or parameters out of range.
    """

    _kind = "2n"


class NullLabelingTrainer(_ExtendedLabelTrainer):
    """NULL labeling (Hosseini et al. 2017), the L-inf variant of Szűcs & Kiss (2023, Sec. 3.4): N + 1 outputs.

    Like :class:`TwoNLabelingTrainer`, but a perturbed input keeps its class and gets NULL
    probability ``f(eps) = eps / eps_max``; the remaining ``1 - f`` follows the clean target, which
    puts ``q`` on ``y`` and ``(1 - q) / (N - 1)`` on the other original classes. The paper's
    clean pre-training phase is left to the user (train the N-class model first, then
    :func:`extend_classes` with ``keep_weights=True``). Parameters as :class:`TwoNLabelingTrainer`;
    the classifier's model outputs N + 1 logits, the last one being NULL.

    | Paper link: https://doi.org/10.1007/s11042-022-14021-5
    | NULL labeling: https://arxiv.org/abs/1703.04318
    """

    _kind = "null"
