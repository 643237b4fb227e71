"""Step time under tf.distribute: no strategy, one-device strategies, and MirroredStrategy over 2 logical CPUs.

    python benchmarks/distribute.py --out DIR [--repeats 5] [--components plain_step distillation ...]

For every component whose constructor takes ``strategy`` (a component without it is listed as skipped), and
for a plain Keras training step (:func:`art_ext.distribute.training_step`), it measures the time of
one training step (for ``LearningToConfuse``, the generator step and the victim step of one batch of a round) on
28x28 grey synthetic images, batch 64, under

* ``none``: ``strategy=None`` (TensorFlow's default strategy: today's path);
* ``one-device``: ``tf.distribute.OneDeviceStrategy("/cpu:0")``;
* ``mirrored-1``: ``tf.distribute.MirroredStrategy(["/cpu:0"])`` (what one GPU with MirroredStrategy runs);
* ``mirrored-2``: ``tf.distribute.MirroredStrategy`` over two logical CPU devices -- two replicas sharing this
  machine's cores, so it measures the cost of splitting a batch, not a speed-up (that needs two real devices).

Each setting's object is built once (models inside its ``strategy.scope()``) and warmed up (tracing), then the
settings take turns for ``--repeats`` rounds and the best time of each is kept, so a slow spell of the shared
machine hits all alike. Writes ``distribute.csv`` and ``distribute.rst`` (a table) to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# two logical CPU devices for the mirrored-2 setting: must be configured before TensorFlow initialises
_CPUS = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_CPUS[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from art_ext.distribute import distribute_batches, resolve_strategy, training_step  # noqa: E402
from art_ext.params import seeded  # noqa: E402

#: Examples per global batch and batches per timed unit of work.
BATCH, STEPS = 64, 8
#: The synthetic task: 28x28 grey images in this many classes.
SHAPE, CLASSES = (28, 28, 1), 10


def _data(n: int = BATCH * STEPS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(n) % CLASSES
    x = np.clip(rng.uniform(0, 0.5, (n, *SHAPE)) + 0.05 * y[:, None, None, None], 0, 1).astype(np.float32)
    return x, y


@functools.cache
def _strategies() -> dict[str, tf.distribute.Strategy | None]:
    """One instance of each strategy for the whole process: two MirroredStrategy objects over the same devices
    share collective instance keys, and their all-reduces then collide ("Shape mismatch in the collective
    instance")."""
    return {
        "none": None,
        "one-device": tf.distribute.OneDeviceStrategy("/cpu:0"),
        "mirrored-1": tf.distribute.MirroredStrategy(["/cpu:0"]),
        "mirrored-2": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
    }


def _classifier(strategy, kind: str | None = None, seed: int = 0):
    """A ``simple_cnn`` (extended to ``kind``'s outputs, if given) wrapped for ART, built with its optimiser inside
    the strategy's scope."""
    from art_ext.defences.trainer import extend_classes
    from art_ext.estimators import wrap
    from art_ext.models import get_model

    with resolve_strategy(strategy).scope(), seeded(seed):
        model = get_model("simple_cnn", SHAPE, CLASSES)
        return wrap(extend_classes(model, kind) if kind else model, learning_rate=1e-3)


# ---------------------------------------------------------------- components: build(strategy) -> (run, steps)


def plain_step(strategy):
    """A plain Keras training step (forward, cross-entropy, Adam): :func:`art_ext.distribute.training_step`."""
    model = _classifier(strategy).model
    with resolve_strategy(strategy).scope():
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(model.trainable_variables)
    step = training_step(strategy, model, optimizer)
    x, y = _data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).cache().repeat()
    batches = iter(distribute_batches(strategy, dataset))  # one iterator: its set-up is not a step

    def run():
        for _ in range(STEPS):
            step(*next(batches))

    return run, STEPS


def distillation(strategy):
    """``DistillationTrainer.fit``: one teacher and one student epoch."""
    from art_ext.defences.trainer import DistillationTrainer

    trainer = DistillationTrainer(_classifier(strategy), nb_epochs=1, batch_size=BATCH, strategy=strategy, seed=0)
    x, y = _data()
    return (lambda: trainer.fit(x, y)), 2 * STEPS


def _labeling(kind: str, strategy):
    from art_ext.defences.trainer import NullLabelingTrainer, TwoNLabelingTrainer

    trainer_class = TwoNLabelingTrainer if kind == "2n" else NullLabelingTrainer
    trainer = trainer_class(_classifier(strategy, kind), seed=0, strategy=strategy)
    x, y = _data()
    return (lambda: trainer.fit(x, y, nb_epochs=1, batch_size=BATCH)), STEPS


def two_n_labeling(strategy):
    """``TwoNLabelingTrainer.fit``: one epoch (FGSM of the substitute on half of each batch, 2N labels)."""
    return _labeling("2n", strategy)


def null_labeling(strategy):
    """``NullLabelingTrainer.fit``: one epoch (N + 1 labels)."""
    return _labeling("null", strategy)


def uddn(strategy):
    """``UDDN.fit``: one epoch of the denoiser on given (clean, noisy) pairs, guided by the classifier's logits."""
    from art_ext.defences.preprocessor import UDDN

    denoiser = UDDN(_classifier(strategy), batch_size=BATCH, seed=0, verbose=False, strategy=strategy)
    x, _ = _data()
    noisy = np.clip(x + np.random.default_rng(1).uniform(-0.1, 0.1, x.shape), 0, 1).astype(np.float32)
    return (lambda: denoiser.fit(x, x_adversarial=noisy, nb_epochs=1)), STEPS


def learning_to_confuse(strategy):
    """One batch of a ``LearningToConfuse`` round: its generator step (the unrolled, second-order one) with the
    victim's step in the same compiled function, as ``fit`` runs them, for ``strategy`` on the default generator and
    imaginary victim, fed the batch as ``fit`` feeds it (split across the replicas)."""
    from art_ext.attacks.poisoning import LearningToConfuse
    from art_ext.attacks.poisoning.learning_to_confuse import _shard
    from art_ext.models import get_model
    from art_ext.models.generators import default_generator

    attack = LearningToConfuse(nb_classes=CLASSES, seed=0, verbose=False, strategy=strategy)
    resolved = resolve_strategy(strategy)
    with resolved.scope(), seeded(0):
        victim, generator = get_model("deepconfuse_victim", SHAPE, CLASSES), default_generator(SHAPE)
        frozen = keras.models.clone_model(generator)
        optimizer, victim_optimizer = keras.optimizers.Adam(1e-3), keras.optimizers.SGD(0.01)
        optimizer.build(generator.trainable_variables)
        victim_optimizer.build(victim.trainable_variables)
    logits = attack._logits_fn("deepconfuse_victim")
    _, victim_replica, _ = attack._build_steps(resolved, victim, logits, frozen, victim_optimizer, BATCH)
    step = attack._build_generator_step(resolved, victim, logits, generator, optimizer, BATCH, then=victim_replica)
    x, y = _data()
    batches = [_shard(resolved, x[i : i + BATCH], y[i : i + BATCH].astype(np.int32)) for i in range(0, len(x), BATCH)]

    def run():
        for xb, yb in batches:
            float(step(xb, yb, xb, yb, yb))  # fit reads the step's accuracy every batch

    return run, len(batches)


COMPONENTS = {
    "plain_step": (plain_step, None),
    "distillation": (distillation, ("art_ext.defences.trainer", "DistillationTrainer")),
    "two_n_labeling": (two_n_labeling, ("art_ext.defences.trainer", "TwoNLabelingTrainer")),
    "null_labeling": (null_labeling, ("art_ext.defences.trainer", "NullLabelingTrainer")),
    "uddn": (uddn, ("art_ext.defences.preprocessor", "UDDN")),
    "learning_to_confuse": (learning_to_confuse, ("art_ext.attacks.poisoning", "LearningToConfuse")),
}


def _has_strategy(owner) -> bool:
    if owner is None:
        return True
    import importlib

    cls = getattr(importlib.import_module(owner[0]), owner[1])
    return "strategy" in getattr(cls, "_parameter_constraints", {})


def measure(name: str, repeats: int) -> dict[str, float]:
    """Best seconds per step of component ``name`` under each strategy setting."""
    build = COMPONENTS[name][0]
    runs = {}
    for setting, strategy in _strategies().items():
        run, steps = build(strategy)
        run()  # tracing
        runs[setting] = (run, steps)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for setting, (run, steps) in runs.items():
            start = time.perf_counter()
            run()
            best[setting] = min(best[setting], (time.perf_counter() - start) / steps)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="directory for distribute.csv / .rst (default: print only)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--components", nargs="+", choices=list(COMPONENTS), default=list(COMPONENTS))
    args = parser.parse_args()
    rows = []
    for name in args.components:
        if not _has_strategy(COMPONENTS[name][1]):
            print(f"{name}: skipped (no strategy parameter)", flush=True)
            continue
        best = measure(name, args.repeats)
        row = {"component": name, **{f"{k} ms": 1e3 * v for k, v in best.items()}}
        for setting in ("one-device", "mirrored-1", "mirrored-2"):
            row[f"{setting} vs none"] = best[setting] / best["none"] - 1
        rows.append(row)
        print(
            f"{name}: "
            + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in best.items())
            + " | overhead: "
            + ", ".join(f"{s} {row[f'{s} vs none']:+.1%}" for s in ("one-device", "mirrored-1", "mirrored-2")),
            flush=True,
        )
    if args.out and rows:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "distribute.csv"), "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        header = ["component", "none", "OneDevice", "Mirrored, 1 CPU", "Mirrored, 2 logical CPUs"]
        lines = [".. csv-table::", "   :header-rows: 1", "", "   " + ", ".join(f'"{h}"' for h in header)]
        for row in rows:
            cells = [row["component"], f"{row['none ms']:.1f} ms"] + [
                f"{row[f'{s} ms']:.1f} ms ({row[f'{s} vs none']:+.0%})"
                for s in ("one-device", "mirrored-1", "mirrored-2")
            ]
            lines.append("   " + ", ".join(f'"{c}"' for c in cells))
        with open(os.path.join(args.out, "distribute.rst"), "w") as file:
            file.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
