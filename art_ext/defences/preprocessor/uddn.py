"""UDDN: the U-Net based deep denoising network of Li & Wang (2018), as an ART preprocessor.

The denoiser (:func:`art_ext.models.unet.uddn_unet`, the paper's Fig. 3) predicts the negative
adversarial noise and subtracts it from the input. It is trained *guided by a classifier*: the
loss is the L1 distance between the classifier's logits (``guide="logits"``, the paper's LGD,
l = -1) or last feature layer (``guide="features"``, FGD, l = -2) on the denoised image and on
the clean image, or plain pixel L1 (``guide="pixels"``, the DAE-style baseline). Only the
denoiser is trained. Training pairs are built from clean images with FGSM and I-FGSM (2, 4, 8
iterations) on the guide classifier at a uniformly sampled perturbation level (paper Sec. 5.1),
optionally augmented with noise sampled from a :class:`~art_ext.defences.preprocessor.GNR`.

The denoiser is differentiable, so ART's white-box attacks (e.g. ``ProjectedGradientDescent`` on a
``TensorFlowV2Classifier(preprocessing_defences=uddn)``) attack through it.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf
from art.defences.preprocessor.preprocessor import PreprocessorTensorFlowV2
from tqdm.auto import tqdm

from art_ext.data.batches import _is_data_generator, training_batches
from art_ext.distribute import (
    STRATEGY,
    check_built_in_scope,
    distributed_step,
    per_replica_mean,
    replica_batches,
    resolve_strategy,
)
from art_ext.estimators.classification import classifier_logits
from art_ext.models.unet import uddn_unet
from art_ext.params import (
    BOOL,
    NON_NEGATIVE_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    SEED,
    ClipValues,
    Interval,
    Options,
    Pair,
    Real,
    ValidatedParams,
    seeded,
    validate_params,
)
from art_ext.persistence import load_keras, save_keras
from art_ext.utils import batches, check_finite_tensor, check_inputs, check_labels, fgsm, iterative_fgsm

if TYPE_CHECKING:
    from art_ext.defences.preprocessor.gnr import GNR

logger = logging.getLogger(__name__)

GUIDES = ("logits", "features", "pixels")
#: Attacks that build the training pairs: FGSM and I-FGSM with 2, 4 and 8 iterations (paper Sec. 5.1).
PAPER_ATTACKS = ("fgsm", "ifgsm2", "ifgsm4", "ifgsm8")
#: Default perturbation levels of the training pairs, as fractions of the ``clip_values`` range (so (0, 0.3) at
#: ``clip_values=(0, 1)`` and (0, 76.5) at ``(0, 255)``): MNIST's customary L-inf budget, 0.3.
DEFAULT_EPS_FRACTION = (0.0, 0.3)
#: :meth:`UDDN.ensemble`: the pairs' levels as fractions of the range, the upper third of the default range (near
#: the budget the attacks use; the uniform [0, 0.3] spends most pairs on weaker noise).
ENSEMBLE_EPS_FRACTION = (0.2, 0.3)
#: :meth:`UDDN.ensemble`: the share of images whose pairs are made on the protected classifier itself.
ENSEMBLE_TARGET_WEIGHT = 0.5
#: Default encoder widths: small enough to train on 10,000 MNIST-sized images in minutes on a CPU (see the constructor).
DEFAULT_WIDTHS = (8, 16, 16, 16, 16)
#: Default number of ``attacks`` that make pairs from each clean image (see the constructor).
DEFAULT_ATTACKS_PER_IMAGE = 1
#: The parameters that define the denoiser network: changing one rebuilds it (refused once it is fitted).
_NETWORK_PARAMS = ("channels", "widths", "lateral", "residual")


def _mean_per_example(t: tf.Tensor) -> tf.Tensor:
    """The mean of each example's values: ``(n, ...) -> (n,)``."""
    return tf.reduce_mean(tf.reshape(t, [tf.shape(t)[0], -1]), axis=1)


def _attack_steps(name: str) -> int:
    """``"fgsm"`` -> 1, ``"ifgsmK"`` -> K; ``ValueError`` otherwise."""
    if name == "fgsm":
        return 1
    if isinstance(name, str) and name.startswith("ifgsm") and name[5:].isdigit() and int(name[5:]) >= 1:
        return int(name[5:])
    raise ValueError(f"attacks must be 'fgsm' or 'ifgsm<K>' (e.g. 'ifgsm4'), got {name!r}")


def guide_model(model: keras.Model, guide: str) -> keras.Model | None:
    """The Keras model whose outputs the guided loss compares: the logits model itself (``"logits"``),
    the input of its last layer (``"features"``), or ``None`` (``"pixels"``)."""
    if guide == "pixels":
        return None
    if guide == "logits":
        return model
    try:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        return keras.Model(inputs, model.layers[-1].input, name=f"{model.name}_features")
    except (AttributeError, ValueError, IndexError) as err:
        raise ValueError(
            "guide='features' needs a functional or Sequential Keras model whose last layer maps "
            "the last feature layer to the logits"
        ) from err


def _guide_function(classifier, guide: str):
    """``f(x) -> outputs`` the guided loss compares, on raw inputs (``clip_values`` units) as ART's ``predict``
    sees them: the classifier's ``preprocessing`` and ``preprocessing_defences`` are applied first (see
    :func:`~art_ext.estimators.classifier_logits`; probability outputs become log-probabilities). ``"features"``:
    the input of the Keras model's last layer, after the same preprocessing."""
    logits = classifier_logits(classifier)  # also refuses preprocessing without a TensorFlow forward pass
    if guide == "logits":
        return logits
    features = guide_model(classifier.model, guide)
    operations = list(getattr(classifier, "preprocessing_operations", None) or [])

    def forward(x: tf.Tensor) -> tf.Tensor:
        if operations:
            x, _ = classifier._apply_preprocessing(x, None, fit=False)  # pylint: disable=protected-access
        return features(x, training=False)

    return forward


class _Plateau:
    """The paper's schedule: the learning rate drops 10x (down to ``min_learning_rate``) after ``patience`` epochs
    without a 1% improvement of the epoch loss; each epoch is recorded in ``history_``."""

    def __init__(self, uddn: UDDN, optimizer: keras.optimizers.Optimizer) -> None:
        self.uddn, self.optimizer, self.best, self.waited = uddn, optimizer, np.inf, 0

    def end_epoch(self, epoch: int, loss: float, bar) -> None:
        lr = float(self.optimizer.learning_rate.numpy())
        self.uddn.history_.append({"epoch": epoch, "loss": loss, "learning_rate": lr})
        bar.set_postfix(loss=f"{loss:.4g}", lr=f"{lr:.1e}")
        if loss < self.best * 0.99:
            self.best, self.waited = loss, 0
            return
        self.waited += 1
        if self.waited >= self.uddn.patience and lr > self.uddn.min_learning_rate:
            self.optimizer.learning_rate.assign(max(lr * 0.1, self.uddn.min_learning_rate))
            self.waited = 0


class UDDN(ValidatedParams, PreprocessorTensorFlowV2):
    """
    U-Net based deep denoising network (UDDN) trained with a classifier-guided loss.

    | Paper link: Li, F., Wang, Y. "Defending against adversarial attacks using a U-Net-based deep
      denoising network and knowledge transfer" (UDDN), Applied Sciences 9(1):76, 2019 (online 2018),
      https://doi.org/10.3390/app9010076 . The guided loss follows HGD (Liao et al., CVPR 2018),
      https://arxiv.org/abs/1712.02976 .

    | Please keep in mind the limitations of defences: HGD-style denoisers are broken by adaptive
      attacks that go through them (Athalye et al. 2018, https://arxiv.org/abs/1802.00420 ).
      Evaluate with white-box attacks on the defended classifier, not only with transferred ones.

    Choices where the paper is vague (all parameters): the C3 unit feeds the concatenation of its
    first two units to the third; upsampling is bilinear; the input is padded by edge replication
    to a multiple of 16; the denoised image is clipped to ``clip_values`` (in training too, before the guide
    classifier sees it; the pixel loss takes the raw output, so pixels outside the range are pulled back in);
    the L1 loss is the mean absolute difference; the perturbation level is uniform in ``eps_range`` (the paper's
    "[0, 1]" is in units we cannot recover); clean pairs ``(x, x)`` are added by default (``include_clean``) so the
    denoiser learns to leave clean images alone.
    """

    params = [
        "classifier",
        "guide",
        "clip_values",
        "channels",
        "widths",
        "lateral",
        "residual",
        "attacks",
        "eps_range",
        "include_clean",
        "learning_rate",
        "min_learning_rate",
        "patience",
        "batch_size",
        "forward_batch_size",
        "seed",
        "verbose",
        "extra_guides",
        "channels_first",
        "attack_sources",
        "source_weights",
        "attacks_per_image",
        "strategy",
    ]
    _parameter_constraints = {
        "guide": [Options(GUIDES)],
        "clip_values": [None, ClipValues()],
        "channels": [None, POSITIVE_INT],
        "widths": [Pair(POSITIVE_INT, length=5)],
        "lateral": [BOOL],
        "residual": [BOOL],
        "attacks": [tuple, list],
        "eps_range": [None, Pair(NON_NEGATIVE_REAL, ordered=True)],
        "include_clean": [BOOL],
        "learning_rate": [POSITIVE_REAL],
        "min_learning_rate": [POSITIVE_REAL],
        "patience": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "forward_batch_size": [POSITIVE_INT],
        "seed": [None, SEED],
        "verbose": [BOOL],
        "extra_guides": [None, list, tuple],
        "channels_first": [BOOL],
        "attack_sources": [None, list, tuple],
        "source_weights": [None, list, tuple],
        "attacks_per_image": [None, POSITIVE_INT],
        "strategy": [None, STRATEGY],
    }

    def __init__(
        self,
        classifier=None,
        guide: str = "logits",
        clip_values: tuple[float, float] | None = None,
        channels: int | None = None,
        widths: tuple[int, ...] = DEFAULT_WIDTHS,
        lateral: bool = True,
        residual: bool = True,
        attacks: tuple[str, ...] = PAPER_ATTACKS,
        eps_range: tuple[float, float] | None = None,
        include_clean: bool = True,
        learning_rate: float = 1e-3,
        min_learning_rate: float = 1e-4,
        patience: int = 2,
        batch_size: int = 32,
        forward_batch_size: int = 512,
        seed: int | None = None,
        apply_fit: bool = False,
        apply_predict: bool = True,
        verbose: bool = False,
        extra_guides: list | None = None,
        channels_first: bool = False,
        attack_sources: list | None = None,
        source_weights: list[float] | None = None,
        attacks_per_image: int | None = DEFAULT_ATTACKS_PER_IMAGE,
        strategy: tf.distribute.Strategy | None = None,
    ) -> None:
        """
        Create a UDDN preprocessor (the denoiser is built now, and trained by :meth:`fit`).

        :param classifier: ART ``TensorFlowV2Classifier`` guiding the training and making the training pairs,
               called as ART's ``predict`` calls it: its ``preprocessing`` (e.g. ``(mean, std)``) and
               ``preprocessing_defences`` are applied in TensorFlow, and a model that outputs probabilities is
               guided by its log-probabilities (:func:`~art_ext.estimators.classifier_logits`). Needed for
               ``guide="logits"``/``"features"`` and for :meth:`fit` without ``x_adversarial``.
        :param guide: ``"logits"`` (LGD, l=-1), ``"features"`` (FGD, l=-2) or ``"pixels"`` (pixel L1).
        :param clip_values: ``(min, max)`` of valid inputs; the output is clipped to it. Default ``None``: the
               classifier's ``clip_values`` (so a classifier of ``[0, 255]`` inputs gets a ``[0, 255]`` denoiser),
               or ``(0, 1)`` without a classifier or when it has none.
        :param channels: Image channels; default the classifier's (its ``input_shape[0]`` with ``channels_first``,
               else ``input_shape[-1]``).
        :param widths: Widths of the five encoder modules (the decoder reuses the first four). Default
               ``DEFAULT_WIDTHS`` = ``(8, 16, 16, 16, 16)``, sized for small images (MNIST, CIFAR-10) and a CPU
               budget; the paper's (HGD's, for 299 x 299 images) are ``art_ext.models.unet.PAPER_WIDTHS`` =
               ``(64, 128, 256, 256, 256)``, about 190 times the parameters and 30 times the training time.
        :param lateral: U-Net lateral connections; ``False`` is the paper's DAE architecture.
        :param residual: Learn the noise and output ``x - dx`` (paper); ``False`` outputs the image.
        :param attacks: Attacks making training pairs: ``"fgsm"`` and ``"ifgsm<K>"``.
        :param eps_range: L-inf perturbation level of each training pair, uniform in ``[lo, hi]``, in the units of
               the inputs (as ART's ``eps``: ``(0, 76.5)`` at ``clip_values=(0, 255)`` is ``(0, 0.3)`` at
               ``(0, 1)``). Default ``None``: ``DEFAULT_EPS_FRACTION`` = (0, 0.3) times the width of
               ``clip_values``, so the default means the same at every input scale (see :attr:`eps_levels`).
        :param include_clean: Also train on clean pairs ``(x, x)``.
        :param learning_rate: Initial Adam learning rate (paper 1e-3).
        :param min_learning_rate: The rate decays by 10x on a loss plateau down to this (paper 1e-4).
        :param patience: Epochs without a 1% loss improvement before the rate decays.
        :param batch_size: Training batch size (paper 32).
        :param forward_batch_size: Chunk size of :meth:`forward` on large batches (memory bound only).
        :param seed: Seed of the network initialisation, the perturbation levels and the shuffling (local: the
               global random state is not touched).
        :param apply_fit: True if applied during fitting/training (of the classifier).
        :param apply_predict: True if applied during predicting.
        :param verbose: Show a progress bar in :meth:`fit`.
        :param extra_guides: Further classifiers (same input shape) that guide the training beside ``classifier``:
               the loss is the mean of the guided L1 distances over all guides. Not in the paper, which guides by
               the one model it protects; several guides teach the denoiser to remove what fools other models
               too, for models it never saw. They do not make training pairs (see ``attack_sources`` of
               :meth:`fit` for that).
        :param channels_first: Inputs are NCHW (ART's convention: transposed to NHWC for the network and back), as
               for a classifier that takes ``channels_first`` images.
        :param attack_sources: Classifiers whose adversarial examples make the training pairs, one drawn at random
               per image (see :meth:`make_pairs`); default ``[classifier]``. :meth:`ensemble` sets them.
        :param source_weights: Probability of each of ``attack_sources``; default uniform.
        :param attacks_per_image: How many of ``attacks`` make pairs from each clean image, drawn at random per image
               (each attack then covers ``attacks_per_image / len(attacks)`` of the images); ``None``: every attack
               on every image (the paper). Default ``DEFAULT_ATTACKS_PER_IMAGE`` = 1: the attacks of one image are
               near-duplicates, so one per image keeps the variety of noise at a fraction of the training time.
        :param strategy: A ``tf.distribute.Strategy`` to train the denoiser under (e.g. ``MirroredStrategy`` over
               several GPUs): the denoiser and its optimizer are created in ``strategy.scope()`` and every step of
               :meth:`fit` splits its batch across the replicas (losses scaled to the global batch). The guide
               classifiers must have been built inside the same scope. Pairs are made on one device. ``None``: no
               distribution (TensorFlow's default strategy).
        :raises ValueError: If a parameter is invalid.
        """
        super().__init__(is_fitted=False, apply_fit=apply_fit, apply_predict=apply_predict)
        self.classifier = classifier
        self.extra_guides = extra_guides
        self.guide = guide
        self.clip_values = clip_values
        self.channels = channels
        self.widths = widths
        self.lateral = lateral
        self.residual = residual
        self.attacks = attacks
        self.eps_range = eps_range
        self.include_clean = include_clean
        self.learning_rate = learning_rate
        self.min_learning_rate = min_learning_rate
        self.patience = patience
        self.batch_size = batch_size
        self.forward_batch_size = forward_batch_size
        self.seed = seed
        self.verbose = verbose
        self.channels_first = channels_first
        self.attack_sources = attack_sources
        self.source_weights = source_weights
        self.attacks_per_image = attacks_per_image
        self.strategy = strategy
        self._check_params()
        self.history_: list[dict[str, float]] = []
        self._build_network()
        self._guide_models = self._build_guides()
        self._denoise = self._compile_denoise()
        self._compiled_cache: dict = {}

    @classmethod
    def ensemble(
        cls,
        classifier,
        local_classifiers: list,
        target_weight: float = ENSEMBLE_TARGET_WEIGHT,
        **kwargs,
    ) -> UDDN:
        """
        The preset for transferred attacks and for models the denoiser never saw: pairs made on several models and
        a loss guided by all of them.

        Beside the classifier it protects, the user supplies a few *local* classifiers of other architectures
        trained on the same task (any the user has; they are only attacked and read, never trained). Then

        * each image's training pairs are attacked on the protected classifier (share ``target_weight``) or on one
          of the local classifiers (the rest, equally), as HGD (Liao et al. 2018) made its training set on an
          ensemble: the denoiser learns noise that is not specific to one model;
        * the loss averages the guided L1 distances of all of them (``extra_guides``; not in the paper, which guides
          by the one model it protects);
        * the pairs' perturbation levels are the upper third of the default range, ``ENSEMBLE_EPS_FRACTION`` =
          (0.2, 0.3) of the ``clip_values`` width, near the budget of the attacks (more pairs at the strength that
          fools models).

        On MNIST (:doc:`/results/uddn`) this preset raised a held-out classifier's accuracy on its own FGSM from
        87.65% to 90.35% and the target's black-box accuracy from 94.55% to 96.4%, at 1.4 points of white-box
        accuracy on the target. Every other argument is the constructor's (and overrides the preset).

        :param classifier: The classifier to protect (the main guide).
        :param local_classifiers: One or more further classifiers of the same input shape.
        :param target_weight: Share of images whose pairs are made on ``classifier``, in ``(0, 1]``.
        :param kwargs: Further constructor arguments (e.g. ``widths``, ``seed``, ``clip_values``, ``eps_range``).
        :return: An unfitted UDDN; call :meth:`fit` with clean images.
        :raises ValueError: Without local classifiers, or with an invalid argument.
        """
        validate_params(
            {"local_classifiers": [list, tuple], "target_weight": [Interval(Real, 0, 1, closed="right")]},
            {"local_classifiers": local_classifiers, "target_weight": target_weight},
            "UDDN.ensemble",
        )
        local = list(local_classifiers)
        if not local:
            raise ValueError("UDDN.ensemble: local_classifiers must hold at least one classifier")
        for name in ("extra_guides", "attack_sources", "source_weights"):
            if name in kwargs:
                raise ValueError(f"UDDN.ensemble: {name} is set by the preset; build UDDN(...) directly to choose it")
        uddn = cls(
            classifier,
            extra_guides=local,
            attack_sources=[classifier, *local],
            source_weights=[target_weight] + [(1.0 - target_weight) / len(local)] * len(local),
            **kwargs,
        )
        if "eps_range" not in kwargs:  # the preset's fractions of the width of the (resolved) clip_values
            span = uddn.clip_values[1] - uddn.clip_values[0]
            uddn.set_params(eps_range=tuple(f * span for f in ENSEMBLE_EPS_FRACTION))
        return uddn

    @property
    def eps_levels(self) -> tuple[float, float]:
        """The range of the training pairs' L-inf levels in input units: ``eps_range``, or by default
        ``DEFAULT_EPS_FRACTION`` times the width of ``clip_values``."""
        if self.eps_range is not None:
            return self.eps_range
        span = self.clip_values[1] - self.clip_values[0]
        return (DEFAULT_EPS_FRACTION[0] * span, DEFAULT_EPS_FRACTION[1] * span)

    def _network_key(self) -> tuple:
        return tuple(getattr(self, name) for name in _NETWORK_PARAMS)

    def _build_network(self) -> None:
        """A freshly initialised ``denoiser_`` (deterministic under ``seed``, without touching global RNG)."""
        with seeded(self.seed), resolve_strategy(self.strategy).scope():
            self.denoiser_ = uddn_unet(self.channels, self.widths, lateral=self.lateral, residual=self.residual)
        self._built_for = self._network_key()

    def _build_guides(self) -> list[keras.Model]:
        if self.classifier is None or self.guide == "pixels":
            return []
        return [_guide_function(c, self.guide) for c in (self.classifier, *self.extra_guides)]

    def _params_changed(self, changed: set[str]) -> None:
        """Rebuild what depends on the changed parameters: the network (refused once fitted), the guides and the
        compiled inference pass (which bakes in ``clip_values`` and the layout)."""
        if self._network_key() != self._built_for:
            if self.is_fitted:
                names = [n for n, new, old in zip(_NETWORK_PARAMS, self._network_key(), self._built_for) if new != old]
                raise ValueError(
                    f"UDDN: cannot change {names} of a fitted denoiser (its weights belong to the "
                    f"network they were trained in); create a new UDDN instead"
                )
            self._build_network()
        elif "strategy" in changed:
            if self.is_fitted:
                raise ValueError(
                    "UDDN: cannot change the strategy of a fitted denoiser (its variables live in the old strategy's "
                    "scope); save it and load(path, strategy=...) instead"
                )
            self._build_network()  # the network's variables belong to the strategy's scope
        elif "seed" in changed and not self.is_fitted:
            self._build_network()  # the seed sets the initial weights
        self._guide_models = self._build_guides()
        self._denoise = self._compile_denoise()
        self._compiled_cache = {}  # the attacks bake in clip_values

    def __deepcopy__(self, memo: dict) -> UDDN:
        """A deep copy of the denoiser and its state; the guide classifiers are shared, not copied (they are the
        user's models, and may hold traced functions that cannot be copied). The copy compiles its own inference
        pass (a traced ``tf.function`` cannot be copied)."""
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for shared in (self.classifier, self.extra_guides, self.attack_sources, self.strategy):
            memo[id(shared)] = shared
        for key, value in self.__dict__.items():
            if key not in ("_denoise", "_guide_models", "_compiled_cache"):
                clone.__dict__[key] = copy.deepcopy(value, memo)
        clone._compiled_cache = {}
        clone._guide_models = clone._build_guides()
        clone._denoise = clone._compile_denoise()
        return clone

    def _compile_denoise(self):
        """The compiled inference pass of the current ``denoiser_``, in the input layout."""
        return tf.function(lambda x: self._clip(self._network(x, training=False)), input_signature=[self._spec()])

    def _network(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        """``denoiser_`` on a batch in the input layout (NCHW inputs are transposed to NHWC and back).

        The network works on images scaled to ``[0, 1]`` (its output is scaled back to ``clip_values``), so the same
        architecture, initialisation and learning rate fit inputs in ``[0, 1]`` and in ``[0, 255]`` alike: the
        noise it predicts is a fraction of the range, not 255 times larger at the wider scale."""
        low, span = self.clip_values[0], self.clip_values[1] - self.clip_values[0]
        unit = low == 0.0 and span == 1.0  # (0, 1): no scaling ops (the network sees the inputs themselves)
        if not unit:
            x = (x - low) / span
        if self.channels_first:
            out = tf.transpose(self.denoiser_(tf.transpose(x, [0, 2, 3, 1]), training=training), [0, 3, 1, 2])
        else:
            out = self.denoiser_(x, training=training)
        return out if unit else out * span + low

    def _spec(self) -> tf.TensorSpec:
        """One signature for every batch size and image size: each ``tf.function`` is traced once."""
        if self.channels_first:
            return tf.TensorSpec([None, self.channels, None, None], tf.float32)
        return tf.TensorSpec([None, None, None, self.channels], tf.float32)

    def _layout(self) -> str:
        return f"(n, {self.channels}, H, W) (NCHW)" if self.channels_first else f"(n, H, W, {self.channels}) (NHWC)"

    def _check_layout(self, shape: tuple, name: str = "x") -> None:
        if len(shape) != 4 or shape[1 if self.channels_first else -1] != self.channels:
            raise ValueError(f"{name} must have shape {self._layout()}, got {tuple(shape)}")

    # ------------------------------------------------------------------ inference

    def _clip(self, x: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(x, self.clip_values[0], self.clip_values[1])

    def forward(self, x: tf.Tensor, y: Any | None = None) -> tuple[tf.Tensor, Any | None]:
        """
        Denoise a batch (differentiable; large batches run in chunks of ``forward_batch_size``).

        This is the path ART takes (``TensorFlowV2Classifier(preprocessing_defences=uddn)``), so it checks the values
        itself (finite, within ``clip_values``): eagerly with a ``ValueError``, inside a graph with ``tf.debugging``
        assertions.

        :param x: Batch of shape ``(n, H, W, channels)`` (``(n, channels, H, W)`` with ``channels_first``), any
               ``H`` and ``W``.
        :param y: Labels, returned unchanged.
        :return: Denoised batch of the same shape, clipped to ``clip_values``, and ``y``.
        :raises ValueError: If ``x`` is not a 4-D batch with ``channels`` channels, holds NaN or inf, or values
                 outside ``clip_values``.
        """
        x = tf.convert_to_tensor(x, dtype=tf.float32)
        self._check_layout(tuple(x.shape))
        x = check_finite_tensor(x, "x", self.clip_values)
        n = x.shape[0]
        if n is None or n <= self.forward_batch_size:
            return self._denoise(x), y
        return tf.concat([self._denoise(x[s]) for s in batches(n, self.forward_batch_size)], axis=0), y

    def __call__(self, x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """
        Denoise a NumPy batch.

        :param x: Batch ``(n, H, W, channels)`` (``(n, channels, H, W)`` with ``channels_first``) with values within
               ``clip_values``.
        :param y: Labels, returned unchanged.
        :return: Denoised batch and ``y``.
        :raises ValueError: Wrong shape or channel count, NaN/inf, or values outside ``clip_values``.
        """
        x = check_inputs(x, "x", self.clip_values)
        self._check_layout(x.shape)
        x_out, _ = self.forward(tf.convert_to_tensor(x))
        return x_out.numpy(), y

    # ------------------------------------------------------------------ training pairs

    def make_pairs(
        self,
        x: np.ndarray,
        y: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        sources: list | None = None,
        source_weights: list[float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """
        Build training pairs ``(x_noisy, x_clean)``: each attack of ``attacks`` at a per-sample L-inf level
        uniform in :attr:`eps_levels` (and ``(x, x)`` if ``include_clean``).

        The paper does not say which model its training pairs are attacked on; by default it is the guide
        classifier. With ``sources``, each image's attacks are made on one of several classifiers drawn at random,
        as HGD (Liao et al. 2018) made its training set on an ensemble: the denoiser then learns noise that is not
        specific to one model, which helps against transferred (black-box) attacks.

        :param x: Clean images.
        :param y: Labels for the attacks; default the guide classifier's predictions (no labels needed).
        :param rng: Random generator of the perturbation levels and the source of each image.
        :param sources: Classifiers to attack (ART estimators with a Keras ``model``); default the
               ``attack_sources`` parameter, else ``[classifier]``.
        :param source_weights: Probability of each source; default the ``source_weights`` parameter when
               ``sources`` is not given, else uniform.
        :return: ``(x_noisy, x_clean)``, each ``k * n`` images (``+ n`` with ``include_clean``), ``k`` the number
                 of attacks per image (``attacks_per_image``, or all of ``attacks``).
        :raises ValueError: Without a classifier, or bad ``x``/``y``/``sources``/``source_weights``.
        """
        if sources is None and self.attack_sources:
            sources = self.attack_sources
            source_weights = self.source_weights if source_weights is None else source_weights
        if self.classifier is None and not sources:
            raise ValueError("make_pairs (and fit without x_adversarial) needs a classifier to attack")
        x = check_inputs(x, "x", self.clip_values)
        for i, source in enumerate(sources or []):
            if not isinstance(getattr(source, "model", None), keras.Model):
                raise ValueError(
                    f"sources[{i}] must be an ART estimator with a Keras `model`, got {type(source).__name__}"
                )
        models = list(sources or [self.classifier])
        weights = np.full(len(models), 1 / len(models)) if source_weights is None else np.asarray(source_weights, float)
        if weights.shape != (len(models),) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
            raise ValueError(
                f"source_weights must be {len(models)} non-negative numbers summing to 1, got {source_weights!r}"
            )
        labeller = self.classifier if self.classifier is not None else (sources or [])[0]
        if y is None:
            predict = self._compiled(labeller, 0, x.shape[1:])
            y = np.concatenate(
                [np.argmax(predict(tf.constant(x[s])), axis=1) for s in batches(len(x), self.forward_batch_size)]
            )
        y = check_labels(y, len(x), int(labeller.nb_classes))
        rng = rng or np.random.default_rng(self.seed)
        levels = [rng.uniform(*self.eps_levels, size=len(x)).astype(np.float32) for _ in self.attacks]
        # with one source every image is its own: no draw is needed (and none is taken from the shared rng)
        owner = rng.choice(len(models), size=len(x), p=weights) if len(models) > 1 else np.zeros(len(x), int)
        chosen = self._choose_attacks(len(x), rng)
        noisy, clean = [], []
        for j, (name, eps) in enumerate(zip(self.attacks, levels)):
            rows = np.flatnonzero(chosen[:, j])
            x_adv = np.empty_like(x[rows])
            for k, model in enumerate(models):
                attack = self._compiled(model, _attack_steps(name), x.shape[1:])
                pos = np.flatnonzero(owner[rows] == k)
                idx = rows[pos]
                for s in batches(len(idx), self.forward_batch_size):
                    x_adv[pos[s]] = attack(x[idx[s]], y[idx[s]], eps[idx[s]]).numpy()
            noisy.append(x_adv)
            clean.append(x[rows])
        if self.include_clean:
            noisy.append(x)
            clean.append(x)
        return np.concatenate(noisy), np.concatenate(clean)

    def _choose_attacks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, len(attacks))`` mask of the attacks each image gets: all of them (``attacks_per_image=None``, no
        draw), else ``attacks_per_image`` of them drawn at random without replacement for each image."""
        n_attacks = len(self.attacks)
        if self.attacks_per_image is None or self.attacks_per_image >= n_attacks:
            return np.ones((n, n_attacks), dtype=bool)
        picks = np.argsort(rng.random((n, n_attacks)), axis=1)[:, : self.attacks_per_image]
        chosen = np.zeros((n, n_attacks), dtype=bool)
        np.put_along_axis(chosen, picks, True, axis=1)
        return chosen

    def _compiled(self, source, steps: int, shape: tuple[int, ...]):
        """The compiled prediction (``steps == 0``) or attack on ``source``, made once per source, attack and image
        shape (a dataset's batches reuse them instead of tracing new graphs)."""
        key = (id(source), steps, tuple(shape))
        if key not in self._compiled_cache:
            logits_fn = classifier_logits(source)
            if steps == 0:
                spec = [tf.TensorSpec([None, *shape], tf.float32)]
                compiled = tf.function(logits_fn, input_signature=spec)
            else:
                compiled = self._compiled_attack(logits_fn, steps, shape)
            self._compiled_cache[key] = (source, compiled)  # the source is kept so its id is not reused
        return self._compiled_cache[key][1]

    def _compiled_attack(self, logits_fn, steps: int, shape: tuple[int, ...]):
        """FGSM (``steps == 1``) or I-FGSM with ``steps`` iterations on ``logits_fn`` (a classifier as
        :func:`~art_ext.estimators.classifier_logits` sees it), as one graph."""
        signature = [
            tf.TensorSpec([None, *shape], tf.float32),
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None], tf.float32),
        ]
        if steps == 1:
            return tf.function(
                lambda xb, yb, eps: fgsm(logits_fn, xb, yb, eps, self.clip_values), input_signature=signature
            )
        return tf.function(
            lambda xb, yb, eps: iterative_fgsm(logits_fn, xb, yb, eps, steps, clip_values=self.clip_values),
            input_signature=signature,
        )

    # ------------------------------------------------------------------ training

    def _make_train_step(self, optimizer: keras.optimizers.Optimizer):
        """The compiled training step ``step(x_noisy, x_clean, global_batch) -> loss`` under ``strategy``: each
        replica's loss is its share of the global batch's mean (per-example losses summed over the replica and
        divided by the global batch size), so the summed gradients equal single-device training."""
        denoiser, guides = self.denoiser_, self._guide_models

        def replica_step(x_noisy, x_clean, global_batch):
            with tf.GradientTape() as tape:
                x_hat = self._network(x_noisy, training=True)
                if not guides:
                    # the raw output: through a clip, pixels outside the range get no gradient, and the image-output
                    # DAE, which starts below zero, would stay on the all-black image for good
                    per_example = _mean_per_example(tf.abs(x_hat - x_clean))
                else:  # the classifier sees what inference gives it; an identity-gradient clip here lets the
                    # denoiser drift outside the range unchecked (clean-image L1 0.0009 -> 0.083 on MNIST)
                    per_example = self._guided_distance(guides, self._clip(x_hat), x_clean)
                loss = per_replica_mean(per_example, global_batch)
            grads = tape.gradient(loss, denoiser.trainable_variables)
            optimizer.apply_gradients(zip(grads, denoiser.trainable_variables))
            return loss

        signature = [self._spec(), self._spec(), tf.TensorSpec([], tf.int32)]
        return distributed_step(self.strategy, replica_step, input_signature=signature)

    @staticmethod
    def _guided_distance(guides: list, x_hat: tf.Tensor, x_clean: tf.Tensor) -> tf.Tensor:
        """Per example, the mean over the guide models of the mean absolute difference of their outputs."""
        return tf.add_n([_mean_per_example(tf.abs(g(x_hat) - g(x_clean))) for g in guides]) / len(guides)

    def guided_loss(self, x_noisy: np.ndarray, x_clean: np.ndarray) -> float:
        """The training loss (L1 on the guide's outputs, or on pixels) of the current denoiser, in inference mode."""
        x_noisy = check_inputs(x_noisy, "x_noisy", self.clip_values)
        x_clean = check_inputs(x_clean, "x_clean", self.clip_values, input_shape=x_noisy.shape[1:])
        if len(x_noisy) != len(x_clean):
            raise ValueError(f"x_noisy and x_clean must have the same length, got {len(x_noisy)} and {len(x_clean)}")
        total = 0.0
        for s in batches(len(x_noisy), self.forward_batch_size):
            x_hat = self._denoise(x_noisy[s])
            if self._guide_models:
                distance = self._guided_distance(self._guide_models, x_hat, tf.constant(x_clean[s]))
            else:
                distance = _mean_per_example(tf.abs(x_hat - x_clean[s]))
            total += float(tf.reduce_sum(distance))
        return total / len(x_noisy)

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray | None = None,
        x_adversarial: np.ndarray | None = None,
        nb_epochs: int = 30,
        batch_size: int | None = None,
        gnr: GNR | None = None,
        gnr_ratio: float = 0.0,
        attack_sources: list | None = None,
        source_weights: list[float] | None = None,
        **kwargs,
    ) -> UDDN:
        """
        Train the denoiser (the classifier is not changed).

        :param x: Clean training images ``(n, H, W, channels)``; or, for data larger than memory, a
               ``tf.data.Dataset`` of ``(images, labels)`` batches or an ART ``DataGenerator`` (then ``y`` and
               ``x_adversarial`` must be ``None``): the pairs are then made batch by batch, afresh in every epoch,
               and each batch of pairs is trained on in shuffled steps of ``batch_size``.
        :param y: Labels for making the adversarial pairs; default the classifier's predictions.
        :param x_adversarial: Noisy counterparts of ``x`` (same shape). If ``None``, pairs are made with
               :meth:`make_pairs` (FGSM / I-FGSM on the guide classifier).
        :param nb_epochs: Number of epochs (paper 30-40).
        :param batch_size: Batch size; default the ``batch_size`` parameter (paper 32).
        :param gnr: A fitted :class:`~art_ext.defences.preprocessor.GNR`; with ``gnr_ratio > 0`` it adds
               ``round(gnr_ratio * n)`` pairs ``(clip(x + noise), x)`` with sampled noise (paper Sec. 2).
        :param gnr_ratio: Number of GNR pairs per clean image (the paper uses 2 on new clean images).
        :param attack_sources: Without ``x_adversarial``: classifiers whose adversarial examples make the pairs,
               one drawn at random per image (see :meth:`make_pairs`); default the ``attack_sources`` parameter, else
               the guide classifier.
        :param source_weights: Probability of each of ``attack_sources``; default as in :meth:`make_pairs`.
        :param kwargs: None are accepted (ART's signature; a misspelt argument is an error, not silently ignored).
        :return: self.
        :raises ValueError: Bad inputs, or a guide that needs a classifier without one.
        """
        if self.guide != "pixels" and not self._guide_models:
            raise ValueError(f"guide={self.guide!r} needs a classifier: load(path, classifier=...) to train further")
        batch_size = self.batch_size if batch_size is None else batch_size
        validate_params(
            {"nb_epochs": [POSITIVE_INT], "batch_size": [POSITIVE_INT], "gnr_ratio": [NON_NEGATIVE_REAL]},
            {"nb_epochs": nb_epochs, "batch_size": batch_size, "gnr_ratio": gnr_ratio},
            "UDDN.fit",
        )
        if kwargs:
            raise ValueError(f"UDDN.fit: unexpected argument(s) {sorted(kwargs)}")
        if isinstance(x, tf.data.Dataset) or _is_data_generator(x):
            if x_adversarial is not None:
                raise ValueError("UDDN.fit: x_adversarial needs array x (a dataset's pairs are made batch by batch)")
            return self._fit_stream(x, y, nb_epochs, batch_size, gnr, gnr_ratio, attack_sources, source_weights)
        x = check_inputs(x, "x", self.clip_values)
        self._check_layout(x.shape)
        self._check_gnr(gnr, gnr_ratio, x.shape[1:])
        rng = np.random.default_rng(self.seed)
        if x_adversarial is None:
            x_noisy, x_clean = self.make_pairs(x, y, rng, sources=attack_sources, source_weights=source_weights)
        else:
            x_noisy = check_inputs(x_adversarial, "x_adversarial", self.clip_values, input_shape=x.shape[1:])
            if len(x_noisy) != len(x):
                raise ValueError(f"x_adversarial must have one image per x ({len(x)}), got {len(x_noisy)}")
            x_clean = x
        x_noisy, x_clean = self._add_gnr_pairs(x, x_noisy, x_clean, gnr, gnr_ratio, rng)

        step, optimizer = self._training()
        bar = tqdm(range(int(nb_epochs)), desc="UDDN", disable=not self.verbose)
        schedule = _Plateau(self, optimizer)
        for epoch in bar:
            order = rng.permutation(len(x_noisy))
            total = 0.0
            for s in batches(len(order), batch_size):
                idx = np.sort(order[s])
                total += self._train_on(step, x_noisy[idx], x_clean[idx]) * len(idx)
            schedule.end_epoch(epoch, total / len(order), bar)
        self._is_fitted = True
        return self

    def _fit_stream(self, source, y, nb_epochs, batch_size, gnr, gnr_ratio, attack_sources, source_weights) -> UDDN:
        """:meth:`fit` on a ``tf.data.Dataset`` or ART ``DataGenerator`` of clean ``(images, labels)`` batches."""
        reference = (attack_sources or self.attack_sources or [None])[0]
        reference = self.classifier if self.classifier is not None else reference
        if reference is None:
            raise ValueError("UDDN.fit on a dataset or DataGenerator makes its pairs, so it needs a classifier")
        input_shape = tuple(int(d) for d in reference.input_shape)
        self._check_layout((None, *input_shape))
        self._check_gnr(gnr, gnr_ratio, input_shape)
        data = training_batches(
            source,
            y,
            batch_size=None,
            input_shape=input_shape,
            nb_classes=int(reference.nb_classes),
            clip_values=self.clip_values,
            owner="UDDN.fit",
        )
        rng = np.random.default_rng(self.seed)
        step, optimizer = self._training()
        bar = tqdm(range(int(nb_epochs)), desc="UDDN", disable=not self.verbose)
        schedule = _Plateau(self, optimizer)
        for epoch in bar:
            total, count = 0.0, 0
            for xb, yb in data.epoch():
                xb = np.asarray(xb, dtype=np.float32)
                x_noisy, x_clean = self.make_pairs(xb, yb, rng, sources=attack_sources, source_weights=source_weights)
                x_noisy, x_clean = self._add_gnr_pairs(xb, x_noisy, x_clean, gnr, gnr_ratio, rng)
                order = rng.permutation(len(x_noisy))
                for s in batches(len(order), batch_size):
                    idx = np.sort(order[s])
                    total += self._train_on(step, x_noisy[idx], x_clean[idx]) * len(idx)
                    count += len(idx)
            if count == 0:
                raise ValueError("UDDN.fit: the dataset or DataGenerator gave no batch in an epoch")
            schedule.end_epoch(epoch, total / count, bar)
        self._is_fitted = True
        return self

    def fit_generator(self, generator, nb_epochs: int = 30, **kwargs) -> UDDN:
        """
        Train the denoiser on an ART ``DataGenerator`` of clean ``(images, labels)`` batches (ART's convention);
        the same as ``fit(generator, nb_epochs=nb_epochs, **kwargs)``.

        :param generator: ART ``DataGenerator`` (``size``, ``batch_size``, ``get_batch()``).
        :param nb_epochs: Number of epochs.
        :param kwargs: Further arguments of :meth:`fit` (``batch_size``, ``gnr``, ``gnr_ratio``, ``attack_sources``,
               ``source_weights``).
        :return: self.
        :raises ValueError: If ``generator`` is not a DataGenerator, or as :meth:`fit`.
        """
        if not _is_data_generator(generator):
            raise ValueError(
                f"UDDN.fit_generator: generator must be an ART DataGenerator, got {type(generator).__name__}"
            )
        return self.fit(generator, nb_epochs=nb_epochs, **kwargs)

    def _check_gnr(self, gnr, gnr_ratio: float, shape: tuple) -> None:
        if gnr_ratio <= 0:
            return
        if getattr(gnr, "generator_", None) is None:
            raise ValueError(f"gnr_ratio={gnr_ratio!r} > 0 needs a fitted GNR as gnr, got {type(gnr).__name__}")
        if tuple(gnr.generator_.output_shape[1:]) != tuple(shape):
            raise ValueError(
                f"the GNR makes noise of shape {tuple(gnr.generator_.output_shape[1:])}, the images are {tuple(shape)}"
            )

    def _add_gnr_pairs(self, x, x_noisy, x_clean, gnr, gnr_ratio: float, rng: np.random.Generator):
        """The pairs with ``round(gnr_ratio * len(x))`` GNR pairs ``(clip(x + noise), x)`` appended."""
        if gnr_ratio <= 0:
            return x_noisy, x_clean
        idx = rng.integers(0, len(x), size=int(round(gnr_ratio * len(x))))
        noise = gnr.sample(len(idx), seed=int(rng.integers(2**31)))
        return (
            np.concatenate([x_noisy, np.clip(x[idx] + noise, *self.clip_values)]),
            np.concatenate([x_clean, x[idx]]),
        )

    def _training(self):
        """The optimizer (its slots in ``strategy.scope()``) and the compiled step, after checking that the guides
        were built in the same scope (they run inside the replicas' step)."""
        for i, guide in enumerate([self.classifier, *self.extra_guides] if self._guide_models else []):
            what = "classifier.model" if i == 0 else f"extra_guides[{i - 1}].model"
            check_built_in_scope(self.strategy, guide.model.variables, "UDDN", what)
        with resolve_strategy(self.strategy).scope():
            optimizer = keras.optimizers.Adam(learning_rate=self.learning_rate)
            optimizer.build(self.denoiser_.trainable_variables)  # slots now, in the scope (not inside a replica)
        return self._make_train_step(optimizer), optimizer

    def _train_on(self, step, x_noisy: np.ndarray, x_clean: np.ndarray) -> float:
        """One step on a global batch of pairs (shared across the replicas); returns its mean loss."""
        n = len(x_noisy)
        return float(step(*replica_batches(self.strategy, x_noisy, x_clean), tf.constant(n, tf.int32)))

    # ------------------------------------------------------------------ persistence

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments except the classifiers (JSON-serialisable)."""
        return {
            "guide": self.guide,
            "clip_values": list(self.clip_values),
            "channels": self.channels,
            "widths": list(self.widths),
            "lateral": self.lateral,
            "residual": self.residual,
            "attacks": list(self.attacks),
            "eps_range": None if self.eps_range is None else list(self.eps_range),
            "include_clean": self.include_clean,
            "learning_rate": self.learning_rate,
            "min_learning_rate": self.min_learning_rate,
            "patience": self.patience,
            "batch_size": self.batch_size,
            "forward_batch_size": self.forward_batch_size,
            "seed": self.seed,
            "apply_fit": self.apply_fit,
            "apply_predict": self.apply_predict,
            "verbose": self.verbose,
            "channels_first": self.channels_first,
            "attacks_per_image": self.attacks_per_image,
        }

    def save(self, path: str) -> None:
        """
        Save the denoiser and this configuration to a ``.keras`` file tagged as an art-ext UDDN (atomically).

        :param path: Destination; must end in ``.keras``.
        :raises ValueError: If ``path`` does not end in ``.keras`` or cannot be written.
        """
        save_keras(
            path, self.denoiser_, "UDDN", {**self.get_config(), "is_fitted": self.is_fitted, "history": self.history_}
        )

    @classmethod
    def load(
        cls,
        path: str,
        classifier=None,
        extra_guides: list | None = None,
        attack_sources: list | None = None,
        source_weights: list[float] | None = None,
        strategy: tf.distribute.Strategy | None = None,
    ) -> UDDN:
        """
        Load a UDDN written by :meth:`save` (Keras ``safe_mode``).

        :param path: The ``.keras`` file.
        :param classifier: Guide classifier to attach (needed only to train further or make pairs).
        :param extra_guides: Further guides to attach (only to train further; see the constructor).
        :param attack_sources: Classifiers making the training pairs (only to train further; see the constructor).
        :param source_weights: Their probabilities (see the constructor).
        :param strategy: The strategy to train further under (the denoiser is loaded into its scope).
        :return: The UDDN, with the saved weights.
        :raises ValueError: If the file is missing or not an art-ext UDDN file.
        """
        validate_params({"strategy": [None, STRATEGY]}, {"strategy": strategy}, "UDDN.load")
        with resolve_strategy(strategy).scope():
            model, config, _ = load_keras(path, "UDDN")
        try:
            is_fitted, history = bool(config.pop("is_fitted")), list(config.pop("history"))
            config.setdefault("attacks_per_image", None)  # files from before the parameter: every attack
            # The guide classifier is only needed to train further: load without one as a pixel-guided shell.
            guide = config["guide"] if classifier is not None else "pixels"
            uddn = cls(
                classifier=classifier,
                extra_guides=extra_guides,
                attack_sources=attack_sources,
                source_weights=source_weights,
                strategy=strategy,
                **{**config, "guide": guide, "seed": None, "widths": tuple(config["widths"])},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not an art-ext UDDN file: {path} (invalid configuration: {err})") from err
        uddn.guide, uddn.seed = config["guide"], config["seed"]
        uddn.denoiser_ = model
        uddn._denoise = uddn._compile_denoise()
        uddn._is_fitted, uddn.history_ = is_fitted, history
        return uddn

    # ------------------------------------------------------------------ validation

    def _check_param_relations(self) -> None:
        self.extra_guides = list(self.extra_guides or [])
        if self.clip_values is None:  # the classifier's input range (ART's clip_values: scalars or arrays)
            clip = getattr(self.classifier, "clip_values", None) if self.classifier is not None else None
            self.clip_values = (0.0, 1.0) if clip is None else (float(np.min(clip[0])), float(np.max(clip[1])))
        self.clip_values = tuple(float(v) for v in self.clip_values)
        self.widths = tuple(int(w) for w in self.widths)
        self.attacks = tuple(self.attacks)
        if self.eps_range is not None:
            self.eps_range = tuple(float(v) for v in self.eps_range)
        if self.attack_sources is not None:
            self.attack_sources = list(self.attack_sources)
            if not self.attack_sources:
                raise ValueError("UDDN: attack_sources must hold at least one classifier (or be None)")
            for i, source in enumerate(self.attack_sources):
                if not isinstance(getattr(source, "model", None), keras.Model):
                    raise ValueError(
                        f"UDDN: attack_sources[{i}] must be an ART estimator with a Keras `model`, "
                        f"got {type(source).__name__}"
                    )
        if self.source_weights is not None:
            n_sources = len(self.attack_sources or [])
            weights = np.asarray(self.source_weights, dtype=float)
            if (
                not n_sources
                or weights.shape != (n_sources,)
                or np.any(weights < 0)
                or not np.isclose(weights.sum(), 1.0)
            ):
                raise ValueError(
                    f"UDDN: source_weights must be one non-negative number per attack source ({n_sources}), "
                    f"summing to 1, got {self.source_weights!r}"
                )
            self.source_weights = [float(w) for w in weights]
        if self.classifier is not None and not isinstance(getattr(self.classifier, "model", None), keras.Model):
            raise ValueError(
                "UDDN: classifier must be an ART TensorFlowV2Classifier (or estimator) with a Keras "
                "`model` (logits or probabilities)"
            )
        if self.guide != "pixels" and self.classifier is None:
            raise ValueError(
                f"UDDN: guide={self.guide!r} needs a classifier; pass classifier=... or use guide='pixels'"
            )
        if self.extra_guides and self.classifier is None:
            raise ValueError("UDDN: extra_guides need a classifier (the main guide)")
        for extra in self.extra_guides:
            if not isinstance(getattr(extra, "model", None), keras.Model):
                raise ValueError(
                    "UDDN: extra_guides must be ART TensorFlowV2Classifiers (or estimators) with a Keras "
                    "`model` (logits or probabilities)"
                )
            if tuple(extra.input_shape) != tuple(self.classifier.input_shape):
                raise ValueError(
                    f"UDDN: extra_guides must take the classifier's input shape "
                    f"{tuple(self.classifier.input_shape)}, got {tuple(extra.input_shape)}"
                )
        axis = 0 if self.channels_first else -1
        classifier_channels = None
        if self.classifier is not None and getattr(self.classifier, "input_shape", None):
            classifier_channels = int(self.classifier.input_shape[axis])
        if self.channels is None:
            if classifier_channels is None:
                raise ValueError("UDDN: channels is required when there is no classifier to read it from")
            self.channels = classifier_channels
        self.channels = int(self.channels)
        if classifier_channels is not None and classifier_channels != self.channels:
            raise ValueError(f"UDDN: channels={self.channels} but the classifier takes {classifier_channels}")
        if not self.attacks:
            raise ValueError("UDDN: attacks must name at least one attack")
        for name in self.attacks:
            _attack_steps(name)
        if self.min_learning_rate > self.learning_rate:
            raise ValueError(
                f"UDDN: need min_learning_rate <= learning_rate, got {self.min_learning_rate!r} "
                f"and {self.learning_rate!r}"
            )


__all__ = ["GUIDES", "PAPER_ATTACKS", "UDDN", "guide_model"]
