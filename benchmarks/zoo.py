"""A zoo of MNIST classifiers for choosing defaults on models we do not report on.

Ten Keras architectures, defined here and nowhere in the package, split in two halves (each with batch-norm networks,
so that a default for them can be chosen without looking at the held-out half):

* :data:`DEV` -- choose a component's defaults on these;
* :data:`HELD_OUT` -- report the goals on these only (never tune on them).

Each trained network comes in the forms users hold their models in (:data:`VARIANTS`, combinable with ``+``,
e.g. ``"softmax+scale255"``):

* ``logits``: the network as trained, inputs in [0, 1], ART's ``TensorFlowV2Classifier`` with a logits loss;
* ``softmax``: a softmax head on top (the model outputs probabilities);
* ``scale255``: inputs in [0, 255], ``clip_values=(0, 255)`` (a ``Rescaling(1/255)`` in front);
* ``standardised``: ART ``preprocessing=(mean, std)``; the network takes standardised inputs (a layer in front
  undoes the standardisation, so every variant computes the same function of the image).

Trained weights are cached (``$ART_EXT_ZOO_CACHE``, default ``~/.cache/art_ext/zoo``); full MNIST comes from
``$ART_EXT_DATA_DIR``. ``python benchmarks/zoo.py`` trains the whole zoo and prints each model's test accuracy::

    ART_EXT_DATA_DIR=path/to/data python benchmarks/zoo.py
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from pathlib import Path

import keras
import numpy as np
from art.estimators.classification import TensorFlowV2Classifier

from art_ext.data import load_dataset
from art_ext.estimators import make_train_step
from art_ext.params import seeded

#: MNIST mean and standard deviation, the ``standardised`` variant's ART ``preprocessing``.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
#: Epochs and learning rate of the zoo's own training (Adam, batch 128, full MNIST, the learning rate
#: cosine-annealed to 0 so the batch-norm networks' moving statistics settle on the final weights).
TRAIN_EPOCHS, TRAIN_LR, TRAIN_BATCH = 4, 1e-3, 128
#: Version of the training recipe and architectures, part of the cache file names (a change retrains the zoo).
RECIPE = "v2"
VARIANTS = ("logits", "softmax", "scale255", "standardised")


def _mlp(x):
    x = keras.layers.Flatten()(x)
    for width in (512, 256):
        x = keras.layers.Dense(width, activation="relu")(x)
    return x


def _plain_cnn(x):
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    return keras.layers.Dense(128, activation="relu")(x)


def _strided_wide_cnn(x):
    x = keras.layers.Conv2D(96, 5, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(192, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    return keras.layers.Dense(256, activation="relu")(x)


def _vgg_small(x, batch_norm: bool = False):
    """Two blocks of two 3x3 convolutions; with ``batch_norm``, batch norm (and no bias) after every convolution."""
    for filters in (32, 64):
        for _ in range(2):
            if batch_norm:
                x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
                x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
            else:
                x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    return keras.layers.Dense(256, activation="relu")(x)


def _preact_block(x, filters, strides):
    """A pre-activation residual block (He et al. 2016, "Identity mappings"): BN-ReLU-conv twice; identity shortcut,
    a 1x1 projection where the shape changes."""
    y = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False)(y)
    y = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(y)
    y = keras.layers.ReLU()(keras.layers.BatchNormalization()(y))
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    return keras.layers.Add()([y, shortcut])


def _preact_resnet(x):
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(x)
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        x = _preact_block(x, filters, strides)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    return keras.layers.GlobalAveragePooling2D()(x)


def _lenet_tanh(x):
    x = keras.layers.Conv2D(6, 5, padding="same", activation="tanh")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Conv2D(16, 5, activation="tanh")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(120, activation="tanh")(x)
    return keras.layers.Dense(84, activation="tanh")(x)


def _bn_cnn(x):
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    return keras.layers.Dense(128, activation="relu")(x)


def _residual(x, filters, strides):
    shortcut = x
    y = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = keras.layers.BatchNormalization()(y)
    if strides != 1 or shortcut.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False)(shortcut)
    return keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))


def _resnet_small(x):
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        x = _residual(x, filters, strides)
    return keras.layers.GlobalAveragePooling2D()(x)


def _separable_gap(x):
    """MobileNet-style: depthwise-separable convolutions with batch norm, global average pooling."""
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(keras.layers.Conv2D(32, 3, padding="same")(x)))
    for filters, strides in ((64, 1), (64, 2), (128, 1), (128, 2), (128, 1)):
        x = keras.layers.SeparableConv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    return keras.layers.GlobalAveragePooling2D()(x)


#: Name -> feature extractor ``f(inputs) -> features``; :func:`build` adds the ``Dense(nb_classes)`` logits.
ARCHITECTURES = {
    "mlp": _mlp,
    "plain_cnn": _plain_cnn,
    "strided_wide_cnn": _strided_wide_cnn,
    "vgg_small": _vgg_small,
    "bn_vgg_small": functools.partial(_vgg_small, batch_norm=True),
    "preact_resnet": _preact_resnet,
    "lenet_tanh": _lenet_tanh,
    "bn_cnn": _bn_cnn,
    "resnet_small": _resnet_small,
    "separable_gap": _separable_gap,
}
#: Choose defaults on these.
DEV = ("mlp", "plain_cnn", "strided_wide_cnn", "vgg_small", "bn_vgg_small", "preact_resnet")
#: Report on these only.
HELD_OUT = ("lenet_tanh", "bn_cnn", "resnet_small", "separable_gap")


def build(name: str, nb_classes: int = 10, input_shape: tuple[int, ...] = (28, 28, 1), seed: int = 0) -> keras.Model:
    """A fresh (untrained) zoo network with ``nb_classes`` logits, its weights drawn under ``seed``."""
    if name not in ARCHITECTURES:
        raise ValueError(f"name must be one of {sorted(ARCHITECTURES)}, got {name!r}")
    with seeded(seed):
        inputs = keras.Input(input_shape)
        outputs = keras.layers.Dense(nb_classes, name="logits")(ARCHITECTURES[name](inputs))
        return keras.Model(inputs, outputs, name=f"{name}_s{seed}")


def _flags(variant: str) -> set[str]:
    flags = set(variant.split("+"))
    unknown = flags - set(VARIANTS)
    if unknown:
        raise ValueError(f"variant parts must be among {VARIANTS}, got {sorted(unknown)}")
    return flags - {"logits"}


def scale(variant: str) -> float:
    """The factor that takes [0, 1] images to the variant's input units (255 for ``scale255``, else 1)."""
    return 255.0 if "scale255" in _flags(variant) else 1.0


def wrap_variant(
    model: keras.Model, variant: str = "logits", optimizer: keras.optimizers.Optimizer | None = None
) -> TensorFlowV2Classifier:
    """``model`` (logits on [0, 1] images) as ART's ``TensorFlowV2Classifier`` in the form ``variant``.

    The layers added in front or on top share the network's weights (not copied). The classifier gets an
    ``optimizer`` (Adam 1e-3 by default) and a compiled train step, as an ART user would set it up.
    """
    flags = _flags(variant)
    nb_classes = int(model.output_shape[-1])
    input_shape = tuple(model.input_shape[1:])
    inputs = keras.Input(input_shape)
    preprocessing = None
    if "standardised" in flags:
        # ART standardises (in the variant's units); this layer maps the standardised image back to [0, 1]
        factor = scale(variant)
        preprocessing = (MNIST_MEAN * factor, MNIST_STD * factor)
        x = keras.layers.Rescaling(MNIST_STD, offset=MNIST_MEAN)(inputs)
    elif "scale255" in flags:
        x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    else:
        x = inputs
    out = model(x)
    softmax = "softmax" in flags
    if softmax:
        out = keras.layers.Softmax()(out)
    wrapped = keras.Model(inputs, out, name=f"{model.name}_{variant.replace('+', '_')}")
    optimizer = optimizer or keras.optimizers.Adam(TRAIN_LR)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not softmax)
    return TensorFlowV2Classifier(
        wrapped,
        nb_classes=nb_classes,
        input_shape=input_shape,
        loss_object=loss,
        optimizer=optimizer,
        train_step=make_train_step(loss, optimizer),
        clip_values=(0.0, scale(variant)),
        preprocessing=preprocessing,
    )


def mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full MNIST ``(x_train, y_train, x_test, y_test)`` in [0, 1] (NHWC float32, int64 labels)."""
    if not os.environ.get("ART_EXT_DATA_DIR"):
        raise SystemExit("the zoo needs full MNIST: set ART_EXT_DATA_DIR=path/to/data (a folder with mnist.npz)")
    x_train, y_train = load_dataset("mnist", "train")
    x_test, y_test = load_dataset("mnist", "test")
    if len(x_train) < 60_000:
        raise SystemExit(f"ART_EXT_DATA_DIR gave {len(x_train)} training digits, not full MNIST")
    return x_train, y_train, x_test, y_test


def cache_dir() -> Path:
    """Where trained zoo networks are kept (``$ART_EXT_ZOO_CACHE`` or ``~/.cache/art_ext/zoo``)."""
    path = Path(os.environ.get("ART_EXT_ZOO_CACHE", Path.home() / ".cache" / "art_ext" / "zoo"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def trained(name: str, seed: int = 0, verbose: bool = False) -> keras.Model:
    """The zoo network ``name`` trained on full MNIST (logits; cached): Adam 1e-3 cosine-annealed to 0, batch 128,
    ``TRAIN_EPOCHS`` epochs."""
    path = cache_dir() / f"{name}_s{seed}_{RECIPE}.keras"
    if path.exists():
        return keras.models.load_model(path, compile=False)
    x_train, y_train, _, _ = mnist()
    model = build(name, seed=seed)
    steps = TRAIN_EPOCHS * -(-len(x_train) // TRAIN_BATCH)
    schedule = keras.optimizers.schedules.CosineDecay(TRAIN_LR, decay_steps=steps)
    model.compile(keras.optimizers.Adam(schedule), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=TRAIN_BATCH, epochs=TRAIN_EPOCHS, verbose=2 if verbose else 0, shuffle=True)
    if verbose:
        print(f"trained {name} seed {seed} in {time.perf_counter() - start:.0f} s")
    tmp = path.with_suffix(".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)
    return model


def classifier(name: str, variant: str = "logits", seed: int = 0) -> TensorFlowV2Classifier:
    """The trained zoo network ``name`` as ART's ``TensorFlowV2Classifier`` in the form ``variant``."""
    return wrap_variant(trained(name, seed), variant)


def fresh_classifier(name: str, nb_classes: int = 10, variant: str = "logits", seed: int = 0) -> TensorFlowV2Classifier:
    """An untrained zoo network (``nb_classes`` outputs) wrapped as ``variant``, with Adam 1e-3 as optimizer."""
    return wrap_variant(build(name, nb_classes, seed=seed), variant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--names", nargs="+", default=list(ARCHITECTURES))
    args = parser.parse_args()
    _, _, x_test, y_test = mnist()
    print("| model | half | seed | clean test accuracy | " + " | ".join(VARIANTS) + " |")
    print("|---|---|---|---|" + "---|" * len(VARIANTS))
    for name in args.names:
        for seed in args.seeds:
            trained(name, seed, verbose=True)
            accs = []
            for variant in VARIANTS:
                clf = classifier(name, variant, seed)
                pred = clf.predict(x_test * scale(variant), batch_size=500)
                accs.append(float(np.mean(np.argmax(pred, 1) == y_test)))
            half = "dev" if name in DEV else "held-out"
            print(f"| {name} | {half} | {seed} | {accs[0]:.4f} | " + " | ".join(f"{a:.4f}" for a in accs) + " |")


if __name__ == "__main__":
    main()
