"""Small models: the DeepConfuse victim (Feng et al. 2019) and fast CNN/MLP for tests and demos."""

from __future__ import annotations

import keras
from keras import layers

from art_ext.models._layers import BN_MOMENTUM, build, check_shape, dense_head


def deepconfuse_victim(
    input_shape, nb_classes, batch_norm: bool = True, pooling: str = "max", logits_batch_norm: bool = False
) -> keras.Model:
    """The MNIST victim of Feng et al. (2019): conv 20 -> conv 50 (5x5, 2x2 pooling) -> FC 500 -> logits, with BN.

    The authors' code pools by averaging and also batch-normalises the logits (``pooling="average",
    logits_batch_norm=True``); the defaults (max pooling, plain logits) are the LeNet reading used by the
    reproductions. BN momentum 0.9 is PyTorch's default, which the authors' victim uses; with Keras' 0.99 the
    running statistics lag so far behind a few hundred training steps that inference-mode accuracy collapses.
    """
    shape = check_shape(input_shape, nb_classes, min_side=12)
    if pooling not in ("max", "average"):
        raise ValueError(f"pooling must be 'max' or 'average', got {pooling!r}")
    pool = layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D

    def body(x):
        for width in (20, 50):
            x = layers.Conv2D(width, 5, use_bias=not batch_norm)(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
            x = pool(2)(layers.ReLU()(x))
        x = layers.Dense(500, use_bias=not batch_norm)(layers.Flatten()(x))
        if batch_norm:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.Dense(nb_classes, name="logits" if not logits_batch_norm else None)(layers.ReLU()(x))
        if logits_batch_norm:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="logits")(x)
        return x

    return build(shape, body, "deepconfuse_victim")


def simple_cnn(input_shape, nb_classes, filters: tuple[int, int] = (8, 16), dense_units: int = 32) -> keras.Model:
    """A fast CNN (about 14k parameters on MNIST): two 3x3 conv + 2x2 max-pool stages, a dense layer, logits."""
    shape = check_shape(input_shape, nb_classes, min_side=10)

    def body(x):
        for f in filters:
            x = layers.MaxPooling2D(2)(layers.Conv2D(f, 3, activation="relu")(x))
        return dense_head(x, [dense_units], nb_classes)

    return build(shape, body, "simple_cnn")


def simple_mlp(input_shape, nb_classes, units: tuple[int, ...] = (128,), dropout: float = 0.0) -> keras.Model:
    """A multi-layer perceptron on flattened pixels."""
    shape = check_shape(input_shape, nb_classes)
    return build(shape, lambda x: dense_head(x, list(units), nb_classes, dropout), "simple_mlp")
