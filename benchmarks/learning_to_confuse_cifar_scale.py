"""Does a CIFAR-10 Learning to Confuse generator poison victims trained on the whole training set?

The small CIFAR-10 reproduction (``art-ext reproduce learning-to-confuse --scale small --dataset cifar10``) scores
victims trained on its 5,000 poisoned images, which reach only 34-52 % clean accuracy. This script separates "the
victims are too weak to tell" from "the poison is too weak": it applies a fitted generator to all 50,000 training
images (the generator is a per-image network, so it poisons images it was not fitted on) and trains each victim from
scratch on the clean and on the poisoned set with the same recipe (Adam 1e-3, batch 128, ``--epochs`` passes), then
reports clean test accuracy on ``--n-test`` test images.

Run: ``ART_EXT_DATA_DIR=path/to/data python benchmarks/learning_to_confuse_cifar_scale.py --generator
path/to/learning_to_confuse-<key>.keras --model plain_cnn --options '{"widths": [32, 64, 128]}' --epochs 5 --out DIR``
(the generator is the cached file the reproduction writes under ``~/.cache/art_ext/generators``; model and options
are :func:`art_ext.models.get_model`'s, here the reference plain CNN of ``art-ext reproduce cifar-models``).
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
    parser.add_argument("--model", default="plain_cnn", help="victim architecture (art_ext.models.get_model)")
    parser.add_argument("--options", type=json.loads, default={}, help="its get_model options, as JSON")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--eps", type=float, default=None, help="budget (default: the generator's)")
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.epochs < 1 or not 1 <= args.n_test <= 10000:
        parser.error("--epochs must be >= 1 and --n-test in [1, 10000]")

    import keras

    from art_ext.attacks.poisoning import LearningToConfuse
    from art_ext.data import load_dataset
    from art_ext.estimators import wrap
    from art_ext.metrics import accuracy
    from art_ext.models import get_model, list_models

    if args.model not in list_models():
        parser.error(f"--model: unknown {args.model!r}; choose from {list_models()}")
    os.makedirs(args.out, exist_ok=True)
    attack = LearningToConfuse.load(args.generator, verbose=False)
    eps = attack.eps if args.eps is None else args.eps
    x, y = load_dataset("cifar10", "train")
    x_test, y_test = load_dataset("cifar10", "test")
    x_test, y_test = x_test[: args.n_test], y_test[: args.n_test]
    start = time.time()
    x_poison = attack.perturb(x, eps=eps)
    results = {"eps": eps, "epochs": args.epochs, "n_train": len(x), "n_test": len(x_test), "seed": args.seed}
    results["poison_seconds"] = time.time() - start
    results["linf"] = float(np.abs(x_poison - x).max())
    row = {"options": args.options}
    for label, train in (("clean", x), ("poisoned", x_poison)):
        keras.utils.set_random_seed(args.seed)  # a script of its own: the global seed is its seed
        start = time.time()
        classifier = wrap(get_model(args.model, x.shape[1:], 10, **args.options))
        classifier.fit(train, y, batch_size=128, nb_epochs=args.epochs, verbose=False)
        row[label] = accuracy(classifier, x_test, y_test)
        row[f"{label}_seconds"] = time.time() - start
        seconds = row[f"{label}_seconds"]
        print(f"{args.model} trained on {label}: {100 * row[label]:.2f} % ({seconds:.0f} s)", flush=True)
    results[args.model] = row
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
