"""Issue 19's LearningToConfuse goal: ``LearningToConfuse(eps=0.3).fit(x, y)`` with its defaults on 20,000 digits.

Step 1 (``fit``, long): fits the generator on the first 20,000 MNIST training digits with the defaults (``seed=0``;
a checkpoint makes the fit resumable: run the same command again after an interruption), records the wall time and
the machine's load, and writes the fitted attack and its poison of the 20,000 digits to ``--out``.
Step 2 (``victims``): trains zoo victims (5 epochs, Adam 1e-3, batch 128) on the poison and on the clean digits and
reports their clean test accuracy (``--models dev`` or ``held_out``); ``--generator`` may point at a checkpoint of a
running fit to score an intermediate generator.

Run: ``ART_EXT_DATA_DIR=path/to/data python benchmarks/learning_to_confuse_goal.py fit --out DIR`` then
``... victims --models held_out --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

N_TRAIN, EPS, SEED = 20000, 0.3, 0


def _load(dataset_split: str):
    from art_ext.data import load_dataset

    return load_dataset("mnist", dataset_split)


def _loadavg() -> list[float]:
    return list(os.getloadavg())


def fit(out: str) -> None:
    from art_ext.attacks.poisoning import LearningToConfuse

    x, y = _load("train")
    x, y = x[:N_TRAIN], y[:N_TRAIN]
    os.makedirs(out, exist_ok=True)
    log = os.path.join(out, "fit_log.jsonl")
    with open(log, "a") as handle:
        handle.write(json.dumps({"event": "start", "time": time.time(), "load": _loadavg()}) + "\n")
    start = time.time()
    attack = LearningToConfuse(eps=EPS, seed=SEED)
    attack.fit(x, y, checkpoint=os.path.join(out, "checkpoint.npz"))
    seconds = time.time() - start
    attack.save(os.path.join(out, "generator.keras"))
    x_poison, _ = attack.poison(x, y)
    np.savez_compressed(os.path.join(out, "poison.npz"), x=x_poison, y=y)
    with open(log, "a") as handle:
        handle.write(
            json.dumps(
                {
                    "event": "done",
                    "time": time.time(),
                    "seconds_this_process": seconds,
                    "load": _loadavg(),
                    "linf": float(np.abs(x_poison.astype(np.float64) - x).max()),
                }
            )
            + "\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("fit",))
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    fit(args.out)


if __name__ == "__main__":
    main()
