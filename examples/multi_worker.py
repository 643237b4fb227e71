"""Training on several machines with TensorFlow's MultiWorkerMirroredStrategy, shown with two local processes.

Each worker is a process with ``TF_CONFIG`` naming the cluster and its own index; here both run on this machine
and talk over loopback ports. Every worker builds the same model inside ``strategy.scope()``, takes its share of
each global batch, and the strategy sums the gradients, so all workers end with the same weights -- those of
training on one device with the global batch. The step is art-ext's ``training_step`` (the step every trainer
takes, on ``distributed_step``); ``--trainer distillation`` trains a ``DistillationTrainer`` under the strategy
instead.

    python examples/multi_worker.py                      # launches 2 local workers and compares their weights
    python examples/multi_worker.py --workers 3 --steps 20

On real machines start one process per machine, each with its own ``TF_CONFIG`` (``--worker`` mode)::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}' \\
        python examples/multi_worker.py --worker --out weights/
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np

#: Global batch size: every step takes this many examples, split across all workers' replicas.
GLOBAL_BATCH = 16
#: The synthetic task: this many examples of FEATURES features in CLASSES classes.
EXAMPLES, FEATURES, CLASSES = 64, 8, 3


def data() -> tuple[np.ndarray, np.ndarray]:
    """A small deterministic classification problem (the same on every worker)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(EXAMPLES, FEATURES)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(FEATURES, CLASSES)), axis=1).astype(np.int64)
    return x, y


def train(strategy, steps: int, trainer: str) -> list[np.ndarray]:
    """Train a tiny model for ``steps`` global batches under ``strategy`` (``None``: one device); its weights."""
    import keras
    import tensorflow as tf

    from art_ext.distribute import distribute_batches, resolve_strategy, training_step
    from art_ext.params import seeded

    x, y = data()
    with resolve_strategy(strategy).scope():  # variables (model, optimizer slots) are made in the scope
        with seeded(0):
            model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(16, "relu"), keras.layers.Dense(3)])
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(model.trainable_variables)
    if trainer == "distillation":
        return _distill(strategy, model, optimizer, x, y, steps)
    step = training_step(strategy, model, optimizer)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(GLOBAL_BATCH).take(steps)
    options = tf.data.Options()  # every worker reads the whole data set; the strategy splits each global batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    for xb, yb in distribute_batches(strategy, dataset.with_options(options)):
        step(xb, yb)
    return [np.asarray(w) for w in model.get_weights()]


def _distill(strategy, model, optimizer, x, y, steps: int) -> list[np.ndarray]:
    """The same model trained by art-ext's DistillationTrainer (teacher, then student) under ``strategy``."""
    from art.estimators.classification import TensorFlowV2Classifier

    from art_ext.defences.trainer import DistillationTrainer
    from art_ext.distribute import resolve_strategy

    with resolve_strategy(strategy).scope():
        classifier = TensorFlowV2Classifier(model, nb_classes=CLASSES, input_shape=(FEATURES,), optimizer=optimizer)
    epochs = max(1, steps * GLOBAL_BATCH // EXAMPLES)
    trainer = DistillationTrainer(classifier, nb_epochs=epochs, batch_size=GLOBAL_BATCH, strategy=strategy, seed=0)
    trainer.fit(x, y)
    return [np.asarray(w) for w in trainer.get_classifier().model.get_weights()]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(workers: int, steps: int, trainer: str, out: str, timeout: float) -> list[list[np.ndarray]]:
    """Run ``workers`` local worker processes on loopback ports; their final weights, in worker order."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(workers)]}
    processes = []
    for index in range(workers):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = [sys.executable, os.path.abspath(__file__), "--worker", "--out", out]
        command += ["--steps", str(steps), "--trainer", trainer]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + timeout
    try:
        for index, process in enumerate(processes):
            output, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            if process.returncode != 0:
                raise RuntimeError(f"worker {index} failed (exit {process.returncode}):\n{output.decode()[-3000:]}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return [_load(os.path.join(out, f"worker{index}.npz")) for index in range(workers)]


def _load(path: str) -> list[np.ndarray]:
    with np.load(path) as weights:
        return [weights[f"w{i}"] for i in range(len(weights.files))]


def _worker(args) -> None:
    import tensorflow as tf

    # the default collective implementation picks NCCL on GPUs and the ring over gRPC otherwise
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    index = strategy.cluster_resolver.task_id
    weights = train(strategy, args.steps, args.trainer)
    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, f"worker{index}.npz"), **{f"w{i}": w for i, w in enumerate(weights)})
    print(f"worker {index}/{strategy.num_replicas_in_sync}: done", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="local worker processes to launch")
    parser.add_argument("--steps", type=int, default=8, help=f"global batches of {GLOBAL_BATCH} examples")
    parser.add_argument("--trainer", choices=["step", "distillation"], default="step")
    parser.add_argument("--out", default="multi_worker_out", help="directory for the workers' weights")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the whole local run")
    parser.add_argument("--worker", action="store_true", help="run as one worker configured by TF_CONFIG")
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)
    start = time.perf_counter()
    weights = launch(args.workers, args.steps, args.trainer, args.out, args.timeout)
    reference = train(None, args.steps, args.trainer)
    same = all(np.array_equal(a, b) for w in weights[1:] for a, b in zip(weights[0], w))
    gap = max(float(np.abs(a - b).max()) for a, b in zip(weights[0], reference))
    print(
        f"{args.workers} workers, {args.steps} steps of {GLOBAL_BATCH} examples in {time.perf_counter() - start:.1f} s"
    )
    print(f"workers' weights identical: {same}; largest difference to one-device training: {gap:.2e}")


if __name__ == "__main__":
    main()
