"""Local and unknown classifiers of Kwon, Yoon & Choi (2021), Tables 2 and 3.

The paper's notation: for MNIST ``n-F: [[512 n x 200]]`` and ``n-C: [[3x3x32] n]``; for
CIFAR-10 ``n-F: [4096 n]``, ``n-F [a]: [a n]``, ``n-C [a]: [[3x3xa] n]``; 2x2 max pooling,
softmax over 10. The MNIST ``n-F`` formula is garbled in the published text; we read it as
``n`` hidden layers, ``n - 1`` of 512 units and a last one of 200 (override with
``dense_units``). A CIFAR-10 ``n-C`` without a width takes VGG-19's width at that block
position (64, 128, 256, 512, 512), which makes D1 exactly VGG-19's first four blocks, as the
paper's "combination of CNN and VGG19" suggests. Each ``n-C`` group ends with 2x2 max pooling.
``width_scale`` shrinks every width (e.g. 0.25 for CPU runs).
"""

from __future__ import annotations

from functools import partial

import keras

from art_ext.models._layers import build, check_shape, conv_blocks, dense_head, scaled

VGG_WIDTHS = (64, 128, 256, 512, 512)

# MNIST: (number of 3x3x32 convs, number of dense layers, dropout)
_MNIST = {
    "d1": (0, 4, 0.2),
    "d2": (1, 3, 0.5),
    "d3": (1, 2, 0.0),
    "d4": (1, 1, 0.0),
    "d5": (0, 3, 0.2),
    "du1": (0, 4, 0.2),
    "du2": (1, 3, 0.5),
}

# CIFAR-10: conv groups (n, width or None = VGG width at that position), dense layers (n, width or None = 4096)
_CIFAR = {
    "d1": ([(2, None), (2, 128), (4, 256), (4, None)], (2, None)),
    "d2": ([(2, None), (2, 128)], (2, 256)),
    "d3": ([(3, 64), (2, 128)], (5, 256)),
    "d4": ([(2, None), (2, 128), (4, 256), (4, None)], (3, None)),
    "d5": ([(4, 64), (2, 128)], (2, 256)),
    "du1": ([(5, 64), (2, 128)], (2, 256)),
    "du2": ([(3, 64), (2, 128), (4, 256), (4, 512)], (2, None)),
}


def kwon_mnist(
    input_shape,
    nb_classes,
    variant: str = "d1",
    dense_units: list[int] | None = None,
    dropout: float | None = None,
    width_scale: float = 1.0,
) -> keras.Model:
    """MNIST model ``variant`` (``d1``-``d5``, ``du1``, ``du2``) of Kwon et al. (2021), Table 2/3."""
    shape = check_shape(input_shape, nb_classes)
    n_conv, n_dense, default_dropout = _MNIST[variant]
    units = dense_units if dense_units is not None else [512] * (n_dense - 1) + [200]
    units = [scaled(u, width_scale) for u in units]
    rate = default_dropout if dropout is None else dropout

    def body(x):
        if n_conv:
            x = conv_blocks(x, [(n_conv, scaled(32, width_scale))])
        return dense_head(x, units, nb_classes, rate)

    return build(shape, body, f"kwon_{variant}")


def kwon_cifar(
    input_shape,
    nb_classes,
    variant: str = "d1",
    width_scale: float = 1.0,
    dropout: float = 0.5,
    batch_norm: bool = False,
    dense_width: int = 4096,
) -> keras.Model:
    """CIFAR-10 model ``variant`` of Kwon et al. (2021), Table 2/3 (VGG-like; Table 1: dropout 0.5)."""
    shape = check_shape(input_shape, nb_classes)
    groups, (n_dense, dense_w) = _CIFAR[variant]
    blocks = [(n, scaled(w if w is not None else VGG_WIDTHS[i], width_scale)) for i, (n, w) in enumerate(groups)]
    units = [scaled(dense_w if dense_w is not None else dense_width, width_scale)] * n_dense

    def body(x):
        return dense_head(conv_blocks(x, blocks, batch_norm=batch_norm), units, nb_classes, dropout)

    return build(shape, body, f"kwon_cifar_{variant}")


def _named(fn, variant):
    builder = partial(fn, variant=variant)
    builder.__doc__ = f"{fn.__doc__.split(' ``variant``')[0]} {variant.upper()} of Kwon et al. (2021)."
    return builder


MNIST = {v: _named(kwon_mnist, v) for v in _MNIST}
CIFAR = {v: _named(kwon_cifar, v) for v in _CIFAR}
