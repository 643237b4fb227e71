"""Multi-level fine-tuning: one copy of a pre-trained classifier per compression level, combined by majority vote.

The NN-favoured JPEG paper treats compression as data augmentation ("noisy training"): it fine-tunes the
pre-trained model on images encoded at several compression levels, giving several classifiers, and takes their
majority vote, because a low compression ratio removes perturbations and features slightly and a high one
aggressively. SHIELD (https://arxiv.org/abs/1802.06816) "vaccinates" models at several JPEG qualities the same way.
"""
from __future__ import annotations

import keras
import numpy as np
from art.defences.preprocessor.preprocessor import PreprocessorTensorFlowV2
from art.defences.trainer.trainer import Trainer
from art.estimators.classification import TensorFlowV2Classifier
from tqdm.auto import tqdm

from art_ext.estimators import MajorityVoteClassifier, wrap
from art_ext.utils import check_inputs, check_labels


class MultiLevelJpegTrainer(Trainer):
    """
    Fine-tune copies of a pre-trained classifier, each on training images compressed at its own level, and
    combine them into a :class:`~art_ext.estimators.MajorityVoteClassifier` in which every member sees inputs
    compressed at its own level.

    After :meth:`fit`, ``classifiers_`` holds the fine-tuned members (each an ART ``TensorFlowV2Classifier``
    with its compressor as preprocessing defence) and :meth:`~art.defences.trainer.Trainer.get_classifier` returns the voting ensemble.

    | Paper link: https://arxiv.org/abs/1802.06816 (SHIELD); the NN-favoured JPEG paper (summarised in
      :doc:`/methods/nn_jpeg`).
    """

    params = ["preprocessors", "nb_epochs", "batch_size", "learning_rate", "clean_fraction", "verbose"]

    def __init__(self, classifier: TensorFlowV2Classifier, preprocessors: list[PreprocessorTensorFlowV2],
                 nb_epochs: int = 3, batch_size: int = 128, learning_rate: float = 1e-4,
                 clean_fraction: float = 0.0, verbose: bool = False) -> None:
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
        :param verbose: Show a progress bar over the members.
        """
        super().__init__(classifier)
        self.preprocessors = list(preprocessors) if preprocessors is not None else []
        self.nb_epochs, self.batch_size, self.learning_rate = nb_epochs, batch_size, learning_rate
        self.clean_fraction, self.verbose = clean_fraction, verbose
        self._check_params()

    def _check_params(self) -> None:
        if not isinstance(self.classifier, TensorFlowV2Classifier) or not isinstance(self.classifier.model,
                                                                                     keras.Model):
            raise ValueError("classifier must be a TensorFlowV2Classifier around a Keras model")
        if not self.preprocessors or not all(isinstance(p, PreprocessorTensorFlowV2) for p in self.preprocessors):
            raise ValueError("preprocessors must be a non-empty list of PreprocessorTensorFlowV2 (e.g. "
                             "JpegCompressionTensorFlowV2)")
        for name in ("nb_epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not 0.0 <= self.clean_fraction < 1.0:
            raise ValueError(f"clean_fraction must lie in [0, 1), got {self.clean_fraction!r}")
        if not isinstance(self.verbose, bool):
            raise ValueError(f"verbose must be a bool, got {self.verbose!r}")

    def fit(self, x: np.ndarray, y: np.ndarray, **kwargs) -> None:
        """
        Fine-tune one copy of the classifier per preprocessor on the compressed training data.

        :param x: Training images within the classifier's ``clip_values``.
        :param y: Labels (indices or one-hot).
        :param kwargs: Unused.
        :raises ValueError: Bad inputs or labels.
        """
        x = check_inputs(x, "x", clip_values=self.classifier.clip_values, input_shape=self.classifier.input_shape)
        y = check_labels(y, len(x), self.classifier.nb_classes)
        rng = np.random.default_rng(kwargs.get("seed", 0))
        weights = self.classifier.model.get_weights()
        self.classifiers_ = []
        for preprocessor in tqdm(self.preprocessors, desc="fine-tuning members", disable=not self.verbose):
            model = keras.models.clone_model(self.classifier.model)
            model.set_weights(weights)
            x_level = preprocessor(x)[0]
            if self.clean_fraction > 0:
                keep = rng.random(len(x)) < self.clean_fraction
                x_level[keep] = x[keep]
            trainee = wrap(model, clip_values=self.classifier.clip_values, learning_rate=self.learning_rate)
            trainee.fit(x_level, y, batch_size=self.batch_size, nb_epochs=self.nb_epochs, verbose=False)
            self.classifiers_.append(wrap(model, clip_values=self.classifier.clip_values,
                                          preprocessing_defences=[preprocessor]))
        self._classifier = MajorityVoteClassifier(self.classifiers_)
