"""Multi-level fine-tuning: one copy of a pre-trained classifier per compression level, combined by majority vote.

The NN-favoured JPEG paper treats compression as data augmentation ("noisy training"): it fine-tunes the
pre-trained model on images encoded at several compression levels, giving several classifiers, and takes their
majority vote, because a low compression ratio removes perturbations and features slightly and a high one
aggressively. SHIELD (https://arxiv.org/abs/1802.06816) "vaccinates" models at several JPEG qualities the same way.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from art.defences.preprocessor.preprocessor import PreprocessorTensorFlowV2
from art.defences.trainer.trainer import Trainer
from art.estimators.classification import TensorFlowV2Classifier
from tqdm.auto import tqdm

from art_ext.estimators import MajorityVoteClassifier, wrap
from art_ext.estimators.classification import _outputs_probabilities, make_train_step
from art_ext.params import BOOL, POSITIVE_INT, POSITIVE_REAL, SEED, Interval, Real, ValidatedParams, seeded
from art_ext.utils import batches, check_inputs, check_labels

#: Seeds of the members' Keras layers are drawn below this bound from the trainer's generator.
_MEMBER_SEED_BOUND = 2**31


class MultiLevelJpegTrainer(ValidatedParams, Trainer):
    """
    Fine-tune copies of a pre-trained classifier, each on training images compressed at its own level, and
    combine them into a :class:`~art_ext.estimators.MajorityVoteClassifier` in which every member sees inputs
    compressed at its own level.

    After :meth:`fit`, ``classifiers_`` holds the fine-tuned members (each an ART ``TensorFlowV2Classifier``
    with its compressor as preprocessing defence) and :meth:`~art.defences.trainer.Trainer.get_classifier`
    returns the voting ensemble.

    | Paper link: https://arxiv.org/abs/1802.06816 (SHIELD); the NN-favoured JPEG paper (summarised in
      :doc:`/methods/nn_jpeg`).
    """

    params = ["preprocessors", "nb_epochs", "batch_size", "learning_rate", "clean_fraction", "seed", "verbose"]
    _parameter_constraints = {
        "preprocessors": [list],
        "nb_epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "learning_rate": [POSITIVE_REAL],
        "clean_fraction": [Interval(Real, 0, 1, closed="left")],
        "seed": [None, SEED],
        "verbose": [BOOL],
    }

    def __init__(
        self,
        classifier: TensorFlowV2Classifier,
        preprocessors: list[PreprocessorTensorFlowV2],
        nb_epochs: int = 3,
        batch_size: int = 128,
        learning_rate: float = 1e-4,
        clean_fraction: float = 0.0,
        seed: int | None = None,
        verbose: bool = False,
    ) -> None:
        """
        Create the trainer.

        :param classifier: The pre-trained classifier (an ART ``TensorFlowV2Classifier`` around a Keras model);
               it is not modified.
        :param preprocessors: One compressor per member, e.g. ``JpegCompressionTensorFlowV2(quality=q)`` for
               several ``q`` or :class:`~art_ext.defences.preprocessor.NNFavoredJpeg` at several table scales.
        :param nb_epochs: Fine-tuning epochs per member.
        :param batch_size: Batch size.
        :param learning_rate: Adam learning rate of the fine-tuning (small: it starts from trained weights).
        :param clean_fraction: Share of each member's training images left uncompressed (0: all compressed).
        :param seed: Seed of the batch order, of the choice of uncompressed images and of the members' random
               layers (e.g. dropout): the same seed gives the same members, and global random state is neither
               used nor changed. ``None``: ART's ``fit`` fine-tunes each member, in a batch order drawn from
               TensorFlow's global random state.
        :param verbose: Show a progress bar over the members.
        """
        super().__init__(classifier)
        self._pretrained = classifier
        self.preprocessors = list(preprocessors) if isinstance(preprocessors, (list, tuple)) else preprocessors
        self.nb_epochs, self.batch_size, self.learning_rate = nb_epochs, batch_size, learning_rate
        self.clean_fraction, self.seed, self.verbose = clean_fraction, seed, verbose
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

    def fit(self, x: np.ndarray, y: np.ndarray, **kwargs) -> MultiLevelJpegTrainer:
        """
        Fine-tune one copy of the classifier per preprocessor on the compressed training data.

        :param x: Training images within the classifier's ``clip_values``.
        :param y: Labels (indices or one-hot).
        :param kwargs: Unused.
        :return: ``self``.
        :raises ValueError: Bad inputs or labels.
        """
        pretrained = self._pretrained
        x = check_inputs(x, "x", clip_values=pretrained.clip_values, input_shape=pretrained.input_shape)
        y = check_labels(y, len(x), pretrained.nb_classes)
        rng = np.random.default_rng(self.seed)
        weights = pretrained.model.get_weights()
        self.classifiers_ = []
        for preprocessor in tqdm(self.preprocessors, desc="fine-tuning members", disable=not self.verbose):
            member_seed = None if self.seed is None else int(rng.integers(_MEMBER_SEED_BOUND))
            with seeded(member_seed):
                model = keras.models.clone_model(pretrained.model)
            model.set_weights(weights)
            x_level = preprocessor(x)[0]
            if self.clean_fraction > 0:
                keep = rng.random(len(x)) < self.clean_fraction
                x_level = np.where(keep.reshape((-1,) + (1,) * (x.ndim - 1)), x, x_level)
            if self.seed is None:  # ART's own loop: its batch order follows TensorFlow's global seed, as before
                trainee = wrap(model, clip_values=pretrained.clip_values, learning_rate=self.learning_rate)
                trainee.fit(x_level, y, batch_size=self.batch_size, nb_epochs=self.nb_epochs, verbose=False)
            else:
                self._fine_tune(model, x_level, y, rng)
            self.classifiers_.append(
                wrap(model, clip_values=pretrained.clip_values, preprocessing_defences=[preprocessor])
            )
        self._classifier = MajorityVoteClassifier(self.classifiers_)
        return self

    def _fine_tune(self, model: keras.Model, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        """What ART's ``fit`` does with :func:`~art_ext.estimators.wrap`'s loss and optimiser -- Adam on the
        cross-entropy, ``nb_epochs`` passes over ``x`` -- in a batch order drawn from ``rng``."""
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not _outputs_probabilities(model))
        optimizer = keras.optimizers.Adam(learning_rate=self.learning_rate)
        optimizer.build(model.trainable_variables)
        step = make_train_step(loss, optimizer)
        for _ in range(self.nb_epochs):
            order = rng.permutation(len(x))
            for part in batches(len(x), self.batch_size):
                step(model, tf.constant(x[order[part]]), tf.constant(y[order[part]]))
