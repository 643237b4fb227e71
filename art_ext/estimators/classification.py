"""Wrap a Keras model as ART's ``TensorFlowV2Classifier`` with a compiled, cached train step and checked inputs.

ART's ``TensorFlowV2Classifier.fit`` builds a new ``tf.function`` on every call unless a
``train_step`` is passed; :func:`wrap` passes one that is traced once per model and reused,
and chooses the loss from the model (logits or probabilities) and the label format.

ART's ``predict`` hands its whole input to a ``tf.function`` with ``reduce_retracing``, unchecked: one batch
of the wrong rank makes later traces shape-agnostic, and every later valid call fails; NaN in ``fit`` turns
every weight NaN; and ``batch_size`` is ignored. :class:`CheckedClassifier` (what :func:`wrap` returns) checks
inputs at the boundary first and predicts batch by batch.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from art.estimators.classification import TensorFlowV2Classifier

from art_ext.params import BOOL, POSITIVE_INT, POSITIVE_REAL, ClipValues, Integral, Interval, validate_params
from art_ext.utils import batches, check_inputs, check_labels


def make_train_step(loss_object: keras.losses.Loss, optimizer: keras.optimizers.Optimizer) -> Callable:
    """A ``train_step(model, images, labels)`` for ART, compiled once per model and input format.

    Each model gets one ``tf.function`` whose signature leaves the batch dimension open, so the first ``fit`` call
    traces once: with a shape-specialised trace (``reduce_retracing`` alone) the last, smaller batch of the first
    epoch costs a second full trace, which for a ResNet on a CPU takes seconds.
    ``train_step.experimental_get_tracing_count()`` counts the traces, as a tf.function's.
    """
    compiled: dict[tuple, Callable] = {}

    def compile_for(model: keras.Model, images: tf.Tensor, labels: tf.Tensor) -> Callable:
        spec = [tf.TensorSpec([None, *t.shape[1:]], t.dtype) for t in (images, labels)]

        @tf.function(input_signature=spec)
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_object(y, model(x, training=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        return step

    def train_step(model, images, labels):
        images, labels = tf.convert_to_tensor(images), tf.convert_to_tensor(labels)
        key = (id(model), images.dtype, tuple(images.shape[1:]), labels.dtype, tuple(labels.shape[1:]))
        if key not in compiled:  # the step's closure keeps the model alive, so its id cannot be reused by another
            compiled[key] = compile_for(model, images, labels)
        return compiled[key](images, labels)

    train_step.experimental_get_tracing_count = lambda: sum(
        step.experimental_get_tracing_count() for step in compiled.values()
    )
    return train_step


def outputs_logits(estimator) -> bool:
    """Whether a model outputs logits rather than probabilities.

    :param estimator: An ART TensorFlow classifier (read from its loss's ``from_logits``, else its model) or a
        Keras model (probabilities when its last layer has a softmax activation or is a ``Softmax`` layer).
    """
    from_logits = getattr(getattr(estimator, "_loss_object", None), "from_logits", None)
    if from_logits is not None:
        return bool(from_logits)
    model = estimator.model if isinstance(estimator, TensorFlowV2Classifier) else estimator
    layers = getattr(model, "layers", None)
    if not layers:
        return True
    last = layers[-1]
    softmax = isinstance(last, keras.layers.Softmax) or getattr(last, "activation", None) is keras.activations.softmax
    return not softmax


#: Floor of probabilities before their log (probability-output models), so a zero probability gives a finite logit.
PROBABILITY_FLOOR = 1e-12


def classifier_logits(
    classifier, *, fit: bool = False, training: bool = False, model: Callable[..., tf.Tensor] | None = None
) -> Callable[[tf.Tensor], tf.Tensor]:
    """The classifier's forward pass as TensorFlow sees it through ART: raw inputs -> logits.

    Raw inputs are in the classifier's ``clip_values`` units, as ART's ``predict`` and ``loss_gradient`` take
    them. The returned function applies the classifier's ``preprocessing`` (standardisation) and
    ``preprocessing_defences`` exactly as ART does (their TensorFlow ``forward``; ``fit=True`` applies those
    with ``apply_fit``, as ART's ``fit``), then the Keras model. A model that outputs probabilities gives its
    log-probabilities (probabilities floored at ``PROBABILITY_FLOOR`` = 1e-12): they differ from its logits by one
    constant per input, so margins, cross-entropy and the argmax are the same. Use it wherever the library
    differentiates or calls a classifier's model directly, so a user's ART preprocessing and softmax heads are
    honoured.

    :param classifier: An ART ``TensorFlowV2Classifier``.
    :param fit: Apply the training-time preprocessing (``apply_fit``) instead of the prediction-time one.
    :param training: Keras ``training`` flag of the model call (dropout, batch-norm statistics).
    :param model: Called as ``model(x, training=training)`` instead of ``classifier.model``: a network of the same
        architecture with other weights (e.g. a fresh clone, or a functional ``stateless_call`` with explicit
        weights), seen through the classifier's preprocessing and output type.
    :return: ``f(x) -> logits`` of shape ``(n, nb_classes)``, traceable in ``tf.function``.
    :raises ValueError: If the classifier has no Keras ``model``, or a preprocessing step without a TensorFlow
        forward pass (ART's ``all_framework_preprocessing`` is false), which the library cannot differentiate.
    """
    network = getattr(classifier, "model", None)
    if not callable(network):
        raise ValueError(
            f"classifier must be an ART TensorFlowV2Classifier with a Keras model, got {type(classifier).__name__}"
        )
    operations = list(getattr(classifier, "preprocessing_operations", None) or [])
    if operations and not classifier.all_framework_preprocessing:
        names = ", ".join(type(op).__name__ for op in operations)
        raise ValueError(
            f"the classifier's preprocessing ({names}) must run in TensorFlow (ART's PreprocessorTensorFlowV2, or "
            f"preprocessing=(mean, std)) for art-ext to apply it inside its TensorFlow graphs"
        )
    logits = outputs_logits(classifier)
    model = network if model is None else model

    def forward(x: tf.Tensor) -> tf.Tensor:
        if operations:
            x, _ = classifier._apply_preprocessing(x, None, fit=fit)  # pylint: disable=protected-access
        out = tf.cast(model(x, training=training), tf.float32)
        return out if logits else tf.math.log(tf.maximum(out, PROBABILITY_FLOOR))

    return forward


def _outputs_probabilities(model: keras.Model) -> bool:
    """Whether a Keras model outputs probabilities (see :func:`outputs_logits`)."""
    return not outputs_logits(model)


def _range(clip_values) -> tuple[float, float] | None:
    """Scalar bounds of ART ``clip_values`` (per-feature arrays: their overall min and max), or ``None``."""
    if clip_values is None:
        return None
    return float(np.min(clip_values[0])), float(np.max(clip_values[1]))


#: How far a soft label row's sum may stray from 1 (float32 softmax outputs sum to 1 within ~1e-6).
SOFT_LABEL_TOLERANCE = 1e-3


def check_fit_labels(y, n: int, nb_classes: int, soft: bool, name: str = "y") -> np.ndarray:
    """Labels for training: class indices or one-hot rows (:func:`~art_ext.utils.check_labels`), or, with
    ``soft``, rows of class probabilities (finite, non-negative, summing to 1), as categorical cross-entropy takes.

    :return: int64 class indices, or the probability rows as float32 (a new array either way).
    :raises ValueError: Labels of neither form, naming ``name``.
    """
    y_array = np.asarray(y) if y is not None else None
    is_soft = (
        soft
        and y_array is not None
        and y_array.ndim == 2
        and y_array.shape == (n, nb_classes)
        and np.issubdtype(y_array.dtype, np.floating)
    )
    if not is_soft or np.all((y_array == 0) | (y_array == 1)):
        return check_labels(y, n, nb_classes, name)
    bad = ~np.all(np.isfinite(y_array) & (y_array >= 0), axis=1)
    bad |= np.abs(y_array.sum(axis=1) - 1.0) > SOFT_LABEL_TOLERANCE
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be class indices, one-hot rows or class probabilities (finite, >= 0, each row "
            f"summing to 1); row {row} sums to {float(y_array[row].sum()):.4g} with min "
            f"{float(y_array[row].min()):.4g}"
        )
    return y_array.astype(np.float32)


def options_like(classifier, model: keras.Model, *, from_logits: bool, optimizer=None, **overrides) -> dict:
    """``TensorFlowV2Classifier`` arguments for ``model`` that take inputs as ``classifier`` does.

    The input shape, ``clip_values``, ``channels_first``, ART ``preprocessing`` and pre-/post-processing defences
    are ``classifier``'s; the loss is sparse categorical cross-entropy (``from_logits``) with a compiled train step
    of ``optimizer`` (``Adam(1e-3)`` by default). ``overrides`` replace any of them (e.g. ``nb_classes``).
    """
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    optimizer = optimizer or keras.optimizers.Adam(1e-3)
    options = dict(
        model=model,
        nb_classes=classifier.nb_classes,
        input_shape=tuple(classifier.input_shape),
        loss_object=loss,
        optimizer=optimizer,
        train_step=make_train_step(loss, optimizer),
        clip_values=classifier.clip_values,
        channels_first=classifier.channels_first,
        preprocessing_defences=classifier.preprocessing_defences,
        postprocessing_defences=classifier.postprocessing_defences,
        preprocessing=classifier.preprocessing,
    )
    options.update(overrides)
    return options


class CheckedClassifier(TensorFlowV2Classifier):
    """ART's ``TensorFlowV2Classifier`` with its inputs checked at the boundary and ``predict`` run in batches.

    ``predict`` and ``fit`` reject, before any TensorFlow work, inputs of the wrong shape (one wrong-rank call to
    ART's ``predict`` otherwise leaves its compiled forward pass unusable for all later valid input) and NaN/inf
    (one NaN pixel in ``fit`` turns every weight NaN); ``fit`` rejects labels that are not class indices, one-hot
    rows or (with a categorical loss) class probabilities; ``loss_gradient`` and ``class_gradient`` check the
    shape and finiteness of NumPy inputs. ``predict`` runs ``batch_size`` samples at a time, so its memory is
    bounded by ``batch_size``.

    :param check_range: Also refuse inputs to ``predict`` and ``fit`` outside ``clip_values`` (e.g. uint8 0-255
        images for a model in [0, 1]). ``False`` lets inputs go outside on purpose (say, a perturbation fed
        alone); ``clip_values`` then only bound ART's attacks, as in ART.
    :param kwargs: ``TensorFlowV2Classifier``'s parameters (``model``, ``nb_classes``, ``input_shape``, ...).
    """

    def __init__(self, *args, check_range: bool = True, **kwargs):
        validate_params({"check_range": [BOOL]}, {"check_range": check_range}, type(self).__name__)
        super().__init__(*args, **kwargs)
        self.check_range = check_range

    def _checked_x(self, x, clip: bool = True, min_samples: int = 1):
        if isinstance(x, tf.Tensor):  # ART's framework-level callers pass tensors; their graphs are theirs
            return x
        clip_values = _range(self.clip_values) if clip and self.check_range else None
        return check_inputs(x, "x", clip_values, tuple(self.input_shape), min_samples=min_samples)

    def predict(self, x: np.ndarray, batch_size: int = 128, training_mode: bool = False, **kwargs) -> np.ndarray:
        """
        Predict a batch of inputs, ``batch_size`` at a time.

        :param x: Inputs of shape ``(n, *input_shape)`` (within ``clip_values`` when ``check_range``).
        :param batch_size: Number of inputs per model call.
        :param training_mode: ``True`` to run the model in training mode.
        :return: Predictions of shape ``(n, nb_classes)``.
        :raises ValueError: For inputs of the wrong shape or dtype, NaN/inf, values outside ``clip_values`` (when
            ``check_range``), or a ``batch_size`` that is not a positive integer.
        """
        validate_params({"batch_size": [POSITIVE_INT]}, {"batch_size": batch_size}, "predict")
        x = self._checked_x(x, min_samples=0)
        if len(x) == 0:
            return np.zeros((0, self.nb_classes), np.float32)
        parts = [
            super(CheckedClassifier, self).predict(x[s], batch_size=batch_size, training_mode=training_mode, **kwargs)
            for s in batches(len(x), batch_size)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def fit(
        self, x: np.ndarray, y: np.ndarray, batch_size: int = 128, nb_epochs: int = 10, verbose: bool = False, **kwargs
    ) -> None:
        """
        Fit the classifier on ``(x, y)`` (ART's ``fit``, after checking every argument).

        :param x: Training inputs of shape ``(n, *input_shape)`` (within ``clip_values`` when ``check_range``).
        :param y: Labels: class indices ``(n,)`` or one-hot rows ``(n, nb_classes)``; with a categorical (not
            sparse) loss also class probabilities (soft labels).
        :param batch_size: Batch size.
        :param nb_epochs: Number of epochs.
        :param verbose: Show a progress bar.
        :param kwargs: ART's ``scheduler``.
        :raises ValueError: For bad inputs (shape, NaN/inf, range), labels, ``batch_size`` or ``nb_epochs``.
        """
        validate_params(
            {"batch_size": [POSITIVE_INT], "nb_epochs": [POSITIVE_INT]},
            {"batch_size": batch_size, "nb_epochs": nb_epochs},
            "fit",
        )
        x = self._checked_x(x)
        y = check_fit_labels(y, len(x), self.nb_classes, soft=not self._reduce_labels)
        super().fit(x, y, batch_size=batch_size, nb_epochs=nb_epochs, verbose=verbose, **kwargs)

    def loss_gradient(self, x, y, training_mode: bool = False, **kwargs):
        """ART's ``loss_gradient``, after checking the shape and finiteness of NumPy ``x``."""
        return super().loss_gradient(self._checked_x(x, clip=False), y, training_mode=training_mode, **kwargs)

    def class_gradient(self, x, label=None, training_mode: bool = False, **kwargs):
        """ART's ``class_gradient``, after checking the shape and finiteness of NumPy ``x``."""
        return super().class_gradient(
            self._checked_x(x, clip=False), label=label, training_mode=training_mode, **kwargs
        )


#: What :func:`wrap` accepts (``None`` where it reads the value from the model or builds a default).
_WRAP_CONSTRAINTS = {
    "nb_classes": [None, Interval(Integral, 2, None)],
    "clip_values": [None, ClipValues()],
    "optimizer": [None, keras.optimizers.Optimizer],
    "learning_rate": [POSITIVE_REAL],
    "sparse_labels": [BOOL],
    "from_logits": [None, BOOL],
    "check_range": [BOOL],
}


def wrap(
    model: keras.Model,
    nb_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    clip_values: tuple[float, float] | None = (0.0, 1.0),
    optimizer: keras.optimizers.Optimizer | None = None,
    learning_rate: float = 1e-3,
    sparse_labels: bool = True,
    from_logits: bool | None = None,
    check_range: bool = False,
    **kwargs,
) -> CheckedClassifier:
    """Return an ART ``TensorFlowV2Classifier`` (a :class:`CheckedClassifier`) for a Keras model, ready for
    ``fit``, ``predict`` and attacks.

    :param model: A Keras model mapping a batch of inputs to ``nb_classes`` logits (or probabilities).
    :param nb_classes: Number of classes; read from the model's output shape when omitted.
    :param input_shape: Shape of one input; read from the model when omitted.
    :param clip_values: ``(min, max)`` of valid input values, as in ART.
    :param optimizer: Optimiser for ``fit``; default Adam with ``learning_rate``.
    :param learning_rate: Learning rate of the default optimiser.
    :param sparse_labels: Train with sparse categorical cross-entropy (ART then passes class indices
        to the train step). With ``False``, categorical cross-entropy on one-hot labels. Either way
        ``fit`` accepts indices or one-hot labels, and ``loss_gradient`` wants one-hot labels, as in ART.
    :param from_logits: Whether the model outputs logits; default: ``False`` only when its last layer
        has a softmax activation (or is a ``Softmax`` layer).
    :param check_range: Refuse inputs to ``predict`` and ``fit`` outside ``clip_values`` (see
        :class:`CheckedClassifier`). Off by default: as in ART, ``clip_values`` bound attacks, and a wrapped model
        may be fed inputs outside on purpose. Shape and NaN/inf are always checked.
    :param kwargs: Passed on to ``TensorFlowV2Classifier`` (``preprocessing_defences``, ``preprocessing``, ...).
    :return: The classifier.
    :raises ValueError: If the model, class count, input shape or clip values do not fit together.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    validate_params(
        _WRAP_CONSTRAINTS,
        {
            "nb_classes": nb_classes,
            "clip_values": clip_values,
            "optimizer": optimizer,
            "learning_rate": learning_rate,
            "sparse_labels": sparse_labels,
            "from_logits": from_logits,
            "check_range": check_range,
        },
        "wrap",
    )
    try:
        out_shape, in_shape = tuple(model.output_shape), tuple(model.input_shape)
    except (AttributeError, ValueError) as err:
        raise ValueError("the model must be built (give it an Input) so its input/output shapes are known") from err
    model_classes = out_shape[-1]
    if nb_classes is None:
        nb_classes = model_classes
    validate_params(_WRAP_CONSTRAINTS, {"nb_classes": nb_classes}, "wrap")
    if model_classes is not None and model_classes != nb_classes:
        raise ValueError(f"the model has {model_classes} outputs but nb_classes={nb_classes}")
    if input_shape is None:
        input_shape = in_shape[1:]
    if tuple(input_shape) != in_shape[1:]:
        raise ValueError(f"input_shape {tuple(input_shape)} does not match the model's input {in_shape[1:]}")
    if clip_values is not None:
        clip_values = (float(clip_values[0]), float(clip_values[1]))
    if from_logits is None:
        from_logits = outputs_logits(model)
    loss_cls = keras.losses.SparseCategoricalCrossentropy if sparse_labels else keras.losses.CategoricalCrossentropy
    loss_object = loss_cls(from_logits=from_logits)
    optimizer = optimizer or keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build(model.trainable_variables)
    return CheckedClassifier(
        check_range=check_range,
        model=model,
        nb_classes=int(nb_classes),
        input_shape=tuple(input_shape),
        loss_object=loss_object,
        optimizer=optimizer,
        train_step=make_train_step(loss_object, optimizer),
        clip_values=clip_values,
        **kwargs,
    )
