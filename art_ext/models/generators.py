"""Noise generators for Learning to Confuse (Feng, Cai, Zhou 2019): image -> noise in [-1, 1].

Every builder returns a Keras model whose output has the input's shape and ends in ``tanh``;
:class:`art_ext.attacks.poisoning.LearningToConfuse` scales it by ``eps``. The signature is the
registry's ``(input_shape, nb_classes, **options)``; ``nb_classes`` is accepted and ignored.
"""

from __future__ import annotations

import keras
from keras import layers

from art_ext.models._layers import BN_MOMENTUM, check_input_shape


def _bn_relu(x):
    return layers.ReLU()(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))


def _bn_tanh(x):
    """BN -> tanh, as the authors' auto-encoder ends (BN before tanh keeps it out of saturation)."""
    return layers.Activation("tanh", name="noise")(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))


def _conv_bn_relu(x, width: int, strides: int = 1, transpose: bool = False):
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    return _bn_relu(conv(width, 3, strides=strides, padding="same", use_bias=False)(x))


def _noise_head(x, channels: int):
    """1x1 conv -> BN -> tanh."""
    return _bn_tanh(layers.Conv2D(channels, 1)(x))


def _pad_to(x, shape, multiple: int):
    """Zero-pad H and W up to a multiple; return the padded tensor and the crop that undoes it."""
    ph, pw = (-shape[0]) % multiple, (-shape[1]) % multiple
    pads = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2))
    return (layers.ZeroPadding2D(pads)(x) if ph or pw else x), pads


def conv_autoencoder(input_shape, nb_classes: int | None = None, widths: tuple[int, int] = (16, 64)) -> keras.Model:
    """A small conv auto-encoder for small images (the authors' MNIST generator, in spirit).

    Encoder: two stride-2 3x3 conv + BN + ReLU stages (``widths``); decoder: two stride-2 transposed
    convs back to the input size, then 1x1 conv + BN + tanh. Any H x W (padded to a multiple of 4).
    """
    shape = check_input_shape(input_shape)
    inputs = keras.Input(shape=shape)
    x, pads = _pad_to(inputs, shape, 4)
    for w in widths:
        x = _conv_bn_relu(x, w, strides=2)
    for w in reversed(widths):
        x = _conv_bn_relu(x, w, strides=2, transpose=True)
    x = _noise_head(x, shape[2])
    if any(sum(p) for p in pads):
        x = layers.Cropping2D(pads)(x)
    return keras.Model(inputs, x, name="deepconfuse_autoencoder")


def mnist_autoencoder(input_shape, nb_classes: int | None = None) -> keras.Model:
    """The authors' MNIST auto-encoder layout, for 28x28 inputs (any number of channels).

    Encoder: 3x3 conv (16, stride 3, padding 1) -> 10x10, 2x2 max pooling -> 5x5, 3x3 conv (64, stride 2,
    padding 1) -> 3x3, 2x2 max pooling with stride 1 -> a 2x2x64 bottleneck; decoder: transposed convs 3x3/2
    (128) -> 5x5, 5x5/3 (64, cropped by 1) -> 15x15, 2x2/2 (cropped by 1) -> 28x28; BN + ReLU after every
    layer, BN + tanh at the end. Its tight bottleneck makes the noise a smooth, low-dimensional function of
    the image, unlike :func:`conv_autoencoder`'s 7x7 one.
    """
    shape = check_input_shape(input_shape)
    if shape[:2] != (28, 28):
        raise ValueError(f"the authors' MNIST auto-encoder needs 28x28 inputs, got {shape[0]}x{shape[1]}")

    inputs = keras.Input(shape=shape)
    x = _bn_relu(layers.Conv2D(16, 3, strides=3)(layers.ZeroPadding2D(1)(inputs)))
    x = layers.MaxPooling2D(2)(x)
    x = _bn_relu(layers.Conv2D(64, 3, strides=2)(layers.ZeroPadding2D(1)(x)))
    x = layers.MaxPooling2D(2, strides=1)(x)
    x = _bn_relu(layers.Conv2DTranspose(128, 3, strides=2)(x))
    # padding="same" is the valid 17x17 output cropped by 1 on every side, in one op (3x faster to train on a CPU
    # than the crop, whose gradient is a slow strided-slice gradient).
    x = _bn_relu(layers.Conv2DTranspose(64, 5, strides=3, padding="same")(x))
    x = layers.Cropping2D(1)(layers.Conv2DTranspose(shape[2], 2, strides=2)(x))
    return keras.Model(inputs, _bn_tanh(x), name="deepconfuse_mnist_autoencoder")


def unet(input_shape, nb_classes: int | None = None, widths: tuple[int, ...] = (16, 32, 64)) -> keras.Model:
    """A compact U-Net (the authors' CIFAR-10 generator, scaled down): ``len(widths)`` stages.

    Each encoder stage: two 3x3 conv + BN + ReLU, then 2x2 max pooling; bottleneck at twice the last
    width; each decoder stage: stride-2 transposed conv, concatenation with the lateral encoder output,
    two 3x3 conv + BN + ReLU; 1x1 conv + BN + tanh. Any H x W (padded to a multiple of 2**stages).
    """
    shape = check_input_shape(input_shape)
    inputs = keras.Input(shape=shape)
    x, pads = _pad_to(inputs, shape, 2 ** len(widths))
    skips = []
    for w in widths:
        x = _conv_bn_relu(_conv_bn_relu(x, w), w)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = _conv_bn_relu(x, 2 * widths[-1])
    for w, skip in zip(reversed(widths), reversed(skips)):
        x = layers.Concatenate()([_conv_bn_relu(x, w, strides=2, transpose=True), skip])
        x = _conv_bn_relu(_conv_bn_relu(x, w), w)
    x = _noise_head(x, shape[2])
    if any(sum(p) for p in pads):
        x = layers.Cropping2D(pads)(x)
    return keras.Model(inputs, x, name="deepconfuse_unet")


def default_generator(input_shape) -> keras.Model:
    """The authors' auto-encoder for 28x28 images, the U-Net for colour images of at least 32x32, the small
    auto-encoder otherwise.

    On MNIST the authors' layout confuses victims the generator never saw far better than the small
    auto-encoder at the same budget (:doc:`/results/learning_to_confuse`).
    """
    shape = check_input_shape(input_shape)
    if shape[:2] == (28, 28):
        return mnist_autoencoder(shape)
    return unet(shape) if shape[2] == 3 and min(shape[:2]) >= 32 else conv_autoencoder(shape)
