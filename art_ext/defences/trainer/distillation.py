"""Knowledge-transfer training of Li & Wang (2018), Sec. 4: a teacher on (denoised) images and
one-hot labels, then a student of the same architecture on the teacher's soft outputs with
``L = KL(P_t || P_s) + lambda * KL(P_t^T || P_s^T)`` at softmax temperature ``T``.

ART's ``DefensiveDistillation`` trains the student on the teacher's probabilities at T = 1 only;
this trainer adds the temperature term and an optional preprocessor (e.g. a fitted
:class:`~art_ext.defences.preprocessor.UDDN`) in front of both models.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from art.defences.trainer.trainer import Trainer
from tqdm.auto import tqdm

from art_ext.params import (
    BOOL,
    NON_NEGATIVE_INT,
    NON_NEGATIVE_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    SEED,
    Callable,
    Interval,
    Real,
    ValidatedParams,
    seeded,
)
from art_ext.utils import batches, check_inputs, check_labels


def distillation_loss(
    teacher_logits: tf.Tensor, student_logits: tf.Tensor, temperature: float, lambda_: float
) -> tf.Tensor:
    """Batch mean of ``KL(P_t || P_s) + lambda * KL(P_t^T || P_s^T)`` (Eq. 6; ``P^T = softmax(z / T)``)."""

    def kl(t_logits, s_logits):
        log_pt, log_ps = tf.nn.log_softmax(t_logits), tf.nn.log_softmax(s_logits)
        return tf.reduce_sum(tf.exp(log_pt) * (log_pt - log_ps), axis=-1)

    loss = kl(teacher_logits, student_logits) + lambda_ * kl(teacher_logits / temperature, student_logits / temperature)
    return tf.reduce_mean(loss)


class DistillationTrainer(ValidatedParams, Trainer):
    """
    Teacher-student knowledge transfer with a temperature term, optionally behind a preprocessor.

    | Paper link: Li, F., Wang, Y. "Defending against adversarial attacks using a U-Net-based deep
      denoising network and knowledge transfer", Applied Sciences 9(1):76 (2019),
      https://doi.org/10.3390/app9010076 , Sec. 4, Eq. 6. Distillation: Hinton et al. (2015),
      https://arxiv.org/abs/1503.02531 .

    The student is the wrapped classifier (trained in place, then deployed); the teacher is a fresh
    copy of its architecture (or ``teacher`` if given). The paper gives no values of ``T`` and
    ``lambda``; the defaults (T = 10, lambda = 1) are ours. The KL terms are not rescaled by
    ``T**2`` (paper's Eq. 6 as written).
    """

    params = [
        "teacher",
        "preprocessor",
        "temperature",
        "lambda_",
        "nb_epochs",
        "teacher_epochs",
        "batch_size",
        "learning_rate",
        "seed",
        "verbose",
    ]
    _parameter_constraints = {
        "teacher": [None, keras.Model],
        "preprocessor": [None, Callable()],
        "temperature": [Interval(Real, 1, None)],
        "lambda_": [NON_NEGATIVE_REAL],
        "nb_epochs": [POSITIVE_INT],
        "teacher_epochs": [NON_NEGATIVE_INT],
        "batch_size": [POSITIVE_INT],
        "learning_rate": [POSITIVE_REAL],
        "seed": [None, SEED],
        "verbose": [BOOL],
    }
    #: Keyword arguments of :meth:`fit` that set the parameters of the same name.
    _fit_params = ("nb_epochs", "teacher_epochs", "batch_size")

    def __init__(
        self,
        classifier,
        teacher: keras.Model | None = None,
        preprocessor=None,
        temperature: float = 10.0,
        lambda_: float = 1.0,
        nb_epochs: int = 10,
        teacher_epochs: int | None = None,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        seed: int | None = None,
        verbose: bool = False,
    ) -> None:
        """
        :param classifier: The student: an ART ``TensorFlowV2Classifier`` with a Keras logits ``model``.
        :param teacher: Keras logits model used as the teacher (trained by :meth:`fit` unless
               ``teacher_epochs=0``); default a freshly initialised clone of the student's architecture.
        :param preprocessor: ART preprocessor (e.g. a fitted UDDN) applied to the training images first;
               ``None`` trains on the images as given.
        :param temperature: Softmax temperature ``T >= 1`` of the second KL term.
        :param lambda_: Weight ``lambda >= 0`` of the temperature term.
        :param nb_epochs: Student epochs.
        :param teacher_epochs: Teacher epochs (cross-entropy on one-hot labels); default ``nb_epochs``;
               0 keeps a given, already trained teacher.
        :param batch_size: Batch size of both trainings (and of the preprocessing).
        :param learning_rate: Adam learning rate of both trainings.
        :param seed: Seed of the teacher initialisation and the shuffling (local: the global random state is not
               touched).
        :param verbose: Show progress bars.
        :raises ValueError: If the classifier or a parameter is invalid.
        """
        super().__init__(classifier)
        self.teacher = teacher
        self.preprocessor = preprocessor
        self.temperature = temperature
        self.lambda_ = lambda_
        self.nb_epochs = nb_epochs
        self.teacher_epochs = nb_epochs if teacher_epochs is None else teacher_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed
        self.verbose = verbose
        self._check_params()
        self.history_: dict[str, list[float]] = {"teacher": [], "student": []}

    def _steps(self):
        """The compiled teacher and student training steps (on batches in the student's input layout)."""
        student = self._classifier.model
        if self.teacher is None:
            with seeded(self.seed):
                self.teacher = keras.models.clone_model(student)
        teacher, nb_classes = self.teacher, self._classifier.nb_classes
        x_spec = tf.TensorSpec([None, *student.input_shape[1:]], tf.float32)
        t_opt = keras.optimizers.Adam(self.learning_rate)

        @tf.function(input_signature=[x_spec, tf.TensorSpec([None], tf.int64)])
        def teacher_step(xb, yb):
            with tf.GradientTape() as tape:
                logits = teacher(xb, training=True)
                loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(tf.one_hot(yb, nb_classes), logits))
            t_opt.apply_gradients(zip(tape.gradient(loss, teacher.trainable_variables), teacher.trainable_variables))
            return loss

        s_opt = keras.optimizers.Adam(self.learning_rate)

        @tf.function(input_signature=[x_spec, tf.TensorSpec([None], tf.int64)])
        def student_step(xb, labels):  # the labels are unused: the teacher's outputs are the targets
            del labels
            t_logits = teacher(xb, training=False)
            with tf.GradientTape() as tape:
                loss = distillation_loss(t_logits, student(xb, training=True), self.temperature, self.lambda_)
            s_opt.apply_gradients(zip(tape.gradient(loss, student.trainable_variables), student.trainable_variables))
            return loss

        return teacher_step, student_step

    def _train(self, epoch_batches, teacher_step, student_step) -> None:
        """Both trainings: ``epoch_batches()`` yields one epoch's ``(x, y)`` batches (preprocessed, validated)."""
        for name, step, nb_epochs in (
            ("teacher", teacher_step, self.teacher_epochs),
            ("student", student_step, self.nb_epochs),
        ):
            for _ in tqdm(range(nb_epochs), desc=name, disable=not self.verbose):
                total, count = 0.0, 0
                for xb, yb in epoch_batches():
                    total += float(step(tf.constant(xb), tf.constant(yb))) * len(xb)
                    count += len(xb)
                self.history_[name].append(total / count)

    def _set_fit_params(self, kwargs: dict, caller: str) -> None:
        unknown = sorted(set(kwargs) - set(self._fit_params))
        if unknown:
            raise ValueError(
                f"DistillationTrainer.{caller}: unknown argument(s) {unknown}; it takes {list(self._fit_params)}"
            )
        if kwargs:
            self.set_params(**kwargs)

    def _preprocess(self, x: np.ndarray) -> np.ndarray:
        if self.preprocessor is None:
            return x
        return np.concatenate([self.preprocessor(x[s])[0] for s in batches(len(x), self.batch_size)])

    def fit(self, x: np.ndarray, y: np.ndarray, **kwargs) -> DistillationTrainer:
        """
        Train the teacher on (preprocessed) ``x`` with one-hot ``y``, then the student on the teacher's outputs.

        :param x: Training images (clean and/or adversarial).
        :param y: Labels, class indices or one-hot.
        :param kwargs: ``nb_epochs`` / ``teacher_epochs`` / ``batch_size`` set those parameters (as
               :meth:`set_params`) before training.
        :return: self.
        :raises ValueError: Bad inputs, or an unknown or invalid keyword argument.
        """
        student = self._classifier.model
        x = check_inputs(x, "x", self._classifier.clip_values, input_shape=tuple(student.input_shape[1:]))
        y = check_labels(y, len(x), self._classifier.nb_classes)
        self._set_fit_params(kwargs, "fit")
        x = self._preprocess(x)
        rng = np.random.default_rng(self.seed)

        def epoch_batches():
            order = rng.permutation(len(x))
            for s in batches(len(x), self.batch_size):
                idx = np.sort(order[s])
                yield x[idx], y[idx]

        self._train(epoch_batches, *self._steps())
        return self

    def fit_generator(self, generator, **kwargs) -> DistillationTrainer:
        """
        :meth:`fit` on the batches of an ART ``DataGenerator`` (data too large for memory): each epoch takes
        ``ceil(generator.size / generator.batch_size)`` batches from ``generator.get_batch()``, first for the
        teacher's epochs, then for the student's.

        :param generator: ART ``DataGenerator`` with a ``size``; its batches are validated and preprocessed as in
               :meth:`fit`.
        :param kwargs: ``nb_epochs`` / ``teacher_epochs`` set those parameters (as :meth:`set_params`) before training.
        :return: self.
        :raises ValueError: A generator without ``size`` or ``get_batch``, a bad batch, or an unknown or invalid
                 keyword argument.
        """
        if not callable(getattr(generator, "get_batch", None)) or not isinstance(
            getattr(generator, "size", None), (int, np.integer)
        ):
            raise ValueError(
                f"generator must be an ART DataGenerator with an integer size, got {type(generator).__name__}"
            )
        if generator.size < 1 or not isinstance(generator.batch_size, (int, np.integer)) or generator.batch_size < 1:
            raise ValueError(
                f"generator must have a positive size and batch_size, got {generator.size} and {generator.batch_size}"
            )
        self._set_fit_params(kwargs, "fit_generator")
        student = self._classifier.model
        nb_batches = -(-int(generator.size) // int(generator.batch_size))

        def epoch_batches():
            for _ in range(nb_batches):
                xb, yb = generator.get_batch()
                xb = check_inputs(
                    xb, "generator batch x", self._classifier.clip_values, input_shape=tuple(student.input_shape[1:])
                )
                yield self._preprocess(xb), check_labels(yb, len(xb), self._classifier.nb_classes, "generator batch y")

        self._train(epoch_batches, *self._steps())
        return self

    def _check_param_relations(self) -> None:
        if not isinstance(getattr(self._classifier, "model", None), keras.Model):
            raise ValueError(
                "DistillationTrainer: classifier must be an ART TensorFlowV2Classifier with a Keras logits `model`"
            )
        if self.teacher_epochs == 0 and self.teacher is None:
            raise ValueError("DistillationTrainer: teacher_epochs=0 needs a trained teacher")


__all__ = ["DistillationTrainer", "distillation_loss"]
