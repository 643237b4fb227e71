"""Batch-normalisation statistics that fit the final weights.

Keras keeps a batch-normalisation layer's inference statistics as a moving average (momentum 0.99) of the batch
statistics seen in training, so they trail the weights by some hundred steps. After short or fast training (a few
epochs, Adam at a constant learning rate) the network in inference mode can be far from the trained one: a small
ResNet trained 3 epochs by :class:`~art_ext.defences.trainer.TwoNLabelingTrainer` classified 97.3 % of MNIST test
digits with batch statistics but 17.1 % with its moving ones, and 97.5 % after :func:`refresh_batch_norm` on 20
batches of its training mix. The trainers that train a user's model call it at the end of ``fit``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice

import keras
import numpy as np
import tensorflow as tf

#: Batches the trainers refresh the statistics on (at most one epoch).
REFRESH_BATCHES = 20


def batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """The batch-normalisation layers of ``model`` (nested models and layers included) that training updates:
    those with ``trainable=False`` run in inference mode in Keras even when called with ``training=True``."""
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)  # pylint: disable=protected-access
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
    ]


def refresh_batch_norm(
    model: keras.Model,
    batches: Iterable,
    forward: Callable[[tf.Tensor], tf.Tensor] | None = None,
    max_batches: int | None = None,
) -> int:
    """Set the moving statistics of ``model``'s batch-normalisation layers to the average over ``batches``.

    Every updated layer's moving mean and variance become the plain average of the batch means and variances it
    sees in ``forward`` (in training mode) over ``batches``, computed with the current weights: the cumulative
    average of PyTorch's ``torch.optim.swa_utils.update_bn``. ``forward`` is compiled (``tf.function``, traced
    once per call of this function). Pass batches of the distribution the model was
    trained on (for a model trained on a mix of clean and perturbed inputs, that mix). A model without such
    layers is left untouched and ``batches`` is not read. The layers' momentum is restored afterwards; on an
    error the statistics are too.

    :param model: The Keras model whose layers are refreshed.
    :param batches: Input batches (arrays or tensors), e.g. a few dozen training batches.
    :param forward: ``forward(x)``: the model's forward pass in training mode through any preprocessing (e.g.
        :func:`~art_ext.estimators.classifier_logits` with ``fit=True, training=True``); default
        ``model(x, training=True)``.
    :param max_batches: Read at most this many batches (``None``: all).
    :return: The number of layers refreshed.
    :raises ValueError: If ``batches`` yields no batch (the statistics are left as they were).
    """
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    forward = forward or (lambda x: model(x, training=True))
    saved = [(layer.momentum, layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
    for layer in layers:  # momentum 0: every training-mode call leaves its own batch's statistics
        layer.momentum = 0.0
    compiled = tf.function(forward, reduce_retracing=True)  # traced here, with that momentum
    sums = [[np.zeros_like(mean), np.zeros_like(variance)] for _, mean, variance in saved]
    count, completed = 0, False
    try:
        for x in islice(batches, max_batches):
            compiled(tf.convert_to_tensor(x, tf.float32))
            for total, layer in zip(sums, layers):
                total[0] += layer.moving_mean.numpy()
                total[1] += layer.moving_variance.numpy()
            count += 1
        completed = count > 0
    finally:  # the average on success; else (no batch, or an error) the statistics as they were
        for layer, (momentum, mean, variance), (mean_sum, variance_sum) in zip(layers, saved, sums):
            layer.momentum = momentum
            layer.moving_mean.assign(mean_sum / count if completed else mean)
            layer.moving_variance.assign(variance_sum / count if completed else variance)
    if count == 0:
        raise ValueError("refresh_batch_norm: batches yielded no batch")
    return len(layers)
