"""Multi-level fine-tuning: one copy of a pre-trained classifier per compression level, combined by majority vote.

The NN-favoured JPEG paper treats compression as data augmentation ("noisy training"): it fine-tunes the
pre-trained model on images encoded at several compression levels, giving several classifiers, and takes their
majority vote, because a low compression ratio removes perturbations and features slightly and a high one
aggressively. SHIELD (https://arxiv.org/abs/1802.06816) "vaccinates" models at several JPEG qualities the same way.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf
from art.defences.preprocessor.preprocessor import PreprocessorTensorFlowV2
from art.defences.trainer.trainer import Trainer
from art.estimators.classification import TensorFlowV2Classifier
from tqdm.auto import tqdm

from art_ext.data.batches import TrainingBatches, training_batches
from art_ext.distribute import (
    STRATEGY,
    distributed_step,
    is_distributed,
    replica_mean,
    resolve_strategy,
)
from art_ext.estimators import MajorityVoteClassifier
from art_ext.estimators.classification import CheckedClassifier, classifier_logits, options_like, outputs_logits
from art_ext.params import BOOL, POSITIVE_INT, POSITIVE_REAL, SEED, Interval, Real, ValidatedParams, seeded
from art_ext.utils import batches, check_inputs, check_labels

logger = logging.getLogger(__name__)

#: Seeds of the members' Keras layers are drawn below this bound from the trainer's generator.
_MEMBER_SEED_BOUND = 2**31

#: Adam learning rate of the fine-tuning when neither ``learning_rate`` nor the classifier gives an optimiser (small:
#: it starts from trained weights).
FALLBACK_LEARNING_RATE = 1e-4


class MultiLevelJpegTrainer(ValidatedParams, Trainer):
    """
    Fine-tune copies of a pre-trained classifier, each on training images compressed at its own level, and
    combine them into a :class:`~art_ext.estimators.MajorityVoteClassifier` in which every member sees inputs
    compressed at its own level.

    After :meth:`fit`, ``classifiers_`` holds the fine-tuned members (each an ART ``TensorFlowV2Classifier``
    with its compressor as first preprocessing defence, then the pre-trained classifier's own ``preprocessing``
    and ``preprocessing_defences``) and :meth:`~art.defences.trainer.Trainer.get_classifier` returns the voting
    ensemble. Fine-tuning applies the classifier's ART preprocessing to the compressed images as its ``fit`` would.

    Each member trains with a fresh optimiser of the classifier's own class and configuration (ART's convention,
    as its ``clone_for_refitting``); ``learning_rate=r`` uses ``Adam(r)`` instead. A classifier without an optimiser
    gets ``Adam(1e-4)`` (a warning says so).

    | Paper link: https://arxiv.org/abs/1802.06816 (SHIELD); the NN-favoured JPEG paper (summarised in
      :doc:`/methods/nn_jpeg`).
    """

    params = [
        "preprocessors",
        "nb_epochs",
        "batch_size",
        "learning_rate",
        "clean_fraction",
        "seed",
        "verbose",
        "strategy",
    ]
    _parameter_constraints = {
        "preprocessors": [list],
        "nb_epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "learning_rate": [None, POSITIVE_REAL],
        "clean_fraction": [Interval(Real, 0, 1, closed="left")],
        "seed": [None, SEED],
        "verbose": [BOOL],
        "strategy": [None, STRATEGY],
    }

    def __init__(
        self,
        classifier: TensorFlowV2Classifier,
        preprocessors: list[PreprocessorTensorFlowV2],
        nb_epochs: int = 3,
        batch_size: int = 128,
        learning_rate: float | None = None,
        clean_fraction: float = 0.0,
        seed: int | None = None,
        verbose: bool = False,
        strategy: tf.distribute.Strategy | None = None,
    ) -> None:
        """
        Create the trainer.

        :param classifier: The pre-trained classifier (an ART ``TensorFlowV2Classifier`` around a Keras model);
               it is not modified.
        :param preprocessors: One compressor per member, e.g. ``JpegCompressionTensorFlowV2(quality=q)`` for
               several ``q`` or :class:`~art_ext.defences.preprocessor.NNFavoredJpeg` at several table scales.
        :param nb_epochs: Fine-tuning epochs per member.
        :param batch_size: Batch size of array inputs.
        :param learning_rate: ``None``: every member fine-tunes with a fresh copy of the classifier's optimiser;
               a number: ``Adam`` at that rate.
        :param clean_fraction: Share of each member's training images left uncompressed (0: all compressed).
        :param seed: Seed of the batch order, of the choice of uncompressed images and of the members' random
               layers (e.g. dropout): the same seed gives the same members, and global random state is neither
               used nor changed. ``None``: ART's ``fit`` fine-tunes each member, in a batch order drawn from
               TensorFlow's global random state.
        :param verbose: Show a progress bar over the members.
        :param strategy: A ``tf.distribute.Strategy`` to fine-tune under (each batch split across its replicas, see
               :mod:`art_ext.distribute`); the members are built in its ``scope()``. ``None``: one device.
        """
        super().__init__(classifier)
        self._pretrained = classifier
        self.preprocessors = list(preprocessors) if isinstance(preprocessors, (list, tuple)) else preprocessors
        self.nb_epochs, self.batch_size, self.learning_rate = nb_epochs, batch_size, learning_rate
        self.clean_fraction, self.seed, self.verbose = clean_fraction, seed, verbose
        self.strategy = strategy
        self._check_params()

    def _check_param_relations(self) -> None:
        if not isinstance(self._pretrained, TensorFlowV2Classifier) or not isinstance(
            self._pretrained.model, keras.Model
        ):
            raise ValueError("classifier must be a TensorFlowV2Classifier around a Keras model")
        if not self.preprocessors or not all(isinstance(p, PreprocessorTensorFlowV2) for p in self.preprocessors):
            raise ValueError(
                "preprocessors must be a non-empty list of PreprocessorTensorFlowV2 (e.g. JpegCompressionTensorFlowV2)"
            )

    def _optimizer(self) -> keras.optimizers.Optimizer:
        """A member's optimiser (see ``learning_rate``); call it inside the strategy's scope."""
        if self.learning_rate is not None:
            return keras.optimizers.Adam(learning_rate=self.learning_rate)
        own = getattr(self._pretrained, "optimizer", None)
        if own is None:
            logger.warning(
                "MultiLevelJpegTrainer: the classifier has no optimizer; fine-tuning with Adam(learning_rate=%g) "
                "(pass learning_rate=... to choose)",
                FALLBACK_LEARNING_RATE,
            )
            return keras.optimizers.Adam(learning_rate=FALLBACK_LEARNING_RATE)
        if not isinstance(own, keras.optimizers.Optimizer):
            raise ValueError(
                f"MultiLevelJpegTrainer: the classifier's optimizer must be a Keras optimizer, got "
                f"{type(own).__name__}; pass learning_rate=... to fine-tune with Adam"
            )
        return type(own).from_config(own.get_config())

    def _member(self, model: keras.Model, optimizer, defences: list) -> TensorFlowV2Classifier:
        """``model`` as ART classifier with the pre-trained classifier's preprocessing behind ``defences``."""
        pretrained = self._pretrained
        return CheckedClassifier(
            **options_like(
                pretrained,
                model,
                from_logits=outputs_logits(pretrained),
                optimizer=optimizer,
                preprocessing_defences=[*defences, *(pretrained.preprocessing_defences or [])],
            )
        )

    def fit(self, x, y: np.ndarray | None = None, **kwargs) -> MultiLevelJpegTrainer:
        """
        Fine-tune one copy of the classifier per preprocessor on the compressed training data.

        :param x: Training images within the classifier's ``clip_values``, or a ``tf.data.Dataset`` of ``(x, y)``
               batches (data larger than memory; then ``y`` is ``None`` and every batch is compressed as it comes).
        :param y: Labels (indices or one-hot); ``None`` for a dataset.
        :param kwargs: Unused.
        :return: ``self``.
        :raises ValueError: Bad inputs or labels.
        """
        if isinstance(x, tf.data.Dataset):
            return self._fit_batches(self._source(x, y, "fit"))
        pretrained = self._pretrained
        x = check_inputs(x, "x", clip_values=pretrained.clip_values, input_shape=pretrained.input_shape)
        y = check_labels(y, len(x), pretrained.nb_classes)
        rng = np.random.default_rng(self.seed)

        def member_data(preprocessor):
            x_level = preprocessor(x)[0]
            if self.clean_fraction > 0:
                keep = rng.random(len(x)) < self.clean_fraction
                x_level = np.where(keep.reshape((-1,) + (1,) * (x.ndim - 1)), x, x_level)

            def epoch():
                order = rng.permutation(len(x))
                for part in batches(len(x), self.batch_size):
                    yield x_level[order[part]], y[order[part]]

            return (x_level, y), epoch

        return self._fit_members(member_data, rng)

    def fit_generator(self, generator, nb_epochs: int | None = None, **kwargs) -> MultiLevelJpegTrainer:
        """
        :meth:`fit` on the batches of an ART ``DataGenerator`` (data larger than memory; ART's signature): each
        member's epoch takes ``ceil(generator.size / generator.batch_size)`` batches of ``generator.get_batch()``,
        validated and compressed as they come.

        :param generator: ART ``DataGenerator``.
        :param nb_epochs: Fine-tuning epochs per member (sets ``nb_epochs``; ``None`` keeps it).
        :param kwargs: Unused.
        :return: ``self``.
        :raises ValueError: A generator without a positive ``size`` / ``batch_size``, a bad batch, or ``nb_epochs``.
        """
        if not callable(getattr(generator, "get_batch", None)):
            raise ValueError(f"generator must be an ART DataGenerator, got {type(generator).__name__}")
        source = self._source(generator, None, "fit_generator")
        if nb_epochs is not None:
            self.set_params(nb_epochs=nb_epochs)
        return self._fit_batches(source)

    def _source(self, x, y, caller: str) -> TrainingBatches:
        pretrained = self._pretrained
        return training_batches(
            x,
            y,
            batch_size=None,
            input_shape=tuple(pretrained.input_shape),
            nb_classes=pretrained.nb_classes,
            clip_values=pretrained.clip_values,
            owner=f"MultiLevelJpegTrainer.{caller}",
        )

    def _fit_batches(self, source: TrainingBatches) -> MultiLevelJpegTrainer:
        """Fine-tune on a dataset or generator: each batch compressed (and partly kept clean) as it comes."""
        rng = np.random.default_rng(self.seed)

        def member_data(preprocessor):
            def epoch():
                for xb, yb in source.epoch():
                    xb = np.asarray(xb)
                    x_level = preprocessor(xb)[0]
                    if self.clean_fraction > 0:
                        keep = rng.random(len(xb)) < self.clean_fraction
                        x_level = np.where(keep.reshape((-1,) + (1,) * (xb.ndim - 1)), xb, x_level)
                    yield x_level.astype(np.float32), np.asarray(yb)

            return None, epoch

        return self._fit_members(member_data, rng)

    def _fit_members(self, member_data, rng: np.random.Generator) -> MultiLevelJpegTrainer:
        """One member per preprocessor: ``member_data(preprocessor) -> ((x_level, y) or None, epoch)``."""
        pretrained = self._pretrained
        strategy = resolve_strategy(self.strategy)
        weights = pretrained.model.get_weights()
        self.classifiers_ = []
        for preprocessor in tqdm(self.preprocessors, desc="fine-tuning members", disable=not self.verbose):
            member_seed = None if self.seed is None else int(rng.integers(_MEMBER_SEED_BOUND))
            with strategy.scope(), seeded(member_seed):
                model = keras.models.clone_model(pretrained.model)
                optimizer = self._optimizer()
                optimizer.build(model.trainable_variables)
            model.set_weights(weights)
            arrays, epoch = member_data(preprocessor)
            trainee = self._member(model, optimizer, [])
            if self.seed is None and arrays is not None and not is_distributed(self.strategy):
                # ART's own loop: its batch order follows TensorFlow's global seed, as before
                trainee.fit(*arrays, batch_size=self.batch_size, nb_epochs=self.nb_epochs, verbose=False)
            else:
                self._fine_tune(trainee, epoch)
            self.classifiers_.append(self._member(model, optimizer, [preprocessor]))
        self._classifier = MajorityVoteClassifier(self.classifiers_)
        return self

    def _fine_tune(self, trainee: TensorFlowV2Classifier, epoch) -> None:
        """What ART's ``fit`` does with the trainee's loss and optimiser -- cross-entropy through the classifier's
        preprocessing, ``nb_epochs`` passes -- over the batches of ``epoch()``, under the strategy."""
        model, optimizer = trainee.model, trainee.optimizer
        forward = classifier_logits(trainee, fit=True, training=True)

        def step(xb, yb):
            with tf.GradientTape() as tape:
                per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(yb, tf.int32), forward(xb))
                loss = replica_mean(per_example)
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        spec = (tf.TensorSpec([None, *trainee.input_shape], tf.float32), tf.TensorSpec([None], tf.int64))
        compiled = distributed_step(
            self.strategy, step, input_signature=None if is_distributed(self.strategy) else list(spec)
        )
        member_batches = TrainingBatches("compressed", epoch, None, spec)
        for _ in range(self.nb_epochs):
            for xb, yb in member_batches.epoch_for(self.strategy):
                compiled(xb, yb)
