"""2N labeling with the trainer's defaults on zoo models: issue 19's goal for a user's fresh model.

For each zoo architecture: a fresh model with 2N = 20 outputs (:func:`~art_ext.defences.trainer.extend_classes`),
wrapped with ART's own ``TensorFlowV2Classifier`` and a Keras ``Adam()`` optimizer (what a new user writes), is
trained by ``TwoNLabelingTrainer(classifier, **config).fit(x, y, nb_epochs=3)`` on 30,000 MNIST digits. Then, on
2,000 test digits, half of them perturbed by FGSM made on ANOTHER zoo model of the same split (trained on clean MNIST,
never seen by the defence), at eps in {0, 0.1, ..., 0.5}: accuracy on the inputs ``TwoNLabelingDetector`` (threshold
0.5) keeps ("filtered"), its range over eps, and the detection AUC of ``P(attack)`` on clean vs PGD inputs (eps 0.3,
ART ``ProjectedGradientDescent``: transferred from the other model, and white-box on the N-class view).

Goal (issue 19, held-out models, defaults): filtered accuracy >= 97 % at every eps, range <= 2 points, PGD AUC >= 0.95.

Those are the paper's tests (transferred FGSM, a fixed PGD), not a robustness evaluation. ``--adaptive N`` adds one:
:func:`art_ext.evaluation.evaluate` (quick preset) on the N-class view of the 2N model with its own detector in front,
on the first N test digits, at L-inf 0.3 and 0.1 of the input range. Besides the classifier-only attacks (APGD-CE,
APGD-T, Square) it runs the joint attack, which pushes each digit to a wrong class *and* under the detector's
threshold at once; "accuracy with rejection" counts a digit as defended when it is classified correctly or flagged.

``config``: ``default`` (the trainer's defaults: the classifier's own optimizer) and ``paper`` (``optimizer="paper"``,
SGD 0.01 + cosine). Choose on ``--split dev``; report ``--split held_out``.

Run: ``ART_EXT_DATA_DIR=path/to/data python benchmarks/defaults_two_n.py --out DIR --split held_out``
(trained models are cached in ``DIR/cache``; ``--rst FILE`` writes the results fragment).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import zoo  # noqa: E402

#: FGSM amplitudes of the accuracy curve (in [0, 1] units; multiplied by the variant's scale).
EPS_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
#: The goal's training budget: digits and epochs.
N_TRAIN, EPOCHS = 30_000, 3
#: Test digits (half of them attacked at every eps).
N_TEST = 2_000
#: PGD budget of the detection AUC ([0, 1] units), its step count.
PGD_EPS, PGD_STEPS = 0.3, 10
#: Budgets of the adaptive evaluation (``--adaptive``), as fractions of the input range.
ADAPTIVE_EPS_FRACTIONS = (0.3, 0.1)
#: Trainer settings compared on the dev split.
CONFIGS = {"default": {}, "paper": {"optimizer": "paper"}, "batch64": {"fit": {"batch_size": 64}}}


def fresh_classifier(name: str, variant: str, seed: int):
    """A user's fresh 2N classifier: the zoo architecture with 20 outputs as ART's TensorFlowV2Classifier (Adam 1e-3)
    in the zoo's form ``variant`` (logits, softmax head, 0-255 inputs, ART standardisation)."""
    from art_ext.defences.trainer import extend_classes

    return zoo.wrap_variant(extend_classes(zoo.build(name, nb_classes=10, seed=seed), "2n"), variant)


def trained(name: str, variant: str, config: str, seed: int, x, y, cache: str):
    """The 2N classifier of ``name`` trained with ``CONFIGS[config]`` (weights cached in ``cache``)."""
    from art_ext.defences.trainer import TwoNLabelingTrainer

    clf = fresh_classifier(name, variant, seed)
    tag = variant.replace("+", "_")
    path = os.path.join(cache, f"two_n-{name}-{tag}-{config}-n{len(x)}-e{EPOCHS}-s{seed}.weights.h5")
    seconds = None
    if os.path.isfile(path):
        clf.model.load_weights(path)
    else:
        start = time.perf_counter()
        options = dict(CONFIGS[config])
        fit_options = options.pop("fit", {})
        TwoNLabelingTrainer(clf, seed=seed, **options).fit(x, y, nb_epochs=EPOCHS, **fit_options)
        seconds = time.perf_counter() - start
        clf.model.save_weights(path)
    return clf, seconds


def evaluate(clf, attacker, x, y, seed: int, factor: float = 1.0) -> dict:
    """Filtered accuracy over eps (half the inputs FGSM-perturbed on ``attacker``) and PGD detection AUCs; ``x`` and
    the attacker are in the classifier's units, eps are in [0, 1] units times ``factor``."""
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
    from sklearn.metrics import roc_auc_score

    from art_ext.defences.detector.evasion import TwoNLabelingDetector
    from art_ext.estimators import NClassView
    from art_ext.metrics import filtering_accuracy, sensitivity

    detector, view = TwoNLabelingDetector(clf), NClassView(clf)
    perturbed = np.zeros(len(x), bool)
    perturbed[np.random.default_rng(seed).permutation(len(x))[: len(x) // 2]] = True
    mask = perturbed[:, None, None, None]
    curve, unfiltered, rejected_clean = [], [], []
    for eps in EPS_GRID:
        x_adv = FastGradientMethod(attacker, eps=eps * factor, batch_size=500).generate(x) if eps else x
        x_mix = np.where(mask, x_adv, x)
        _, rejected = detector.detect(x_mix, batch_size=500)
        acc = filtering_accuracy(y, view.predict(x_mix, batch_size=500).argmax(1), rejected)
        curve.append(acc["filtered"])
        unfiltered.append(acc["unfiltered"])
        rejected_clean.append(float(rejected[~perturbed].mean()))
    clean_scores = detector.attack_probability(x, 500)
    labels = np.r_[np.zeros(len(x)), np.ones(len(x))]
    aucs = {}
    for key, source in (("transfer", attacker), ("white-box view", view)):
        pgd = ProjectedGradientDescent(
            source, eps=PGD_EPS * factor, eps_step=PGD_EPS * factor / 4, max_iter=PGD_STEPS, batch_size=500
        )
        x_pgd = pgd.generate(x)
        aucs[key] = float(roc_auc_score(labels, np.r_[clean_scores, detector.attack_probability(x_pgd, 500)]))
    return {
        "filtered": curve,
        "unfiltered": unfiltered,
        "min_filtered": min(curve),
        "range": sensitivity(EPS_GRID, curve)["range"],
        "clean_rejected": rejected_clean[0],
        "auc_pgd_transfer": aucs["transfer"],
        "auc_pgd_white_box": aucs["white-box view"],
    }


def adaptive(clf, x: np.ndarray, y: np.ndarray, factor: float) -> dict:
    """:func:`art_ext.evaluation.evaluate` of the 2N model's N-class view behind its own detector (the joint attack
    included): accuracy with rejection, the classifier's robust accuracy alone and the detector's false-positive rate,
    in %, at each budget of ``ADAPTIVE_EPS_FRACTIONS`` (times ``factor``, the variant's input scale)."""
    from art_ext.estimators import NClassView
    from art_ext.evaluation import evaluate

    start = time.perf_counter()
    budgets = [fraction * factor for fraction in ADAPTIVE_EPS_FRACTIONS]
    report = evaluate(NClassView(clf), x, y, eps=budgets, preset="quick", verbose=False)
    row = {
        "adaptive n": len(x),
        "adaptive clean accuracy": 100.0 * report.clean_accuracy,
        "adaptive false positives": 100.0 * report.detector["false_positive_rate"],
        "adaptive flags": report.flags,
    }
    for fraction, summary in zip(ADAPTIVE_EPS_FRACTIONS, report.per_eps):
        row[f"adaptive eps {fraction} with rejection"] = 100.0 * summary["accuracy_with_rejection"]
        row[f"adaptive eps {fraction} classifier alone"] = 100.0 * summary["robust_accuracy"]
        row[f"adaptive eps {fraction} joint broken"] = summary["joint_attack_broken"]
        row[f"adaptive eps {fraction} joint Square extra"] = summary["joint_black_box_extra"]
    row["adaptive seconds"] = time.perf_counter() - start
    return row


def rst_fragment(results: dict, split: str, command: str) -> str:
    """The ``docs/results/defaults_two_n.rst`` fragment for ``results`` (``{model: {config: row}}``)."""
    lines = [
        "2N labeling: a fresh model trained by the trainer's defaults",
        "-------------------------------------------------------------",
        "",
        f"Zoo split ``{split}``. A fresh 2N model of each architecture (ART ``TensorFlowV2Classifier``, Keras "
        f"``Adam()``) trained by ``TwoNLabelingTrainer(classifier).fit(x, y, nb_epochs={EPOCHS})`` on "
        f"{N_TRAIN:,} MNIST digits; {N_TEST:,} test digits, half perturbed by FGSM from another zoo model of the "
        "split; ``TwoNLabelingDetector`` at threshold 0.5. Goal: filtered accuracy >= 97 % at every eps, range "
        "<= 2 points, PGD detection AUC >= 0.95.",
        "",
        ".. csv-table::",
        "   :header-rows: 1",
        "",
        '   "model", "trainer", ' + ", ".join(f'"filtered, eps {e:g}"' for e in EPS_GRID) + ', "range (points)", '
        '"clean rejected", "AUC PGD transfer", "AUC PGD white-box"',
    ]
    for model, rows in results.items():
        for config, r in rows.items():
            cells = [f"{100 * v:.2f}" for v in r["filtered"]]
            lines.append(
                f'   "{model} (attacker {r["attacker"]})", "{config}", '
                + ", ".join(f'"{c}"' for c in cells)
                + f', "{100 * r["range"]:.2f}", "{100 * r["clean_rejected"]:.1f} %", '
                f'"{r["auc_pgd_transfer"]:.3f}", "{r["auc_pgd_white_box"]:.3f}"'
            )
    lines += ["", "Command::", "", f"    {command}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (results JSON; trained models in OUT/cache)")
    parser.add_argument("--split", choices=("dev", "held_out"), default="dev")
    parser.add_argument("--configs", default="default", help=f"comma-separated, of {sorted(CONFIGS)}")
    parser.add_argument("--models", default=None, help="comma-separated zoo names (default: the whole split)")
    parser.add_argument("--variant", default="logits", help=f"zoo form of both models, {zoo.VARIANTS}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rst", default=None, help="write the docs fragment here")
    parser.add_argument("--adaptive", type=int, default=0, help="also run evaluate() on the first N test digits")
    parser.add_argument("--skip-goal", action="store_true", help="only the adaptive evaluation (with --adaptive)")
    args = parser.parse_args()
    if args.skip_goal and (not args.adaptive or args.rst):
        parser.error("--skip-goal needs --adaptive N and writes no --rst fragment")
    cache = os.path.join(args.out, "cache")
    os.makedirs(cache, exist_ok=True)
    names = tuple(zoo.DEV if args.split == "dev" else zoo.HELD_OUT)
    models = args.models.split(",") if args.models else list(names)
    x_train, y_train, x_test, y_test = zoo.mnist()
    factor = zoo.scale(args.variant)
    x, y = x_train[:N_TRAIN] * factor, y_train[:N_TRAIN]
    x_test, y_test = x_test[:N_TEST] * factor, y_test[:N_TEST]
    results = {}
    for name in models:
        attacker_name = names[(names.index(name) + 1) % len(names)]
        attacker = zoo.classifier(attacker_name, args.variant, seed=args.seed)
        results[name] = {}
        for config in args.configs.split(","):
            clf, seconds = trained(name, args.variant, config, args.seed, x, y, cache)
            row = {} if args.skip_goal else evaluate(clf, attacker, x_test, y_test, args.seed, factor)
            row.update(attacker=attacker_name, variant=args.variant, train_seconds=seconds)
            if args.adaptive:
                row.update(adaptive(clf, x_test[: args.adaptive], y_test[: args.adaptive], factor))
                print(
                    f"{name:>12} {args.variant} {config:>8}: adaptive on {args.adaptive} digits, "
                    + ", ".join(
                        f"eps {f}: with rejection {row[f'adaptive eps {f} with rejection']:.1f} %, "
                        f"classifier alone {row[f'adaptive eps {f} classifier alone']:.1f} %"
                        for f in ADAPTIVE_EPS_FRACTIONS
                    )
                    + f"; false positives {row['adaptive false positives']:.1f} %",
                    flush=True,
                )
            results[name][config] = row
            if args.skip_goal:
                continue
            print(
                f"{name:>12} {args.variant} {config:>8}: "
                f"filtered {' '.join(f'{100 * v:.2f}' for v in row['filtered'])} "
                f"range {100 * row['range']:.2f}, clean rejected {100 * row['clean_rejected']:.1f} %, "
                f"AUC transfer {row['auc_pgd_transfer']:.3f} white-box {row['auc_pgd_white_box']:.3f}"
                + (f", trained in {seconds:.0f} s" if seconds else ""),
                flush=True,
            )
    tag = f"{args.split}_{args.variant.replace('+', '_')}" + ("_adaptive" if args.skip_goal else "")
    with open(os.path.join(args.out, f"defaults_two_n_{tag}.json"), "w") as f:
        json.dump(results, f, indent=1)
    if args.rst:
        command = f"ART_EXT_DATA_DIR=path/to/data python benchmarks/defaults_two_n.py --out DIR --split {args.split}"
        if args.configs != "default":
            command += f" --configs {args.configs}"
        if args.variant != "logits":
            command += f" --variant {args.variant}"
        with open(args.rst, "w") as f:
            f.write(rst_fragment(results, args.split, command))


if __name__ == "__main__":
    main()
