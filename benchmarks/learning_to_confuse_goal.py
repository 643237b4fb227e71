"""Issue 19's LearningToConfuse goal: ``LearningToConfuse(eps=0.3).fit(x, y)`` with its defaults on 20,000 digits.

Step 1 (``fit``, long): fits the generator on the first 20,000 MNIST training digits with the defaults (``seed=0``;
a checkpoint makes the fit resumable: run the same command again after an interruption), records the wall time and
the machine's load, and writes the fitted attack and its poison of the 20,000 digits to ``--out``.
Step 2 (``victims``): trains zoo victims (5 epochs, Adam 1e-3, batch 128) on the poison and on the clean digits and
reports their clean test accuracy (``--models dev`` or ``held_out``); ``--generator`` may point at a checkpoint of a
running fit to score an intermediate generator; ``--refresh-bn`` also scores each victim after setting its batch-norm
statistics to those of its final weights on 20 training batches, as the trainers do (5 epochs at a constant learning
rate leave them behind). ``fit --label-specific`` fits the label-specific variant (targets ``(y + 1) mod 10``); the
victims report the share of test digits classified as that target (``next_class_success``) either way;
``fit --rounds N --victim-epochs K`` fits with another budget of rounds or passes per round (a trial on the DEV
victims, not the goal).
``recipes`` trains victims on one poison under several recipes, from the fit's imaginary victim's (SGD 0.01, one
pass) to the goal's (Adam 1e-3, 5 epochs). ``history`` prints the fresh victims' scores of every round recorded in
``OUT/checkpoint.npz`` (also of a running fit).

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


def next_class(y: np.ndarray) -> np.ndarray:
    """The label-specific variant's targets (the paper's Fig. 11): each class to the next."""
    return (y + 1) % 10


def fit(out: str, label_specific: bool = False, rounds: int | None = None, victim_epochs: int | None = None) -> None:
    """Fit with the defaults, or (for a trial on the DEV victims) another number of rounds or victim passes per
    round."""
    from art_ext.attacks.poisoning import LearningToConfuse

    x, y = _load("train")
    x, y = x[:N_TRAIN], y[:N_TRAIN]
    os.makedirs(out, exist_ok=True)
    log = os.path.join(out, "fit_log.jsonl")
    with open(log, "a") as handle:
        start_record = {"event": "start", "time": time.time(), "load": _loadavg()}
        start_record.update(rounds=rounds, victim_epochs=victim_epochs)
        handle.write(json.dumps(start_record) + "\n")
    start = time.time()
    options = {} if victim_epochs is None else {"victim_epochs": victim_epochs}
    attack = LearningToConfuse(eps=EPS, seed=SEED, target_fn=next_class if label_specific else None, **options)
    fit_options = {} if rounds is None else {"nb_epochs": rounds}
    attack.fit(x, y, checkpoint=os.path.join(out, "checkpoint.npz"), **fit_options)
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


def _generator_from(path: str, kept: bool = False):
    """The fitted attack of a ``generator.keras`` file, or the latest generator of a running fit's checkpoint (with
    ``kept``: the generator its stage keeps so far, ``keep_best``'s choice by the fresh victims on the held-out 5%)."""
    from art_ext.attacks.poisoning import LearningToConfuse
    from art_ext.models.generators import default_generator

    if path.endswith(".keras"):
        return LearningToConfuse.load(path, verbose=False), "final"
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        name = "best" if kept and meta["best"] else "frozen"
        weights = [data[f"{name}_{i}"] for i in range(sum(k.startswith(f"{name}_") for k in data.files))]
    generator = default_generator((28, 28, 1))
    for v, w in zip(generator.variables, weights):
        v.assign(w)
    attack = LearningToConfuse(eps=EPS, verbose=False)
    attack.generator_, attack.nb_classes_ = generator, 10
    at = f"stage {meta['state']['stage'] + 1}, round {meta['state']['round']} of that stage"
    return attack, at + (", the stage's kept generator" if name == "best" else "")


def victims(
    out: str,
    generator: str,
    models: str,
    seeds: list[int],
    epochs: int,
    clean: bool = True,
    names=None,
    refresh: bool = False,
    kept: bool = False,
) -> None:
    import keras
    import zoo

    from art_ext.estimators import refresh_batch_norm
    from art_ext.estimators.batch_norm import REFRESH_BATCHES

    x, y = _load("train")
    x, y = x[:N_TRAIN], y[:N_TRAIN]
    x_test, y_test = _load("test")
    attack, label = _generator_from(generator, kept)
    x_poison, _ = attack.poison(x, y)
    linf = float(np.abs(x_poison.astype(np.float64) - x).max())
    names = [n for n in (zoo.DEV if models == "dev" else zoo.HELD_OUT) if not names or n in names]
    rows = []
    for name in names:
        for data, train in (("poisoned", x_poison), ("clean", x)) if clean else (("poisoned", x_poison),):
            for seed in seeds if data == "poisoned" else seeds[:1]:
                keras.utils.set_random_seed(seed)  # the batch order (a benchmark script may seed globally)
                model = zoo.build(name, nb_classes=10, input_shape=x.shape[1:], seed=seed)
                model.compile(
                    optimizer=keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                )
                start = time.time()
                model.fit(train, y, epochs=epochs, batch_size=128, verbose=0)
                pred = np.argmax(model.predict(x_test, batch_size=1000, verbose=0), axis=1)
                refreshed = None
                if refresh:  # the victim's batch-norm statistics set to those of its final weights
                    training_batches = (train[i : i + 128] for i in range(0, len(train), 128))
                    refresh_batch_norm(model, training_batches, max_batches=REFRESH_BATCHES)
                    logits = model.predict(x_test, batch_size=1000, verbose=0)
                    refreshed = float(np.mean(np.argmax(logits, axis=1) == y_test))
                row = {
                    "generator": generator,
                    "at": label,
                    "model": name,
                    "trained_on": data,
                    "seed": seed,
                    "epochs": epochs,
                    "clean_test_accuracy": float(np.mean(pred == y_test)),
                    "next_class_success": float(np.mean(pred == next_class(y_test))),
                    "clean_test_accuracy_bn_refreshed": refreshed,
                    "linf": linf,
                    "train_seconds": time.time() - start,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    with open(os.path.join(out, f"victims_{models}.jsonl"), "a") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


#: ``recipes``: victim training recipes, from the fit's imaginary victim's to the goal's:
#: (Keras optimizer, learning rate, epochs, batch size).
RECIPES = {
    "SGD 0.01, 1 epoch, batch 64 (the fit's)": ("SGD", 0.01, 1, 64),
    "SGD 0.01, 5 epochs, batch 64": ("SGD", 0.01, 5, 64),
    "Adam 1e-3, 1 epoch, batch 128": ("Adam", 1e-3, 1, 128),
    "Adam 1e-3, 5 epochs, batch 128 (the goal's)": ("Adam", 1e-3, 5, 128),
}


def recipes(out: str, generator: str, names, kept: bool = False) -> None:
    """Train victims on one poison under the recipes of :data:`RECIPES` (all four for the fit's own surrogate,
    ``deepconfuse_victim``; the two Adam ones for the zoo models ``names``) and report their clean test accuracy:
    how much of the poison's effect a victim trains away."""
    import keras
    import zoo

    from art_ext.models import get_model

    x, y = _load("train")
    x, y = x[:N_TRAIN], y[:N_TRAIN]
    x_test, y_test = _load("test")
    attack, label = _generator_from(generator, kept)
    x_poison, _ = attack.poison(x, y)
    builders = {"deepconfuse_victim": lambda seed: get_model("deepconfuse_victim", x.shape[1:], 10)}
    for name in names or ():
        builders[name] = lambda seed, name=name: zoo.build(name, nb_classes=10, input_shape=x.shape[1:], seed=seed)
    with open(os.path.join(out, "recipes.jsonl"), "a") as handle:
        for name, build in builders.items():
            for recipe, (optimizer, learning_rate, epochs, batch) in RECIPES.items():
                if name != "deepconfuse_victim" and optimizer != "Adam":
                    continue
                keras.utils.set_random_seed(SEED)  # the initialisation of get_model and the batch order
                model = build(SEED)
                model.compile(
                    optimizer=getattr(keras.optimizers, optimizer)(learning_rate),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                )
                start = time.time()
                model.fit(x_poison, y, epochs=epochs, batch_size=batch, verbose=0)
                pred = np.argmax(model.predict(x_test, batch_size=1000, verbose=0), axis=1)
                row = {
                    "generator": generator,
                    "at": label,
                    "model": name,
                    "recipe": recipe,
                    "clean_test_accuracy": float(np.mean(pred == y_test)),
                    "train_seconds": time.time() - start,
                }
                print(json.dumps(row), flush=True)
                handle.write(json.dumps(row) + "\n")


def history(out: str) -> None:
    """Print each scored round of the fit's checkpoint (fresh victims on the held-out 5%) and a summary per stage."""
    with np.load(os.path.join(out, "checkpoint.npz")) as data:
        rounds = json.loads(str(data["meta"]))["state"]["history"]
    for record in rounds:
        print(json.dumps(record))
    for key, best in (("fresh_victim_val_accuracy", min), ("fresh_victim_target_success", max)):
        for stage in sorted({r["stage"] for r in rounds}):
            values = [r[key] for r in rounds if r["stage"] == stage and key in r]
            if values:
                print(
                    f"stage {stage}: {key} median {np.median(values):.3f}, best {best(values):.3f} "
                    f"over {len(values)} scored rounds"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("fit", "victims", "recipes", "history"))
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--generator", help="victims: a generator.keras or checkpoint .npz (default: OUT/generator.keras)"
    )
    parser.add_argument("--models", choices=("dev", "held_out"), default="dev")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--names", nargs="+", help="victims: only these models of the half")
    parser.add_argument("--skip-clean", action="store_true", help="victims: do not train the clean-data victims")
    parser.add_argument(
        "--label-specific",
        action="store_true",
        help="fit: the label-specific variant, targets (y + 1) mod 10 (victims always report that success)",
    )
    parser.add_argument(
        "--kept",
        action="store_true",
        help="victims: with a checkpoint --generator, score the generator its stage keeps so far (keep_best)",
    )
    parser.add_argument(
        "--refresh-bn",
        action="store_true",
        help="victims: also score each victim after refresh_batch_norm on 20 of its training batches",
    )
    parser.add_argument("--rounds", type=int, help="fit: rounds instead of the default (a trial, not the goal)")
    parser.add_argument(
        "--victim-epochs", type=int, help="fit: passes of the imaginary victim per round (default: the attack's)"
    )
    args = parser.parse_args()
    if args.step == "fit":
        fit(args.out, args.label_specific, args.rounds, args.victim_epochs)
    elif args.step == "history":
        history(args.out)
    elif args.step == "recipes":
        recipes(args.out, args.generator or os.path.join(args.out, "generator.keras"), args.names, args.kept)
    else:
        generator = args.generator or os.path.join(args.out, "generator.keras")
        victims(
            args.out,
            generator,
            args.models,
            args.seeds,
            args.epochs,
            not args.skip_clean,
            args.names,
            args.refresh_bn,
            args.kept,
        )


if __name__ == "__main__":
    main()
