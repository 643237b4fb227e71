"""Wrap a Keras model as ART's ``TensorFlowV2Classifier`` with a compiled, cached train step.

ART's ``TensorFlowV2Classifier.fit`` builds a new ``tf.function`` on every call unless a
``train_step`` is passed; :func:`wrap` passes one that is traced once per model and reused,
and chooses the loss from the model (logits or probabilities) and the label format.
"""
from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from art.estimators.classification import TensorFlowV2Classifier


def make_train_step(loss_object: keras.losses.Loss, optimizer: keras.optimizers.Optimizer) -> Callable:
    """A ``train_step(model, images, labels)`` for ART, compiled once with ``tf.function``.

    ``reduce_retracing`` keeps the last, smaller batch of an epoch from causing a retrace on
    every ``fit`` call.
    """

    @tf.function(reduce_retracing=True)
    def train_step(model, images, labels):
        with tf.GradientTape() as tape:
            loss = loss_object(labels, model(images, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    return train_step


def _outputs_probabilities(model: keras.Model) -> bool:
    last = model.layers[-1] if getattr(model, "layers", None) else None
    activation = getattr(last, "activation", None)
    return activation is keras.activations.softmax


def wrap(model: keras.Model, nb_classes: int | None = None, input_shape: tuple[int, ...] | None = None,
         clip_values: tuple[float, float] | None = (0.0, 1.0), optimizer: keras.optimizers.Optimizer | None = None,
         learning_rate: float = 1e-3, sparse_labels: bool = True, from_logits: bool | None = None,
         **kwargs) -> TensorFlowV2Classifier:
    """Return an ART ``TensorFlowV2Classifier`` for a Keras model, ready for ``fit``, ``predict`` and attacks.

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
        has a softmax activation.
    :param kwargs: Passed on to ``TensorFlowV2Classifier`` (``preprocessing_defences``, ``preprocessing``, ...).
    :return: The classifier.
    :raises ValueError: If the model, class count, input shape or clip values do not fit together.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    try:
        out_shape, in_shape = tuple(model.output_shape), tuple(model.input_shape)
    except (AttributeError, ValueError) as err:
        raise ValueError("the model must be built (give it an Input) so its input/output shapes are known") from err
    model_classes = out_shape[-1]
    if nb_classes is None:
        nb_classes = model_classes
    if not isinstance(nb_classes, (int, np.integer)) or nb_classes < 2:
        raise ValueError(f"nb_classes must be an integer >= 2, got {nb_classes!r}")
    if model_classes is not None and model_classes != nb_classes:
        raise ValueError(f"the model has {model_classes} outputs but nb_classes={nb_classes}")
    if input_shape is None:
        input_shape = in_shape[1:]
    if tuple(input_shape) != in_shape[1:]:
        raise ValueError(f"input_shape {tuple(input_shape)} does not match the model's input {in_shape[1:]}")
    if clip_values is not None:
        if len(clip_values) != 2 or not clip_values[0] < clip_values[1]:
            raise ValueError(f"clip_values must be (min, max) with min < max, got {clip_values!r}")
        clip_values = (float(clip_values[0]), float(clip_values[1]))
    if from_logits is None:
        from_logits = not _outputs_probabilities(model)
    loss_cls = keras.losses.SparseCategoricalCrossentropy if sparse_labels else keras.losses.CategoricalCrossentropy
    loss_object = loss_cls(from_logits=from_logits)
    optimizer = optimizer or keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build(model.trainable_variables)
    return TensorFlowV2Classifier(model=model, nb_classes=int(nb_classes), input_shape=tuple(input_shape),
                                  loss_object=loss_object, optimizer=optimizer,
                                  train_step=make_train_step(loss_object, optimizer),
                                  clip_values=clip_values, **kwargs)
