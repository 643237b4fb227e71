"""Knowledge-transfer training of Li & Wang (2018), Sec. 4: a teacher on (denoised) images and
one-hot labels, then a student of the same architecture on the teacher's soft outputs with
``L = KL(P_t || P_s) + lambda * KL(P_t^T || P_s^T)`` at softmax temperature ``T``.

ART's ``DefensiveDistillation`` trains the student on the teacher's probabilities at T = 1 only;
this trainer adds the temperature term and an optional preprocessor (e.g. a fitted
:class:`~art_ext.defences.preprocessor.UDDN`) in front of both models.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf
from art.defences.trainer.trainer import Trainer
from art.estimators.classification import TensorFlowV2Classifier
from tqdm.auto import tqdm

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

logger = logging.getLogger(__name__)

#: Signature of a batch of class indices.
_LABELS = tf.TensorSpec([None], tf.int64)

#: Adam learning rate of teacher and student when neither ``learning_rate`` nor the classifier gives an optimiser.
FALLBACK_LEARNING_RATE = 1e-3


def _per_example_distillation_loss(
    teacher_logits: tf.Tensor, student_logits: tf.Tensor, temperature: float, lambda_: float
) -> tf.Tensor:
    """``KL(P_t || P_s) + lambda * KL(P_t^T || P_s^T)`` per example (Eq. 6; ``P^T = softmax(z / T)``)."""

    def kl(t_logits, s_logits):
        log_pt, log_ps = tf.nn.log_softmax(t_logits), tf.nn.log_softmax(s_logits)
        return tf.reduce_sum(tf.exp(log_pt) * (log_pt - log_ps), axis=-1)

    return kl(teacher_logits, student_logits) + lambda_ * kl(teacher_logits / temperature, student_logits / temperature)


def distillation_loss(
    teacher_logits: tf.Tensor, student_logits: tf.Tensor, temperature: float, lambda_: float
) -> tf.Tensor:
    """Batch mean of ``KL(P_t || P_s) + lambda * KL(P_t^T || P_s^T)`` (Eq. 6; ``P^T = softmax(z / T)``)."""
    return tf.reduce_mean(_per_example_distillation_loss(teacher_logits, student_logits, temperature, lambda_))


class DistillationTrainer(ValidatedParams, Trainer):
    """
    Teacher-student knowledge transfer with a temperature term, optionally behind a preprocessor.

    | Paper link: Li, F., Wang, Y. "Defending against adversarial attacks using a U-Net-based deep
      denoising network and knowledge transfer", Applied Sciences 9(1):76 (2019),
      https://doi.org/10.3390/app9010076 , Sec. 4, Eq. 6. Distillation: Hinton et al. (2015),
      https://arxiv.org/abs/1503.02531 .

    The student is the wrapped classifier (trained in place, then deployed); the teacher is a fresh
    copy of its architecture (or ``teacher`` if given). Both see the training images as the student's ART
    ``fit`` does: after ``preprocessor`` (if any) and the classifier's own ``preprocessing`` and
    ``preprocessing_defences``; models that output probabilities are trained on their log-probabilities. The paper
    gives no values of ``T`` and ``lambda``; the defaults (T = 10, lambda = 1) are ours. The KL terms are not
    rescaled by ``T**2`` (paper's Eq. 6 as written).

    Optimisers follow ART's convention: the student trains with the classifier's own optimiser and the teacher with
    a fresh optimiser of the same class and configuration (as ART's ``clone_for_refitting``); ``learning_rate=r``
    trains both with ``Adam(r)`` instead. A classifier without an optimiser gets ``Adam(1e-3)`` (a warning says so).
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
        "refresh_batch_norm",
        "seed",
        "verbose",
        "strategy",
    ]
    _parameter_constraints = {
        "teacher": [None, keras.Model],
        "preprocessor": [None, Callable()],
        "temperature": [Interval(Real, 1, None)],
        "lambda_": [NON_NEGATIVE_REAL],
        "nb_epochs": [POSITIVE_INT],
        "teacher_epochs": [NON_NEGATIVE_INT],
        "batch_size": [POSITIVE_INT],
        "learning_rate": [None, POSITIVE_REAL],
        "refresh_batch_norm": [BOOL],
        "seed": [None, SEED],
        "verbose": [BOOL],
        "strategy": [None, STRATEGY],
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
        learning_rate: float | None = None,
        refresh_batch_norm: bool = True,
        seed: int | None = None,
        verbose: bool = False,
        strategy: tf.distribute.Strategy | None = None,
    ) -> None:
        """
        :param classifier: The student: an ART ``TensorFlowV2Classifier`` with a Keras ``model`` (logits or
               probabilities).
        :param teacher: Keras model used as the teacher (trained by :meth:`fit` unless ``teacher_epochs=0``),
               taking the inputs the student's model takes; default a freshly initialised clone of the student's
               architecture.
        :param preprocessor: ART preprocessor (e.g. a fitted UDDN) applied to the training images first;
               ``None`` trains on the images as given.
        :param temperature: Softmax temperature ``T >= 1`` of the second KL term.
        :param lambda_: Weight ``lambda >= 0`` of the temperature term.
        :param nb_epochs: Student epochs.
        :param teacher_epochs: Teacher epochs (cross-entropy on one-hot labels); default ``nb_epochs``;
               0 keeps a given, already trained teacher.
        :param batch_size: Batch size of both trainings (and of the preprocessing) on array inputs.
        :param learning_rate: ``None``: the classifier's optimiser for the student and a fresh copy of it for the
               teacher (ART's convention); a number: ``Adam`` at that rate for both.
        :param refresh_batch_norm: After training the teacher, and after training the student, set that model's
               batch-normalisation statistics to those of its final weights on up to 20 training batches
               (:func:`~art_ext.estimators.refresh_batch_norm`): Keras' moving averages trail the weights, and the
               student learns from the teacher in inference mode. Models without batch normalisation are unaffected.
        :param seed: Seed of the teacher initialisation and the shuffling (local: the global random state is not
               touched).
        :param verbose: Show progress bars.
        :param strategy: A ``tf.distribute.Strategy`` to train under (each batch split across its replicas, see
               :mod:`art_ext.distribute`); the classifier's model, its optimiser and a given teacher must have been
               built in its ``scope()``. ``None``: one device, as without a strategy.
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
        self.refresh_batch_norm = refresh_batch_norm
        self.seed = seed
        self.verbose = verbose
        self.strategy = strategy
        self._check_params()
        self.history_: dict[str, list[float]] = {"teacher": [], "student": []}

    def _optimizers(self) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
        """The teacher's and the student's optimisers (see ``learning_rate``), made in the strategy's scope."""
        own = getattr(self._classifier, "optimizer", None)
        if self.learning_rate is not None:
            return keras.optimizers.Adam(self.learning_rate), keras.optimizers.Adam(self.learning_rate)
        if own is None:
            logger.warning(
                "DistillationTrainer: the classifier has no optimizer; training teacher and student with "
                "Adam(learning_rate=%g) (pass learning_rate=... to choose)",
                FALLBACK_LEARNING_RATE,
            )
            return keras.optimizers.Adam(FALLBACK_LEARNING_RATE), keras.optimizers.Adam(FALLBACK_LEARNING_RATE)
        if not isinstance(own, keras.optimizers.Optimizer):
            raise ValueError(
                f"DistillationTrainer: the classifier's optimizer must be a Keras optimizer, got "
                f"{type(own).__name__}; pass learning_rate=... to train with Adam"
            )
        return type(own).from_config(own.get_config()), own

    def _steps(self):
        """Per phase (``"teacher"``, ``"student"``): its compiled training step (on batches in the student's input
        layout), the model it trains and that model's training-mode forward pass."""
        clf, owner = self._classifier, "DistillationTrainer"
        student = clf.model
        strategy = resolve_strategy(self.strategy)
        check_built_in_scope(self.strategy, student.variables, owner, "classifier.model")
        with strategy.scope():
            if self.teacher is None:
                with seeded(self.seed):
                    self.teacher = keras.models.clone_model(student)
            t_opt, s_opt = self._optimizers()
            for optimizer, model in ((t_opt, self.teacher), (s_opt, student)):
                if not optimizer.built:
                    optimizer.build(model.trainable_variables)
        check_built_in_scope(self.strategy, self.teacher.variables, owner, "teacher")
        check_built_in_scope(self.strategy, s_opt.variables, owner, "the classifier's optimizer")
        teacher, nb_classes = self.teacher, clf.nb_classes
        teacher_clf = TensorFlowV2Classifier(  # the teacher behind the student's ART preprocessing
            teacher,
            nb_classes=nb_classes,
            input_shape=tuple(clf.input_shape),
            clip_values=clf.clip_values,
            channels_first=clf.channels_first,
            preprocessing_defences=clf.preprocessing_defences,
            preprocessing=clf.preprocessing,
        )
        teacher_train = classifier_logits(teacher_clf, fit=True, training=True)
        teacher_eval, student_train = (
            classifier_logits(teacher_clf, fit=True),
            classifier_logits(clf, fit=True, training=True),
        )
        x_spec = tf.TensorSpec([None, *clf.input_shape], tf.float32)
        signature = None if is_distributed(self.strategy) else [x_spec, _LABELS]

        def teacher_step(xb, yb):
            with tf.GradientTape() as tape:
                logits = teacher_train(xb)
                loss = replica_mean(tf.nn.softmax_cross_entropy_with_logits(tf.one_hot(yb, nb_classes), logits))
            t_opt.apply_gradients(zip(tape.gradient(loss, teacher.trainable_variables), teacher.trainable_variables))
            return loss, tf.cast(tf.shape(xb)[0], tf.float32)

        def student_step(xb, labels):  # the labels are unused: the teacher's outputs are the targets
            del labels
            t_logits = teacher_eval(xb)
            with tf.GradientTape() as tape:
                per_example = _per_example_distillation_loss(
                    t_logits, student_train(xb), self.temperature, self.lambda_
                )
                loss = replica_mean(per_example)
            s_opt.apply_gradients(zip(tape.gradient(loss, student.trainable_variables), student.trainable_variables))
            return loss, tf.cast(tf.shape(xb)[0], tf.float32)

        def compiled(step):
            return distributed_step(self.strategy, step, input_signature=signature, reduce_retracing=False)

        return {
            "teacher": (compiled(teacher_step), teacher, teacher_train),
            "student": (compiled(student_step), student, student_train),
        }

    def _train(self, source: TrainingBatches, phases: dict) -> None:
        """Both trainings on the epochs of ``source`` (validated batches, preprocessed by ``preprocessor``)."""

        def epoch():
            for xb, yb in source.epoch():
                yield self._preprocess(np.asarray(xb)), np.asarray(yb)

        x_spec = tf.TensorSpec([None, *self._classifier.input_shape], tf.float32)
        preprocessed = TrainingBatches("preprocessed", epoch, source.steps_per_epoch, (x_spec, _LABELS))
        for name, nb_epochs in (("teacher", self.teacher_epochs), ("student", self.nb_epochs)):
            step, model, forward = phases[name]
            for _ in tqdm(range(nb_epochs), desc=name, disable=not self.verbose):
                total, count = 0.0, 0.0
                for xb, yb in preprocessed.epoch_for(self.strategy):
                    loss, size = step(xb, yb)
                    total += float(loss) * float(size)
                    count += float(size)
                if count == 0:
                    raise ValueError("DistillationTrainer: the training data yielded no batch")
                self.history_[name].append(total / count)
            if nb_epochs and self.refresh_batch_norm:
                inputs = (xb for xb, _ in preprocessed.epoch())
                refresh_batch_norm(model, inputs, forward, max_batches=REFRESH_BATCHES)

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

    def _source(self, x, y, caller: str, **kwargs) -> TrainingBatches:
        clf = self._classifier
        return training_batches(
            x,
            y,
            input_shape=tuple(clf.input_shape),
            nb_classes=clf.nb_classes,
            owner=f"DistillationTrainer.{caller}",
            **kwargs,
        )

    def fit(self, x, y: np.ndarray | None = None, **kwargs) -> DistillationTrainer:
        """
        Train the teacher on (preprocessed) ``x`` with one-hot ``y``, then the student on the teacher's outputs.

        :param x: Training images (clean and/or adversarial), or a ``tf.data.Dataset`` of ``(x, y)`` batches (data
               larger than memory; then ``y`` is ``None`` and the dataset's batches are used as they come).
        :param y: Labels, class indices or one-hot; ``None`` for a dataset.
        :param kwargs: ``nb_epochs`` / ``teacher_epochs`` / ``batch_size`` set those parameters (as
               :meth:`set_params`) before training.
        :return: self.
        :raises ValueError: Bad inputs, or an unknown or invalid keyword argument.
        """
        clf = self._classifier
        if isinstance(x, tf.data.Dataset):
            source = self._source(x, y, "fit", batch_size=None, clip_values=clf.clip_values)
            self._set_fit_params(kwargs, "fit")
        else:
            x = check_inputs(x, "x", clf.clip_values, input_shape=tuple(clf.input_shape))
            y = check_labels(y, len(x), clf.nb_classes)
            self._set_fit_params(kwargs, "fit")
            x = self._preprocess(x)
            rng = np.random.default_rng(self.seed)
            source = self._source(x, y, "fit", batch_size=self.batch_size, seed=rng, check_y=_checked_labels)
        self._train(source, self._steps())
        return self

    def fit_generator(self, generator, nb_epochs: int | None = None, **kwargs) -> DistillationTrainer:
        """
        :meth:`fit` on the batches of an ART ``DataGenerator`` (data too large for memory): each epoch takes
        ``ceil(generator.size / generator.batch_size)`` batches from ``generator.get_batch()``, first for the
        teacher's epochs, then for the student's.

        :param generator: ART ``DataGenerator`` with a ``size``; its batches are validated and preprocessed as in
               :meth:`fit`.
        :param nb_epochs: Student epochs (sets ``nb_epochs``; ``None`` keeps it).
        :param kwargs: ``teacher_epochs`` sets that parameter (as :meth:`set_params`) before training.
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
        source = self._source(
            generator, None, "fit_generator", batch_size=None, clip_values=self._classifier.clip_values
        )
        if nb_epochs is not None:
            kwargs = {**kwargs, "nb_epochs": nb_epochs}
        self._set_fit_params(kwargs, "fit_generator")
        self._train(source, self._steps())
        return self

    def _check_param_relations(self) -> None:
        if not isinstance(getattr(self._classifier, "model", None), keras.Model):
            raise ValueError(
                "DistillationTrainer: classifier must be an ART TensorFlowV2Classifier with a Keras `model`"
            )
        if self.teacher_epochs == 0 and self.teacher is None:
            raise ValueError("DistillationTrainer: teacher_epochs=0 needs a trained teacher")


def _checked_labels(y, n: int, name: str) -> np.ndarray:
    """Labels already checked by :meth:`DistillationTrainer.fit` (class indices), passed through."""
    return y


__all__ = ["DistillationTrainer", "distillation_loss"]
