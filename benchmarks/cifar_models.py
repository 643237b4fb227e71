"""Training cost of the CIFAR-10 reference models: the time of 50 training steps at batch 128 on this machine.

Each model of ``art_ext.experiments.cifar_models.REFERENCE_MODELS`` is built and compiled exactly as the
reproduction trains it (SGD Nesterov, weight decay, one-cycle schedule, augmented ``tf.data`` batches, Keras
``fit``), run for a few warm-up steps (tracing), then timed over 50 steps; the script prints seconds per step and
the projected time of one epoch (390 steps) and of the ``small`` scale's training; also the CPU seconds per
step (all threads), which a busy machine inflates less than the wall time. Random images stand in for
CIFAR-10 (the cost depends on shapes only)::

    PYTHONPATH=$PWD python benchmarks/cifar_models.py [--steps 50] [--models resnet20 ...]
"""

import argparse
import os
import time

import numpy as np

from art_ext.experiments import cifar_models as cm
from art_ext.experiments.harness import set_seed
from art_ext.models import get_model

BATCH = 128
TRAIN_IMAGES = 50_000


def step_time(name: str, steps: int, warmup: int = 5) -> tuple[int, float, float]:
    """Parameters, wall seconds and CPU seconds (all threads of this process) per training step of reference model
    ``name`` at batch 128."""
    s = cm.settings(name, "small")
    rng = np.random.default_rng(0)
    x = rng.random((BATCH * 8, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    set_seed(0)
    model = cm.compile_for_training(get_model(s["architecture"], (32, 32, 3), 10, **s["options"]), 10_000, s)
    batches = cm.augmented_batches(x, y, BATCH, 0, epochs=1_000)
    model.fit(batches, epochs=1, steps_per_epoch=warmup, verbose=0)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)
    return model.count_params(), (time.perf_counter() - start) / steps, (time.process_time() - cpu) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--models", nargs="+", default=list(cm.REFERENCE_MODELS), choices=list(cm.REFERENCE_MODELS))
    args = parser.parse_args()
    per_epoch = TRAIN_IMAGES // BATCH
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(
        f"| model | parameters | {args.steps} steps (s) | s / step | CPU s / step | min / epoch "
        "| small-scale epochs | projected |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        params, seconds, cpu = step_time(name, args.steps)
        epochs = cm.SMALL_EPOCHS[name]
        print(
            f"| {name} | {params:,} | {seconds * args.steps:.1f} | {seconds:.3f} | {cpu:.3f} "
            f"| {seconds * per_epoch / 60:.1f} | {epochs} | {seconds * per_epoch * epochs / 3600:.2f} h |",
            flush=True,
        )
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
