"""Building blocks shared by the reference architectures."""

from __future__ import annotations

import keras
from keras import layers

#: Batch-norm momentum of every reference model: PyTorch's default (0.1 there, 1 - 0.9 here), which the
#: papers' code uses. Keras' default 0.99 leaves the moving statistics near their initial values after a
#: few hundred steps, so short trainings predict at chance in inference mode.
BN_MOMENTUM = 0.9


def check_input_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Validate an image shape ``(height, width, channels)``; return it as a tuple of ints."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    return shape


def check_shape(input_shape: tuple[int, ...], nb_classes: int, min_side: int = 1) -> tuple[int, int, int]:
    """Validate an NHWC image shape and class count; return the shape as a tuple of ints."""
    shape = check_input_shape(input_shape)
    if min(shape[:2]) < min_side:
        raise ValueError(f"this model needs images of at least {min_side}x{min_side}, got {shape[:2]}")
    if not isinstance(nb_classes, int) or nb_classes < 2:
        raise ValueError(f"nb_classes must be an integer >= 2, got {nb_classes!r}")
    return shape


def conv_blocks(x, blocks: list[tuple[int, int]], batch_norm: bool = False, pool: bool = True):
    """VGG-style blocks: for each ``(n, width)``, n 3x3 convolutions (ReLU), then 2x2 max pooling."""
    for n, width in blocks:
        for _ in range(n):
            x = layers.Conv2D(width, 3, padding="same", use_bias=not batch_norm)(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
            x = layers.ReLU()(x)
        if pool and x.shape[1] >= 2 and x.shape[2] >= 2:
            x = layers.MaxPooling2D(2)(x)
    return x


def dense_head(x, units: list[int], nb_classes: int, dropout: float = 0.0):
    """Flatten, hidden ReLU layers (each followed by dropout), and a logits layer."""
    x = layers.Flatten()(x)
    for u in units:
        x = layers.Dense(u, activation="relu")(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    return layers.Dense(nb_classes, name="logits")(x)


def scaled(width: int, scale: float) -> int:
    """``width * scale`` rounded, at least 1."""
    return max(1, int(round(width * scale)))


def build(input_shape, body, name: str) -> keras.Model:
    """A functional model from ``body(inputs) -> logits``."""
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, body(inputs), name=name)
