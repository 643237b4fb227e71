"""Noise generators for Learning to Confuse (Feng, Cai, Zhou 2019): image -> noise in [-1, 1].

Both builders return a Keras model whose output has the input's shape and ends in ``tanh``;
:class:`art_ext.attacks.poisoning.LearningToConfuse` scales it by ``eps``. The signature is the
registry's ``(input_shape, nb_classes, **options)``; ``nb_classes`` is accepted and ignored.
"""
from __future__ import annotations

import keras
from keras import layers

from art_ext.models._layers import BN_MOMENTUM, check_input_shape


def _conv_bn_relu(x, width: int, strides: int = 1, transpose: bool = False):
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(width, 3, strides=strides, padding="same", use_bias=False)(x)
    return layers.ReLU()(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))


def _noise_head(x, channels: int):
    """1x1 conv -> BN -> tanh, as the authors' auto-encoder ends (BN before tanh keeps it out of saturation)."""
    return layers.Activation("tanh", name="noise")(
        layers.BatchNormalization(momentum=BN_MOMENTUM)(layers.Conv2D(channels, 1)(x)))


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
    """The U-Net for colour images of at least 32x32, the small auto-encoder otherwise."""
    shape = check_input_shape(input_shape)
    return unet(shape) if shape[2] == 3 and min(shape[:2]) >= 32 else conv_autoencoder(shape)
