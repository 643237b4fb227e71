"""Reference architectures for 32x32 colour images (CIFAR-10) that train to >= 85 % on a CPU budget.

Three families besides VGG (:mod:`art_ext.models.vgg`), so that local, unknown and victim models of an attack can
differ in architecture, not only in weights:

* :func:`resnet20` -- the CIFAR ResNet of He et al. (2016), 3 stages of basic residual blocks;
* :func:`plain_cnn` -- a plain (residual-free) network: stages of two 3x3 conv + BN + ReLU, global average pooling;
* :func:`mobilenet_cifar` -- depthwise-separable convolutions as in MobileNet (Howard et al. 2017), sized for
  32x32 inputs.

All output logits for inputs in [0, 1], use batch normalisation with momentum
:data:`~art_ext.models._layers.BN_MOMENTUM` and contain only built-in Keras layers, so they save and load with
``safe_mode``.
"""

from __future__ import annotations

import keras
from keras import layers

from art_ext.models._layers import BN_MOMENTUM, build, check_shape, scaled


def _bn(x, relu: bool = True):
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return layers.ReLU()(x) if relu else x


def _conv_bn(x, width: int, strides: int = 1, relu: bool = True, kernel: int = 3):
    conv = layers.Conv2D(width, kernel, strides=strides, padding="same", use_bias=False, kernel_initializer="he_normal")
    return _bn(conv(x), relu)


def _logits(x, nb_classes: int):
    return layers.Dense(nb_classes, name="logits")(layers.GlobalAveragePooling2D()(x))


def _check_widths(widths, what: str = "widths") -> tuple[int, ...]:
    if not isinstance(widths, (tuple, list)) or not widths or not all(isinstance(w, int) and w >= 1 for w in widths):
        raise ValueError(f"{what} must be a non-empty tuple of positive integers, got {widths!r}")
    return tuple(widths)


def resnet(input_shape, nb_classes, depth: int = 20, widths: tuple[int, ...] = (16, 32, 64)) -> keras.Model:
    """The CIFAR ResNet of He et al. (2016), Sec. 4.2 (https://arxiv.org/abs/1512.03385).

    A 3x3 convolution of ``widths[0]`` filters, then one stage per width of ``(depth - 2) / 6`` basic blocks (two
    3x3 conv + BN, identity shortcut, ReLU after the sum); every stage after the first halves the map with a stride-2
    first block, whose shortcut is a 1x1 stride-2 convolution + BN (the paper's option B; option A's zero padding
    would need a ``Lambda`` layer, which Keras refuses to load in ``safe_mode``). Global average pooling and a dense
    logits layer end it.

    :param depth: ``6 n + 2`` weighted layers (20, 32, 44, 56, 110 in the paper).
    :param widths: Filters of the stages (the paper's three: 16, 32, 64).
    """
    shape = check_shape(input_shape, nb_classes)
    widths = _check_widths(widths)
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6 n + 2 with n >= 1 (20, 32, 44, 56, 110), got {depth!r}")
    blocks = (depth - 2) // 6

    def body(x):
        x = _conv_bn(x, widths[0])
        for stage, width in enumerate(widths):
            for block in range(blocks):
                strides = 2 if stage > 0 and block == 0 else 1
                shortcut = x
                if strides != 1 or x.shape[-1] != width:
                    shortcut = _conv_bn(x, width, strides=strides, relu=False, kernel=1)
                y = _conv_bn(x, width, strides=strides)
                y = _conv_bn(y, width, relu=False)
                x = layers.ReLU()(layers.Add()([shortcut, y]))
        return _logits(x, nb_classes)

    return build(shape, body, f"resnet{depth}")


def resnet20(input_shape, nb_classes, **options) -> keras.Model:
    """ResNet-20 of He et al. (2016): 3 stages x 3 basic blocks, 16/32/64 filters, about 0.27M parameters."""
    return resnet(input_shape, nb_classes, depth=20, **options)


def plain_cnn(input_shape, nb_classes, widths: tuple[int, ...] = (64, 128, 256)) -> keras.Model:
    """A plain convolutional network: per width, two 3x3 conv + BN + ReLU; 2x2 max pooling between the stages;
    global average pooling and a dense logits layer (about 1.15M parameters with the default widths).

    No residual connections, no dense hidden layers: a family distinct from ResNet and from VGG's flatten-and-dense
    head.

    :param widths: Filters of the stages.
    """
    shape = check_shape(input_shape, nb_classes)
    widths = _check_widths(widths)

    def body(x):
        for stage, width in enumerate(widths):
            if stage > 0 and x.shape[1] >= 2 and x.shape[2] >= 2:
                x = layers.MaxPooling2D(2)(x)
            x = _conv_bn(_conv_bn(x, width), width)
        return _logits(x, nb_classes)

    return build(shape, body, "plain_cnn")


#: MobileNet blocks for 32x32 inputs: (output width, stride) of each depthwise-separable block.
MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1))


def mobilenet_cifar(
    input_shape,
    nb_classes,
    width_scale: float = 1.0,
    blocks: tuple[tuple[int, int], ...] = MOBILENET_BLOCKS,
) -> keras.Model:
    """A MobileNet (Howard et al. 2017, https://arxiv.org/abs/1704.04861) for 32x32 images.

    A 3x3 convolution of 32 filters at stride 1 (the ImageNet network's stride 2 would discard most of a 32x32
    image), then depthwise-separable blocks -- 3x3 depthwise conv + BN + ReLU, 1x1 conv + BN + ReLU -- given as
    ``(width, stride)``; three stride-2 blocks take 32x32 to 4x4. Global average pooling and dense logits. About
    0.55M parameters with the default blocks.

    :param width_scale: The paper's width multiplier, applied to every width.
    :param blocks: ``(width, stride)`` of each depthwise-separable block.
    """
    shape = check_shape(input_shape, nb_classes)
    if not isinstance(width_scale, (int, float)) or not width_scale > 0:
        raise ValueError(f"width_scale must be a positive number, got {width_scale!r}")
    if not blocks or not all(
        isinstance(b, (tuple, list)) and len(b) == 2 and int(b[0]) >= 1 and b[1] in (1, 2) for b in blocks
    ):
        raise ValueError(f"blocks must be (width, stride) pairs with stride 1 or 2, got {blocks!r}")

    def body(x):
        x = _conv_bn(x, scaled(32, width_scale))
        for width, stride in blocks:
            x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
            x = _conv_bn(_bn(x), scaled(int(width), width_scale), kernel=1)
        return _logits(x, nb_classes)

    return build(shape, body, "mobilenet_cifar")
