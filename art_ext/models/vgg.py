"""VGG with batch normalisation (the 2N-labeling paper's classifier), sized for 32x32 inputs.

``width_scale`` and ``depth`` give reduced variants that train on a CPU; the classifier head is
one hidden layer of ``dense_units`` (512 for CIFAR-style VGG) before the logits.
"""

from __future__ import annotations

import keras

from art_ext.models._layers import build, check_shape, conv_blocks, dense_head, scaled

CONFIGS = {
    11: [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)],
    16: [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)],
    19: [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)],
}


def vgg(
    input_shape,
    nb_classes,
    depth: int = 19,
    width_scale: float = 1.0,
    batch_norm: bool = True,
    dense_units: int = 512,
    dropout: float = 0.5,
) -> keras.Model:
    """VGG-``depth`` (11, 16 or 19) with optional batch norm; pooling is skipped once the map is 1x1."""
    if depth not in CONFIGS:
        raise ValueError(f"depth must be one of {sorted(CONFIGS)}, got {depth!r}")
    shape = check_shape(input_shape, nb_classes)
    blocks = [(n, scaled(w, width_scale)) for n, w in CONFIGS[depth]]
    units = [scaled(dense_units, width_scale)] if dense_units else []

    def body(x):
        return dense_head(conv_blocks(x, blocks, batch_norm=batch_norm), units, nb_classes, dropout)

    return build(shape, body, f"vgg{depth}{'_bn' if batch_norm else ''}")


def vgg19_bn(input_shape, nb_classes, **options) -> keras.Model:
    """VGG-19 with batch normalisation (Simonyan & Zisserman 2015)."""
    return vgg(input_shape, nb_classes, depth=19, **options)


def vgg16_bn(input_shape, nb_classes, **options) -> keras.Model:
    """VGG-16 with batch normalisation."""
    return vgg(input_shape, nb_classes, depth=16, **options)


def vgg11_bn(input_shape, nb_classes, **options) -> keras.Model:
    """VGG-11 with batch normalisation."""
    return vgg(input_shape, nb_classes, depth=11, **options)


def vgg_small(input_shape, nb_classes, **options) -> keras.Model:
    """A CPU-sized VGG: VGG-11 layout at a quarter of the width (about 0.6M parameters)."""
    options = {"depth": 11, "width_scale": 0.25, **options}
    return vgg(input_shape, nb_classes, **options)
