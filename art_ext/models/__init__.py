"""The papers' reference Keras architectures, by name.

Every builder has the signature ``(input_shape, nb_classes, **options) -> keras.Model``. The
classifiers output **logits** for inputs in [0, 1]; the DeepConfuse generators
(``deepconfuse_autoencoder``, ``deepconfuse_mnist_autoencoder``, ``deepconfuse_unet``) output input-shaped
noise in [-1, 1] (tanh) and ignore ``nb_classes``.

>>> from art_ext.models import get_model
>>> model = get_model("kwon_d1", (28, 28, 1), 10)
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from art_ext.models import cifar, generators, kwon, small, vgg
from art_ext.params import POSITIVE_INT, Constraint, Integral, Interval, validate_params


class _Shape(Constraint):
    """The shape of one input: a tuple or list of 1 to 3 positive integers (e.g. ``(28, 28, 1)``)."""

    def is_satisfied_by(self, value) -> bool:
        return (
            isinstance(value, (tuple, list))
            and 1 <= len(value) <= 3
            and all(POSITIVE_INT.is_satisfied_by(d) for d in value)
        )

    def __str__(self) -> str:
        return "a tuple of 1 to 3 positive integers, e.g. (28, 28, 1)"


_SHAPE = _Shape()

MODELS: dict[str, Callable[..., keras.Model]] = {
    **{f"kwon_{k}": fn for k, fn in kwon.MNIST.items()},
    **{f"kwon_cifar_{k}": fn for k, fn in kwon.CIFAR.items()},
    "vgg19_bn": vgg.vgg19_bn,
    "vgg16_bn": vgg.vgg16_bn,
    "vgg11_bn": vgg.vgg11_bn,
    "vgg_small": vgg.vgg_small,
    "resnet20": cifar.resnet20,
    "resnet": cifar.resnet,
    "plain_cnn": cifar.plain_cnn,
    "mobilenet_cifar": cifar.mobilenet_cifar,
    "deepconfuse_victim": small.deepconfuse_victim,
    "simple_cnn": small.simple_cnn,
    "simple_mlp": small.simple_mlp,
    "deepconfuse_autoencoder": generators.conv_autoencoder,
    "deepconfuse_mnist_autoencoder": generators.mnist_autoencoder,
    "deepconfuse_unet": generators.unet,
}


def list_models() -> list[str]:
    """Names accepted by :func:`get_model`."""
    return sorted(MODELS)


def get_model(name: str, input_shape: tuple[int, ...], nb_classes: int, **options) -> keras.Model:
    """Build the reference architecture ``name`` (see :func:`list_models`).

    :raises ValueError: For an unknown name, a bad input shape or class count.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {list_models()}")
    validate_params(
        {"input_shape": [_SHAPE], "nb_classes": [Interval(Integral, 2, None)]},
        {"input_shape": input_shape, "nb_classes": nb_classes},
        "get_model",
    )
    return MODELS[name](tuple(int(d) for d in input_shape), int(nb_classes), **options)


__all__ = ["MODELS", "get_model", "list_models"]
