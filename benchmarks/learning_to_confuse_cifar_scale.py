"""Does a CIFAR-10 Learning to Confuse generator poison victims trained on the whole training set?

The small CIFAR-10 reproduction (``art-ext reproduce learning-to-confuse --scale small --dataset cifar10``) scores
victims trained on its 5,000 poisoned images, which reach only 34-52 % clean accuracy. This script separates "the
victims are too weak to tell" from "the poison is too weak": it applies a fitted generator to all 50,000 training
images (the generator is a per-image network, so it poisons images it was not fitted on) and trains each victim from
scratch on the clean and on the poisoned set with the same recipe (Adam 1e-3, batch 128, ``--epochs`` passes), then
reports clean test accuracy on ``--n-test`` test images.

Run: ``ART_EXT_DATA_DIR=path/to/data python benchmarks/learning_to_confuse_cifar_scale.py --generator
path/to/learning_to_confuse-<key>.keras --models plain_cnn --epochs 5 --out DIR`` (the generator is the cached file
the reproduction writes under ``~/.cache/art_ext/generators``).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", required=True, help="a LearningToConfuse .keras file fitted on CIFAR-10")
    parser.add_argument("--models", nargs="+", default=["plain_cnn"], help="reference model names (cifar_models)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--eps", type=float, default=None, help="budget (default: the generator's)")
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.epochs < 1 or not 1 <= args.n_test <= 10000:
        parser.error("--epochs must be >= 1 and --n-test in [1, 10000]")

    from art_ext.attacks.poisoning import LearningToConfuse
    from art_ext.data import load_dataset
    from art_ext.estimators import wrap
    from art_ext.experiments.cifar_models import REFERENCE_MODELS
    from art_ext.experiments.harness import accuracy, set_seed, train_model
    from art_ext.models import get_model

    unknown = [m for m in args.models if m not in REFERENCE_MODELS]
    if unknown:
        parser.error(f"--models: unknown {unknown}; choose from {sorted(REFERENCE_MODELS)}")
    os.makedirs(args.out, exist_ok=True)
    attack = LearningToConfuse.load(args.generator, verbose=False)
    eps = attack.eps if args.eps is None else args.eps
    x, y = load_dataset("cifar10", "train")
    x_test, y_test = load_dataset("cifar10", "test")
    x_test, y_test = x_test[: args.n_test], y_test[: args.n_test]
    start = time.time()
    x_poison = np.clip(x + eps * attack.noise(x), *attack.clip_values).astype(np.float32)
    results = {"eps": eps, "epochs": args.epochs, "n_train": len(x), "n_test": len(x_test), "seed": args.seed}
    results["poison_seconds"] = time.time() - start
    results["linf"] = float(np.abs(x_poison - x).max())
    for name in args.models:
        architecture, options = REFERENCE_MODELS[name]
        row = {}
        for label, train in (("clean", x), ("poisoned", x_poison)):
            set_seed(args.seed)
            start = time.time()
            model = train_model(get_model(architecture, x.shape[1:], 10, **options), train, y, epochs=args.epochs)
            row[label] = accuracy(wrap(model), x_test, y_test)
            row[f"{label}_seconds"] = time.time() - start
            print(f"{name} trained on {label}: {100 * row[label]:.2f} % ({row[f'{label}_seconds']:.0f} s)", flush=True)
        results[name] = row
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
