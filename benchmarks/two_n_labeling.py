"""Training speed of 2N labeling against plain training and ART's AdversarialTrainer (one run, one table).

Times one epoch (after a warm-up epoch that traces the graphs) of:

* plain training of the N-class model (ART ``TensorFlowV2Classifier.fit`` with a compiled step),
* :class:`~art_ext.defences.trainer.TwoNLabelingTrainer` with a substitute (the paper's setting) and
  with its default white-box FGSM, and :class:`~art_ext.defences.trainer.NullLabelingTrainer` (all with the
  classifier's own optimizer, the default),
* the default 2N trainer under a ``MirroredStrategy`` over one CPU (the model built in its scope): the cost of
  the ``tf.distribute`` machinery on one device, against ``strategy=None``,
* ART's ``AdversarialTrainer`` with ``FastGradientMethod`` (ratio 0.5), the ART component a user
  would otherwise reach for.

Run: ``python benchmarks/two_n_labeling.py [--model deepconfuse_victim] [--n 8000]``
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np
import tensorflow as tf


def _time_rounds(runs: dict, repeats: int) -> dict:
    """Time one epoch of every run, round-robin ``repeats`` times after a warm-up round.

    Returns ``{name: (min wall seconds, mean CPU seconds)}``: on a shared machine the minimum wall
    time and the process CPU time (all threads) are the numbers least disturbed by other jobs.
    """
    for fn in runs.values():
        fn()  # warm-up: traces the graphs
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            w, c = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
    return {name: (min(wall[name]), float(np.mean(cpu[name]))) for name in runs}


def main() -> None:
    from art.attacks.evasion import FastGradientMethod
    from art.defences.trainer import AdversarialTrainer

    from art_ext.data import load_dataset
    from art_ext.defences.trainer import NullLabelingTrainer, TwoNLabelingTrainer, extend_classes
    from art_ext.estimators import wrap
    from art_ext.models import get_model
    from art_ext.report import markdown_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deepconfuse_victim")
    parser.add_argument("--n", type=int, default=4000, help="training samples per epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    x, y = load_dataset("mnist", "train", source="auto")
    x, y = x[: args.n], y[: args.n]
    keras.utils.set_random_seed(0)

    def fresh(kind=None):
        model = get_model(args.model, x.shape[1:], 10)
        return wrap(extend_classes(model, kind) if kind else model)

    bs = args.batch_size
    substitute = fresh()
    plain = fresh()
    runs = {
        "plain training (ART TensorFlowV2Classifier.fit)": lambda: plain.fit(x, y, nb_epochs=1, batch_size=bs),
    }
    one_device = tf.distribute.MirroredStrategy(["/cpu:0"])
    with one_device.scope():
        in_scope = fresh("2n")
    # The epochs themselves: the batch-norm refresh at the end of fit is a fixed cost per fit call (at most
    # REFRESH_BATCHES forward passes of the training mix), timed in its own row.
    epoch = dict(seed=0, refresh_batch_norm=False)
    trainers = {
        "2N labeling, substitute FGSM (paper)": TwoNLabelingTrainer(fresh("2n"), substitute=substitute, **epoch),
        "2N labeling, white-box FGSM (default)": TwoNLabelingTrainer(fresh("2n"), **epoch),
        "2N labeling, white-box FGSM, MirroredStrategy on one CPU": TwoNLabelingTrainer(
            in_scope, strategy=one_device, **epoch
        ),
        "NULL labeling, substitute FGSM": NullLabelingTrainer(fresh("null"), substitute=substitute, **epoch),
        "2N labeling, default, with the batch-norm refresh at the end of fit": TwoNLabelingTrainer(fresh("2n"), seed=0),
    }
    for name, trainer in trainers.items():
        runs[name] = lambda t=trainer: t.fit(x, y, nb_epochs=1, batch_size=bs)
    adv_clf = fresh()
    art_trainer = AdversarialTrainer(adv_clf, FastGradientMethod(adv_clf, eps=0.3, batch_size=bs), ratio=0.5)
    runs["ART AdversarialTrainer + FastGradientMethod (ratio 0.5)"] = lambda: art_trainer.fit(
        x, y, nb_epochs=1, batch_size=bs
    )

    times = _time_rounds(runs, args.repeats)
    wall0, cpu0 = times["plain training (ART TensorFlowV2Classifier.fit)"]
    rows = [[name, wall, wall / wall0, cpu, cpu / cpu0] for name, (wall, cpu) in times.items()]
    print(f"\nOne training epoch: {args.model}, {len(x)} MNIST images, batch {bs}, {args.repeats} interleaved rounds\n")
    print(markdown_table(["training", "wall s (min)", "x plain (wall)", "CPU s (mean)", "x plain (CPU)"], rows))
    none_cpu = times["2N labeling, white-box FGSM (default)"][1]
    mirrored_cpu = times["2N labeling, white-box FGSM, MirroredStrategy on one CPU"][1]
    print(f"\nstrategy overhead on one device (CPU time): {100 * (mirrored_cpu / none_cpu - 1):+.1f} %")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
