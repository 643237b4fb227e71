"""CIFAR-10 reference models worth attacking: several architecture families trained to >= 85 % clean test accuracy
on a CPU, by one cached, resumable command (issue #22)::

    ART_EXT_DATA_DIR=path/to/data art-ext reproduce cifar-models --dataset cifar10

Every model of :data:`REFERENCE_MODELS` is trained on the 50,000 training images with the standard CIFAR recipe:
random 32x32 crops of the image zero-padded by 4 pixels and random horizontal flips (in ``tf.data``, stateless, so
an epoch's batches depend only on the seed and the epoch), SGD with Nesterov momentum 0.9 and weight decay 5e-4,
batch 128, and a one-cycle learning rate (linear warm-up from ``peak / 25`` to ``peak`` over the first 15 % of the
steps, then cosine annealing to 0, Keras' ``CosineDecay``). After every epoch the model, the optimizer state and
the training record (epoch, per-epoch loss/accuracy/time) are written atomically to one checkpoint file in the
cache; a rerun resumes from it. The finished model is cached (harness convention, ``$ART_EXT_CACHE/models``) and
loaded by later reproductions with one call::

    from art_ext.experiments.cifar_models import reference_model
    classifier = reference_model("resnet20")   # an ART TensorFlowV2Classifier, inputs in [0, 1], logits

The reported accuracy is the inference-mode one (batch-norm moving statistics) on the 10,000 test images.
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np
import tensorflow as tf

from art_ext.data import load_dataset
from art_ext.experiments.harness import Run, accuracy, cached_model_path, default_cache_dir, set_seed
from art_ext.models import get_model
from art_ext.persistence import load_keras, save_keras

#: Data sets this reproduction trains on.
DATASETS = ("cifar10",)

#: Reference models: name -> (``get_model`` architecture, options). Four families: residual, VGG (flatten + dense
#: head, dropout), plain conv + global average pooling, depthwise-separable.
REFERENCE_MODELS: dict[str, tuple[str, dict]] = {
    "resnet20": ("resnet20", {}),
    "vgg11_bn_half": ("vgg11_bn", {"width_scale": 0.5}),
    "plain_cnn": ("plain_cnn", {"widths": (32, 64, 128)}),
    "mobilenet": ("mobilenet_cifar", {}),
}

#: Tiny variants for the ``smoke`` scale (a pipeline check in seconds), in the form of :data:`REFERENCE_MODELS`:
#: same families, a few filters each.
SMOKE_MODELS: dict[str, tuple[str, dict]] = {
    # 16 filters in the first stage: narrower ResNets crash TF 2.21's oneDNN kernels in eager input gradients; depth 8
    # (one block per stage): tracing a 20-layer graph dominated every CIFAR-10 smoke run
    "resnet20": ("resnet", {"depth": 8, "widths": (16, 16, 16)}),
    "vgg11_bn_half": ("vgg11_bn", {"width_scale": 1 / 16, "dense_units": 64}),
    "plain_cnn": ("plain_cnn", {"widths": (4, 8, 8)}),
    "mobilenet": ("mobilenet_cifar", {"width_scale": 1 / 16}),
}

#: Training epochs per model at ``small`` scale (chosen from the measured step times, docs/results/cifar_models.rst).
SMALL_EPOCHS: dict[str, int] = {"resnet20": 25, "vgg11_bn_half": 20, "plain_cnn": 25, "mobilenet": 30}
#: ``smoke`` scale: one epoch on :data:`SMOKE_TRAIN` images.
SMOKE_EPOCHS = 1
SMOKE_TRAIN = 300
#: ``paper`` scale: He et al.'s 64k iterations at batch 128 (about 164 epochs).
PAPER_EPOCHS = 160

PEAK_LR = 0.1
WARMUP_FRACTION = 0.15
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
PAD = 4

CHECKPOINT_KIND = "cifar-training-checkpoint"
MODEL_KIND = "cifar-reference-model"
#: Version of the training recipe; part of every cache key, so a changed recipe never loads an old model.
RECIPE_VERSION = 1


# ---------------------------------------------------------------------------------------------- settings


def architecture(name: str, scale: str = "small") -> tuple[str, dict]:
    """``(get_model architecture, options)`` of reference model ``name`` at ``scale`` (the tiny variant at smoke)."""
    arch, options = (SMOKE_MODELS if scale == "smoke" else REFERENCE_MODELS)[name]
    return arch, dict(options)


def settings(name: str, scale: str = "small", seed: int = 0, dataset: str = "cifar10") -> dict:
    """Everything that determines the trained weights of reference model ``name`` (its cache key).

    :raises ValueError: For an unknown name, scale or data set.
    """
    if name not in REFERENCE_MODELS:
        raise ValueError(f"unknown reference model {name!r}; choose one of {sorted(REFERENCE_MODELS)}")
    if scale not in ("smoke", "small", "paper"):
        raise ValueError(f"scale must be one of ('smoke', 'small', 'paper'), got {scale!r}")
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    arch, options = architecture(name, scale)
    smoke = scale == "smoke"
    return dict(
        recipe=RECIPE_VERSION,
        dataset=dataset,
        architecture=arch,
        options=options,
        n_train=SMOKE_TRAIN if smoke else None,
        epochs={"smoke": SMOKE_EPOCHS, "small": SMALL_EPOCHS[name], "paper": PAPER_EPOCHS}[scale],
        batch_size=32 if smoke else 128,
        peak_lr=PEAK_LR,
        warmup_fraction=WARMUP_FRACTION,
        momentum=MOMENTUM,
        weight_decay=WEIGHT_DECAY,
        augmentation=f"crop{PAD}+flip",
        seed=int(seed) * 1000 + sorted(REFERENCE_MODELS).index(name),
    )


def _cache_name(name: str, dataset: str) -> str:
    return f"{dataset}-{name}"


def model_path(name: str, seed: int = 0, scale: str = "small", dataset: str = "cifar10", cache_dir=None) -> str:
    """The cache file of the finished reference model."""
    return cached_model_path(_cache_name(name, dataset), settings(name, scale, seed, dataset), cache_dir)


def checkpoint_path(name: str, seed: int = 0, scale: str = "small", dataset: str = "cifar10", cache_dir=None) -> str:
    """The per-epoch checkpoint of a reference model in training (removed once the model is finished)."""
    final = model_path(name, seed, scale, dataset, cache_dir)
    return os.path.join(cache_dir or default_cache_dir(), "checkpoints", os.path.basename(final))


def command(scale: str = "small", seed: int = 0, dataset: str = "cifar10") -> str:
    """The command that trains the reference models of ``scale`` and ``seed``."""
    options = ("" if scale == "small" else f" --scale {scale}") + ("" if seed == 0 else f" --seed {seed}")
    return f"ART_EXT_DATA_DIR=path/to/data art-ext reproduce cifar-models --dataset {dataset}{options}"


def reference_model(name: str, seed: int = 0, scale: str = "small", dataset: str = "cifar10", cache_dir=None):
    """The trained reference model ``name`` as an ART ``TensorFlowV2Classifier`` (logits, inputs in [0, 1]).

    :param name: One of :data:`REFERENCE_MODELS`.
    :param seed: The ``--seed`` it was trained with.
    :param scale: The ``--scale`` it was trained at.
    :param dataset: The data set it was trained on.
    :param cache_dir: Cache folder; default ``$ART_EXT_CACHE`` or ``~/.cache/art_ext``.
    :raises FileNotFoundError: If it has not been trained yet (the message gives the command that trains it).
    """
    return load_reference_model(name, seed, scale, dataset, cache_dir)[0]


def load_reference_model(name: str, seed: int = 0, scale: str = "small", dataset: str = "cifar10", cache_dir=None):
    """:func:`reference_model` and its training record (epochs, per-epoch history, training seconds)."""
    from art_ext.estimators import wrap

    path = model_path(name, seed, scale, dataset, cache_dir)
    if not os.path.isfile(path):
        resumable = os.path.isfile(checkpoint_path(name, seed, scale, dataset, cache_dir))
        raise FileNotFoundError(
            f"reference model {name!r} ({dataset}, {scale} scale, seed {seed}) is not trained yet"
            + (" (a checkpoint of an unfinished training exists; rerunning resumes it)" if resumable else "")
            + f"; train it with: {command(scale, seed, dataset)}"
            + (f" (cache: ART_EXT_CACHE={cache_dir})" if cache_dir else "")
        )
    model, record, _ = load_keras(path, MODEL_KIND)
    return wrap(model), record


def require_trained(names, seed: int = 0, scale: str = "small", cache_dir=None) -> None:
    """Check, before any work, that the reference models ``names`` are trained (``smoke`` scale: always true, they
    are trained on the spot).

    :raises FileNotFoundError: Naming every untrained model and the command that trains them.
    """
    if scale == "smoke":
        return
    missing = [n for n in names if not os.path.isfile(model_path(n, seed, scale, cache_dir=cache_dir))]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 reference model(s) {', '.join(missing)} ({scale} scale, seed {seed}) not trained yet; train "
            f"them with: {command(scale, seed)}" + (f" (cache: ART_EXT_CACHE={cache_dir})" if cache_dir else "")
        )


def reference_models(names, seed: int = 0, scale: str = "small", cache_dir=None, verbose: bool = False) -> dict:
    """The reference models ``names`` for a CIFAR-10 reproduction at ``scale``: ``{name: classifier}``.

    At ``smoke`` scale they are trained on the spot (tiny networks, seconds; cached like any other); at the other
    scales they must have been trained by :func:`command`'s command (:func:`require_trained`).

    :raises FileNotFoundError: At ``small`` or ``paper`` scale, naming every untrained model and the command.
    """
    names = tuple(names)
    require_trained(names, seed, scale, cache_dir)
    if scale == "smoke":
        x, y = load_dataset("cifar10", "train")
        return {n: train_reference_model(n, x, y, seed, scale, cache_dir=cache_dir, verbose=verbose)[0] for n in names}
    return {n: reference_model(n, seed, scale, cache_dir=cache_dir) for n in names}


# ---------------------------------------------------------------------------------------------- training


def augmented_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, epochs: int, initial_epoch: int = 0):
    """Training batches of epochs ``initial_epoch`` to ``epochs - 1``: shuffled, randomly cropped and flipped.

    Each epoch is a permutation of the data (the last incomplete batch is dropped), every image zero-padded by
    :data:`PAD` pixels, cropped back to its size at a random offset, and flipped left-right with probability 1/2.
    All randomness is stateless, drawn from ``(seed, epoch)`` and ``(seed, step)``, so epoch ``e``'s batches are
    the same whether training starts at epoch 0 or resumes at ``e``.

    :return: A ``tf.data.Dataset`` of ``(images, labels)`` with ``len(x) // batch_size`` batches per epoch.
    """
    n, (height, width) = len(x), x.shape[1:3]
    steps = n // batch_size
    if steps < 1:
        raise ValueError(f"batch_size {batch_size} is larger than the {n} training images")
    images, labels = tf.constant(x, tf.float32), tf.constant(y, tf.int64)

    def augment(step, index):
        step_seed = tf.stack([tf.constant(seed, tf.int64), step])
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(step_seed, 2))
        batch = tf.pad(tf.gather(images, index), [[0, 0], [PAD, PAD], [PAD, PAD], [0, 0]])
        corner = tf.random.stateless_uniform((batch_size, 2), crop_seed, 0, 2 * PAD + 1, tf.int64)
        rows = corner[:, :1] + tf.range(height, dtype=tf.int64)[None]
        cols = corner[:, 1:] + tf.range(width, dtype=tf.int64)[None]
        batch = tf.gather(tf.gather(batch, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
        flip = tf.random.stateless_uniform((batch_size, 1, 1, 1), flip_seed) < 0.5
        return tf.where(flip, tf.reverse(batch, axis=[2]), batch), tf.gather(labels, index)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), tf.stack([tf.constant(seed, tf.int64), -1 - epoch])
        )
        index = tf.data.Dataset.from_tensor_slices(tf.reshape(order[: steps * batch_size], (steps, batch_size)))
        return tf.data.Dataset.zip(tf.data.Dataset.range(epoch * steps, (epoch + 1) * steps), index)

    dataset = tf.data.Dataset.range(initial_epoch, epochs).flat_map(epoch_batches)
    return dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def one_cycle(total_steps: int, peak: float = PEAK_LR, warmup_fraction: float = WARMUP_FRACTION):
    """The learning rate: linear warm-up from ``peak / 25`` to ``peak`` over ``warmup_fraction`` of the steps, then
    cosine annealing to 0 at ``total_steps`` (a one-cycle schedule, Keras' ``CosineDecay``)."""
    warmup = max(1, int(round(warmup_fraction * total_steps)))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 25,
        decay_steps=max(1, total_steps - warmup),
        alpha=0.0,
        warmup_target=peak,
        warmup_steps=warmup,
    )


def compile_for_training(model: keras.Model, total_steps: int, s: dict) -> keras.Model:
    """Compile ``model`` with the recipe's SGD (Nesterov momentum, weight decay, one-cycle schedule) and sparse
    cross-entropy on logits; build the optimizer so a checkpoint's optimizer state can be loaded into it."""
    optimizer = keras.optimizers.SGD(
        learning_rate=one_cycle(total_steps, s["peak_lr"], s["warmup_fraction"]),
        momentum=s["momentum"],
        nesterov=True,
        weight_decay=s["weight_decay"],
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,  # XLA is slower for conv nets on CPU (DESIGN.md)
    )
    optimizer.build(model.trainable_variables)
    return model


class EpochCheckpoint(keras.callbacks.Callback):
    """Keras callback: after every epoch, write model + optimizer state + training record atomically to ``path``.

    :param path: The ``.keras`` checkpoint file (replaced at every epoch; never half-written).
    :param record: The training record so far (``epochs_done``, ``history``, ``train_seconds``), extended in place.
    """

    def __init__(self, path: str, record: dict):
        super().__init__()
        self.path, self.record = path, record
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        lr = self.model.optimizer.learning_rate
        entry = {"epoch": epoch + 1, "seconds": round(seconds, 2), "learning_rate": float(np.asarray(lr))}
        entry.update({k: float(v) for k, v in (logs or {}).items()})
        self.record["history"].append(entry)
        self.record["epochs_done"] = epoch + 1
        self.record["train_seconds"] = round(self.record["train_seconds"] + seconds, 2)
        save_keras(self.path, self.model, CHECKPOINT_KIND, self.record)


def train_reference_model(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    seed: int = 0,
    scale: str = "small",
    dataset: str = "cifar10",
    cache_dir: str | None = None,
    verbose: bool = True,
    callbacks: list | None = None,
):
    """Train reference model ``name`` on ``(x, y)``, resuming from its checkpoint, and cache it; or load it.

    :param x: Training images, float32 NHWC in [0, 1] (the first ``n_train`` are used at ``smoke`` scale).
    :param y: Class indices.
    :param callbacks: Further Keras callbacks, run after the checkpoint is written.
    :return: ``(classifier, record)``: the model wrapped for ART and its training record (``epochs_done``,
        ``history`` -- loss, accuracy, learning rate and seconds per epoch --, ``train_seconds`` over all sessions,
        ``resumed_at`` -- epochs already done when each session started).
    """
    s = settings(name, scale, seed, dataset)
    final = model_path(name, seed, scale, dataset, cache_dir)
    ckpt = checkpoint_path(name, seed, scale, dataset, cache_dir)
    if os.path.isfile(final):
        if os.path.isfile(ckpt):  # left by a run stopped between caching the model and removing its checkpoint
            os.unlink(ckpt)
        return load_reference_model(name, seed, scale, dataset, cache_dir)
    if s["n_train"] is not None:
        x, y = x[: s["n_train"]], y[: s["n_train"]]
    steps = len(x) // s["batch_size"]
    set_seed(s["seed"])
    model = get_model(s["architecture"], x.shape[1:], 10, **s["options"])
    compile_for_training(model, steps * s["epochs"], s)
    record = {"name": name, "settings": s, "n_train": len(x), "epochs_done": 0, "history": [], "train_seconds": 0.0}
    if os.path.isfile(ckpt):
        _, record, _ = load_keras(ckpt, CHECKPOINT_KIND)
        model.load_weights(ckpt)  # weights, batch-norm statistics and optimizer state (momenta, iteration count)
    record.setdefault("resumed_at", []).append(record["epochs_done"])
    start = record["epochs_done"]
    if start < s["epochs"]:
        if verbose:
            print(
                f"training {name} ({model.count_params():,} parameters) on {len(x)} images: epochs "
                f"{start + 1}-{s['epochs']} of {s['epochs']}, {steps} steps each"
            )
        model.fit(
            augmented_batches(x, y, s["batch_size"], s["seed"], s["epochs"], start),
            epochs=s["epochs"],
            initial_epoch=start,
            steps_per_epoch=steps,
            shuffle=False,  # the batches are shuffled (statelessly) already
            callbacks=[EpochCheckpoint(ckpt, record), *(callbacks or [])],
            verbose=2 if verbose else 0,
        )
    save_keras(final, model, MODEL_KIND, record)
    if os.path.isfile(ckpt):
        os.unlink(ckpt)
    return load_reference_model(name, seed, scale, dataset, cache_dir)


# ---------------------------------------------------------------------------------------------- the reproduction


def run(
    scale: str = "small",
    seed: int = 0,
    out_dir: str | None = None,
    dataset: str = "cifar10",
    verbose: bool = True,
    models: tuple[str, ...] | None = None,
    cache_dir: str | None = None,
) -> dict:
    """Train (or load) every reference model and report its clean test accuracy, epochs and training time.

    :param scale: ``smoke`` (300 images, 1 epoch, tiny widths and a ResNet-8 for the ResNet-20: a pipeline check in
        seconds), ``small`` (the full training set, :data:`SMALL_EPOCHS`) or ``paper`` (:data:`PAPER_EPOCHS` epochs).
    :param dataset: ``cifar10``.
    :param models: Names of :data:`REFERENCE_MODELS` to train (default all, in order).
    :param cache_dir: Cache folder; default ``$ART_EXT_CACHE`` or ``~/.cache/art_ext``.
    :raises ValueError: For an unknown data set or model name.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    names = tuple(REFERENCE_MODELS) if models is None else tuple(models)
    for name in names:
        settings(name, scale, seed, dataset)  # validates the name before any work
    study = Run("cifar-models", scale=scale, seed=seed, out_dir=out_dir, verbose=verbose)
    x, y = load_dataset(dataset, "train")
    x_test, y_test = load_dataset(dataset, "test")
    if scale == "smoke":
        x_test, y_test = x_test[:200], y_test[:200]
    study.settings.update(
        dataset=dataset,
        n_test=len(x_test),
        models={name: settings(name, scale, seed, dataset) for name in names},
        command=command(scale, seed, dataset),
    )
    rows = []
    for name in names:
        classifier, record = train_reference_model(name, x, y, seed, scale, dataset, cache_dir, verbose)
        acc = accuracy(classifier, x_test, y_test)
        s = record["settings"]
        per_epoch = record["train_seconds"] / max(1, len(record["history"]))
        study.results[name] = {
            "architecture": s["architecture"],
            "options": s["options"],
            "parameters": int(classifier.model.count_params()),
            "test_accuracy": acc,
            "epochs": record["epochs_done"],
            "train_seconds": record["train_seconds"],
            "seconds_per_epoch": per_epoch,
            "resumed_at": record.get("resumed_at", [0]),
            "history": record["history"],
        }
        rows.append(
            [
                name,
                s["architecture"],
                int(classifier.model.count_params()),
                acc,
                record["epochs_done"],
                _duration(record["train_seconds"]),
                round(per_epoch, 1),
            ]
        )
    study.table(
        f"{dataset}: reference models (clean test accuracy, inference mode)",
        ["model", "architecture", "parameters", "test accuracy", "epochs", "training time", "s / epoch"],
        rows,
        note=f"{len(x_test)} test images; trained on {record['n_train']} images with random crops (4-pixel "
        "padding) and flips, SGD Nesterov momentum 0.9, weight decay 5e-4, batch "
        f"{s['batch_size']}, one-cycle learning rate peaking at {PEAK_LR}. Training time is the wall-clock "
        "sum over all (resumed) sessions."
        + (" Smoke scale: a pipeline check; the numbers mean nothing." if scale == "smoke" else ""),
    )
    return study.finish()


def step_time(name: str, steps: int = 50, batch_size: int = 128, warmup: int = 5) -> tuple[int, float, float]:
    """The training cost of reference model ``name``: its parameters, and the wall and CPU seconds (all threads of
    this process) per step of its ``small``-scale training -- built and compiled as :func:`train_reference_model`
    does, fed augmented batches of random 32x32 images (the cost depends on shapes only), ``warmup`` steps to trace,
    then ``steps`` timed."""
    s = settings(name, "small")
    rng = np.random.default_rng(0)
    x = rng.random((batch_size * 8, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    set_seed(0)
    model = compile_for_training(get_model(s["architecture"], (32, 32, 3), 10, **s["options"]), 10_000, s)
    batches = augmented_batches(x, y, batch_size, 0, epochs=1_000)
    model.fit(batches, epochs=1, steps_per_epoch=warmup, verbose=0)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)
    return model.count_params(), (time.perf_counter() - start) / steps, (time.process_time() - cpu) / steps


def main(argv: list[str] | None = None) -> None:
    """``python -m art_ext.experiments.cifar_models [--steps 50] [--models resnet20 ...]``: a table of
    :func:`step_time` per reference model with the projected time of an epoch and of the ``small`` training."""
    import argparse

    parser = argparse.ArgumentParser(description="Training cost of the CIFAR-10 reference models (step times).")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--models", nargs="+", default=list(REFERENCE_MODELS), choices=list(REFERENCE_MODELS))
    args = parser.parse_args(argv)
    batch_size, train_images = 128, 50_000
    per_epoch = train_images // batch_size
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(
        f"| model | parameters | {args.steps} steps (s) | s / step | CPU s / step | min / epoch "
        "| small-scale epochs | projected |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        params, seconds, cpu = step_time(name, args.steps, batch_size)
        epochs = SMALL_EPOCHS[name]
        print(
            f"| {name} | {params:,} | {seconds * args.steps:.1f} | {seconds:.3f} | {cpu:.3f} "
            f"| {seconds * per_epoch / 60:.1f} | {epochs} | {seconds * per_epoch * epochs / 3600:.2f} h |",
            flush=True,
        )
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


def _duration(seconds: float) -> str:
    """``seconds`` as ``1 h 02 min`` / ``3 min 05 s`` / ``12.3 s``."""
    if seconds >= 3600:
        hours, rest = divmod(int(round(seconds)), 3600)
        return f"{hours} h {rest // 60:02d} min"
    if seconds >= 60:
        minutes, rest = divmod(int(round(seconds)), 60)
        return f"{minutes} min {rest:02d} s"
    return f"{seconds:.1f} s"


__all__ = [
    "REFERENCE_MODELS",
    "augmented_batches",
    "load_reference_model",
    "reference_model",
    "run",
    "settings",
    "step_time",
    "train_reference_model",
]


if __name__ == "__main__":
    main()
