"""The UDDN denoiser network of Li & Wang (2018), Fig. 3: a U-Net that predicts the negative noise.

Units (paper Sec. 3): **C** = 3x3 convolution + batch normalisation + ReLU; **C2** = two C
with a residual connection around the second; **C3** = three C with dense-style connections
(the third C sees the concatenation of the first two). Encoder: C2, then four C3 whose first
convolution has stride 2 (1/2 .. 1/16 resolution). Decoder: four modules (C3, C3, C3, C2 from
the bottom up); each upsamples its feedback input (bilinear, x2) to the lateral input's size,
concatenates the lateral encoder map ("F" fusion) and applies its Ck. A 1x1 convolution gives
the negative noise ``-dx``; the output is ``x + (-dx)`` (Eq. 4).

The network accepts any ``H x W``: it pads the input (edge replication) to a multiple of 16 and
crops the output back. ``lateral=False`` drops the encoder-decoder connections (the paper's DAE
architecture); ``residual=False`` makes the 1x1 convolution output the image itself.

>>> from art_ext.models.unet import uddn_unet
>>> net = uddn_unet(channels=1, widths=(8, 16, 16, 16, 16))
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from art_ext.models._layers import BN_MOMENTUM

#: Paper / HGD (Liao et al. 2018) widths of the five encoder modules; decoder module i uses widths[i].
PAPER_WIDTHS = (64, 128, 256, 256, 256)
DOWNSAMPLING = 16  # four stride-2 stages


@keras.saving.register_keras_serializable(package="art_ext")
class PadToMultiple(layers.Layer):
    """Pad height and width (bottom/right, edge replication) up to a multiple of ``multiple``."""

    def __init__(self, multiple: int = DOWNSAMPLING, **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)

    def call(self, x):
        shape = tf.shape(x)
        pad_h = (-shape[1]) % self.multiple
        pad_w = (-shape[2]) % self.multiple
        # Edge replication, built from gathers so any pad size works (REFLECT needs pad < size).
        rows = tf.minimum(tf.range(shape[1] + pad_h), shape[1] - 1)
        cols = tf.minimum(tf.range(shape[2] + pad_w), shape[2] - 1)
        return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)

    def compute_output_shape(self, input_shape):
        def up(s):
            return None if s is None else -(-s // self.multiple) * self.multiple

        return (input_shape[0], up(input_shape[1]), up(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="art_ext")
class CropLike(layers.Layer):
    """Crop ``x`` (bottom/right) to the height and width of ``reference``: ``call([x, reference])``."""

    def call(self, inputs):
        x, reference = inputs
        shape = tf.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])


@keras.saving.register_keras_serializable(package="art_ext")
class ResizeLike(layers.Layer):
    """Bilinear resize of ``x`` to the height and width of ``reference``: ``call([x, reference])``."""

    def call(self, inputs):
        x, reference = inputs
        return tf.image.resize(x, tf.shape(reference)[1:3], method="bilinear")

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])


def conv_unit(x, width: int, stride: int = 1, name: str | None = None):
    """Unit C: 3x3 convolution, batch normalisation, ReLU."""
    x = layers.Conv2D(
        width, 3, strides=stride, padding="same", use_bias=False, name=None if name is None else name + "_conv"
    )(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=None if name is None else name + "_bn")(x)
    return layers.ReLU(name=None if name is None else name + "_relu")(x)


def c2(x, width: int, stride: int = 1, name: str = "c2"):
    """C2: two units with a residual connection at the second (``y = C(C(x)) + C(x)``)."""
    y1 = conv_unit(x, width, stride, name=f"{name}_1")
    y2 = conv_unit(y1, width, name=f"{name}_2")
    return layers.Add(name=f"{name}_res")([y1, y2])


def c3(x, width: int, stride: int = 1, name: str = "c3"):
    """C3: three units with dense-style connections (the third sees both earlier outputs)."""
    y1 = conv_unit(x, width, stride, name=f"{name}_1")
    y2 = conv_unit(y1, width, name=f"{name}_2")
    y3 = conv_unit(layers.Concatenate(name=f"{name}_dense")([y1, y2]), width, name=f"{name}_3")
    return y3


def uddn_unet(
    channels: int = 3,
    widths: tuple[int, ...] = PAPER_WIDTHS,
    lateral: bool = True,
    residual: bool = True,
    name: str = "uddn",
) -> keras.Model:
    """Build the Fig. 3 denoiser for images with ``channels`` channels and any height and width.

    :param channels: Number of image channels (1 or 3; any positive number works).
    :param widths: Widths of the five encoder modules (C2, C3 x 4); decoder module ``i`` (top to
        bottom) uses ``widths[i]``, as in HGD's reference implementation.
    :param lateral: Keep the U-Net lateral connections; ``False`` gives the paper's DAE architecture.
    :param residual: Output ``x - dx`` (the network learns the noise); ``False`` outputs the image directly.
    :param name: Model name.
    :return: A Keras model mapping ``(n, H, W, channels)`` to a denoised batch of the same shape.
    :raises ValueError: Bad channel count or widths.
    """
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    widths = tuple(int(w) for w in widths)
    if len(widths) != 5 or min(widths) < 1:
        raise ValueError(f"widths must be five positive integers (encoder C2, C3 x 4), got {widths!r}")

    inputs = keras.Input(shape=(None, None, channels), name="x")
    padded = PadToMultiple(DOWNSAMPLING, name="pad")(inputs)
    skips = [c2(padded, widths[0], name="enc0")]
    for i in range(1, 5):
        skips.append(c3(skips[-1], widths[i], stride=2, name=f"enc{i}"))
    h = skips[-1]
    for i in (3, 2, 1, 0):  # bottom-up: three C3, then one C2
        lateral_input = skips[i]
        h = ResizeLike(name=f"up{i}")([h, lateral_input])
        if lateral:
            h = layers.Concatenate(name=f"fuse{i}")([h, lateral_input])
        h = (c3 if i > 0 else c2)(h, widths[i], name=f"dec{i}")
    out = layers.Conv2D(channels, 1, name="neg_noise" if residual else "image")(h)
    out = CropLike(name="crop")([out, inputs])
    if residual:
        out = layers.Add(name="denoised")([inputs, out])
    return keras.Model(inputs, out, name=name)


__all__ = ["PAPER_WIDTHS", "CropLike", "PadToMultiple", "ResizeLike", "c2", "c3", "conv_unit", "uddn_unet"]
