"""UDDN with its defaults on zoo models it was not tuned on (issue 19's goal).

For each target model: ``UDDN(classifier=target, seed=SEED).fit(x_train[:10000], nb_epochs=5)`` -- every other
argument the default -- then the target's accuracy on the first ``--n`` MNIST test digits: clean, white-box FGSM
(L-inf 0.3 of the input range, made with ART's ``FastGradientMethod`` on the undefended target) and black-box FGSM
(the same, made on another model of the same list), each without and behind the denoiser. Every row is run at the
two input scales, ``clip_values=(0, 1)`` (zoo variant ``logits``) and ``(0, 255)`` (variant ``scale255``).

Goals: clean drop <= 1 point, white-box >= 90%, black-box >= 95%, at both scales.

``ART_EXT_DATA_DIR=path/to/data python benchmarks/defaults_uddn.py --out DIR [--models held_out|dev] [--n 1000]``
writes ``DIR/defaults_uddn.json`` and ``DIR/defaults_uddn.rst`` (the table). Denoisers are cached in ``DIR``.
Choose defaults with ``--models dev``; report with ``--models held_out`` (the default).

FGSM made on the undefended target is the goal's (the paper's) test, not a robustness evaluation. ``--adaptive N``
also attacks the defended target itself -- ART's classifier with the denoiser as its ``preprocessing_defences``,
differentiated end to end -- with :func:`art_ext.evaluation.evaluate` (APGD-CE, APGD-T and Square, the ``quick``
preset, L-inf 0.3 and 0.1 of the range) on the first N test digits, and reports that robust accuracy beside the
undefended target's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from art.attacks.evasion import FastGradientMethod

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo  # noqa: E402

from art_ext.defences.preprocessor import UDDN  # noqa: E402

#: The goal's training budget: clean training digits and epochs.
N_TRAIN, EPOCHS = 10_000, 5
#: FGSM budget of the test sets, as a fraction of the input range (0.3 on [0, 1], as in the goal).
EPS_FRACTION = 0.3
#: Budgets of the adaptive evaluation (``--adaptive``), as fractions of the input range: the goal's, and a third.
ADAPTIVE_EPS_FRACTIONS = (0.3, 0.1)
#: Seed of the denoiser (initialisation, perturbation levels, shuffling).
SEED = 0
#: The two input scales: zoo variant -> label.
VARIANTS = {"logits": "(0, 1)", "scale255": "(0, 255)"}


def accuracy(classifier, x: np.ndarray, y: np.ndarray, uddn: UDDN | None = None) -> float:
    """Accuracy (%) of ``classifier`` (through ART's ``predict``, i.e. its own preprocessing) behind ``uddn``."""
    if uddn is not None:
        x = np.concatenate([uddn(x[i : i + 500])[0] for i in range(0, len(x), 500)])
    return 100.0 * float(np.mean(np.argmax(classifier.predict(x, batch_size=500), axis=1) == y))


def fgsm(classifier, x: np.ndarray, scale: float) -> np.ndarray:
    return FastGradientMethod(classifier, eps=EPS_FRACTION * scale, batch_size=500).generate(x)


def run_one(name: str, other: str, variant: str, args, data) -> dict:
    x_train, _, x_test, y_test = data
    scale = zoo.scale(variant)
    target, source = zoo.classifier(name, variant), zoo.classifier(other, variant)
    x_fit, x_eval, y_eval = x_train[:N_TRAIN] * scale, x_test[: args.n] * scale, y_test[: args.n]
    options = json.loads(args.options)
    tag = "".join(f"-{k}={v}" for k, v in sorted(options.items())).replace(" ", "")
    path = os.path.join(args.out, f"uddn-{name}-{variant}-s{SEED}{tag}.keras")
    start = time.perf_counter()
    if os.path.isfile(path):
        uddn, fit_seconds = UDDN.load(path, classifier=target), None
    else:
        uddn = UDDN(classifier=target, seed=SEED, **options).fit(x_fit, nb_epochs=EPOCHS)
        fit_seconds = time.perf_counter() - start
        uddn.save(path)
    sets = {"clean": x_eval, "white FGSM": fgsm(target, x_eval, scale), "black FGSM": fgsm(source, x_eval, scale)}
    row = {"target": name, "black-box source": other, "clip_values": VARIANTS[variant], "fit_seconds": fit_seconds}
    row["options"] = options
    for key, x in sets.items():
        row[f"{key} undefended"] = accuracy(target, x, y_eval)
        row[f"{key} UDDN"] = accuracy(target, x, y_eval, uddn)
    row["clean drop"] = row["clean undefended"] - row["clean UDDN"]
    row["goals met"] = row["clean drop"] <= 1.0 and row["white FGSM UDDN"] >= 90.0 and row["black FGSM UDDN"] >= 95.0
    if args.adaptive:
        row.update(adaptive(target, uddn, x_eval[: args.adaptive], y_eval[: args.adaptive], scale))
    print(json.dumps(row), flush=True)
    return row


def adaptive(target, uddn: UDDN, x: np.ndarray, y: np.ndarray, scale: float) -> dict:
    """Robust accuracy (%) under :func:`art_ext.evaluation.evaluate` of the target alone and behind the denoiser."""
    from art.estimators.classification import TensorFlowV2Classifier

    from art_ext.estimators.classification import options_like, outputs_logits
    from art_ext.evaluation import evaluate

    defended = TensorFlowV2Classifier(
        **options_like(target, target.model, from_logits=outputs_logits(target), preprocessing_defences=[uddn])
    )
    row = {"adaptive n": len(x)}
    for key, classifier in (("undefended", target), ("UDDN", defended)):
        start = time.perf_counter()
        budgets = [fraction * scale for fraction in ADAPTIVE_EPS_FRACTIONS]
        report = evaluate(classifier, x, y, eps=budgets, preset="quick", verbose=False)
        for fraction, budget in zip(ADAPTIVE_EPS_FRACTIONS, budgets):
            row[f"adaptive {key} eps {fraction}"] = 100.0 * report.robust_accuracy_by_eps[budget]
        row[f"adaptive {key} seconds"] = time.perf_counter() - start
    return row


def write_rst(rows: list[dict], args, path: str) -> None:
    header = ["target", "clip_values", "clean", "clean drop", "white FGSM", "black FGSM (source)", "goals"]
    lines = [
        "UDDN defaults on held-out models" if args.models == "held_out" else "UDDN defaults on dev models",
        "-" * 40,
        "",
        ".. csv-table:: Accuracy (%) of the target without -> behind the denoiser; FGSM L-inf 0.3 of the range",
        "   :header-rows: 1",
        "",
        "   " + ", ".join(f'"{h}"' for h in header),
    ]
    for r in rows:
        cells = [
            r["target"],
            r["clip_values"],
            f"{r['clean undefended']:.1f} -> {r['clean UDDN']:.1f}",
            f"{r['clean drop']:.2f}",
            f"{r['white FGSM undefended']:.1f} -> {r['white FGSM UDDN']:.1f}",
            f"{r['black FGSM undefended']:.1f} -> {r['black FGSM UDDN']:.1f} ({r['black-box source']})",
            "met" if r["goals met"] else "missed",
        ]
        lines.append("   " + ", ".join(f'"{c}"' for c in cells))
    lines += [
        "",
        f"``UDDN(classifier=target, seed={SEED}).fit(x_train[:{N_TRAIN}], nb_epochs={EPOCHS})``, all else default; "
        f"first {args.n} MNIST test digits. Goals: clean drop <= 1 point, white-box >= 90%, black-box >= 95%. "
        "Command::",
        "",
        f"    ART_EXT_DATA_DIR=path/to/data python benchmarks/defaults_uddn.py --models {args.models} --n {args.n} "
        "--out DIR",
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the results and the cached denoisers")
    parser.add_argument("--models", choices=("held_out", "dev"), default="held_out")
    parser.add_argument("--n", type=int, default=1000, help="test digits")
    parser.add_argument("--only", nargs="*", default=None, help="run only these targets (default: all)")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--adaptive", type=int, default=0, help="also run evaluate() on the first N digits")
    parser.add_argument(
        "--options", default="{}", help="JSON of UDDN constructor arguments (for choosing defaults on dev models only)"
    )
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = list(zoo.HELD_OUT if args.models == "held_out" else zoo.DEV)
    data = zoo.mnist()
    rows = []
    for i, name in enumerate(names):
        if args.only and name not in args.only:
            continue
        other = names[(i + 1) % len(names)]  # the black-box source: the next model of the same list
        for variant in args.variants:
            rows.append(run_one(name, other, variant, args, data))
    with open(os.path.join(args.out, "defaults_uddn.json"), "w") as f:
        json.dump(rows, f, indent=1)
    write_rst(rows, args, os.path.join(args.out, "defaults_uddn.rst"))


if __name__ == "__main__":
    main()
