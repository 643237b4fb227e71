"""EnsembleDataCorrection's defaults on models it has not seen: zoo models, full MNIST, public API.

Three local models correct 1,000 test inputs (``EnsembleDataCorrection(local).generate(x, y)``) and unknown
models classify the corrected inputs: on the held-out half, two models of another family (one architecture at
two training seeds, not among the local families); on the DEV half, the local architectures trained again at
another seed (the paper's Du1/Du2 design). Reported per setting: how many inputs needed correcting, the local success,
each unknown model's accuracy before -> after, and the mean / max L2 of the changed inputs in [0, 1] units.

* ``--half dev``: the split of :data:`zoo.DEV` the defaults were chosen on (test inputs 1,000-1,999);
* ``--half held-out``: the split of :data:`zoo.HELD_OUT` the goals are reported on (test inputs 0-999).

Each split runs with logits local models in [0, 1] and with softmax local models at ``clip_values=(0, 255)``
(``--variants``). ``--sweep`` adds the settings the defaults were compared with, otherwise only the public
defaults run.

    ART_EXT_DATA_DIR=path/to/data python benchmarks/defaults_edc.py --out DIR [--half dev|held-out] [--sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import zoo  # noqa: E402

from art_ext.attacks.evasion import EnsembleDataCorrection  # noqa: E402

#: (local models, unknown models) per half; a model is (architecture, training seed).
SPLITS = {
    "dev": [
        (
            (("mlp", 0), ("plain_cnn", 0), ("strided_wide_cnn", 0)),
            (("mlp", 1), ("plain_cnn", 1), ("strided_wide_cnn", 1)),
        ),
    ],
    "held-out": [
        ((("lenet_tanh", 0), ("bn_cnn", 0), ("resnet_small", 0)), (("separable_gap", 0), ("separable_gap", 1))),
        # added after the first split's run: its unknown family reaches only 77-80% clean accuracy
        ((("lenet_tanh", 0), ("resnet_small", 0), ("separable_gap", 0)), (("bn_cnn", 0), ("bn_cnn", 1))),
    ],
}
#: Test inputs each half corrects (the defaults are chosen on other inputs than they are reported on).
INPUTS = {"dev": slice(1000, 2000), "held-out": slice(0, 1000)}
#: The settings the defaults were chosen from (``--sweep``): margin form and margin.
SWEEP = [{"confidence_units": "logit", "confidence": c} for c in (0.0, 2.0, 5.0, 10.0)] + [
    {"confidence_units": "spread", "confidence": c} for c in (0.5, 1.0, 1.5, 2.0)
]


def run_setting(local, unknown, x, y, factor, params) -> dict:
    """Correct ``x`` (in [0, 1]; scaled by ``factor`` for the models) with ``params``; score it."""
    attack = EnsembleDataCorrection(local, verbose=False, **params)
    start = time.perf_counter()
    x_c = attack.generate(x * factor, y)
    seconds = time.perf_counter() - start
    changed = attack.changed_
    l2 = attack.l2_[changed] / factor
    accuracy = {}
    for name, clf in unknown.items():
        before = float(np.mean(clf.predict(x * factor, batch_size=500).argmax(1) == y))
        after = float(np.mean(clf.predict(x_c, batch_size=500).argmax(1) == y))
        accuracy[name] = (before, after)
    return {
        "params": params,
        "generating_count": attack.generating_count_,
        "local_success": float(changed.sum() / attack.generating_count_) if attack.generating_count_ else 1.0,
        "changed": int(changed.sum()),
        "mean_l2": float(l2.mean()) if l2.size else 0.0,
        "max_l2": float(l2.max()) if l2.size else 0.0,
        "unknown": accuracy,
        "worst_unknown_after": min(a for _, a in accuracy.values()),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for results.json and table.md")
    parser.add_argument("--half", choices=sorted(SPLITS), default="held-out")
    parser.add_argument("--variants", nargs="+", default=["logits", "softmax+scale255"])
    parser.add_argument("--sweep", action="store_true", help="also run the settings the defaults were chosen from")
    parser.add_argument("--n", type=int, default=1000, help="test inputs (from the half's slice)")
    parser.add_argument("--splits", type=int, nargs="+", default=None, help="indices into the half's splits")
    args = parser.parse_args()

    _, _, x_test, y_test = zoo.mnist()
    x, y = x_test[INPUTS[args.half]][: args.n], y_test[INPUTS[args.half]][: args.n]
    settings = [{}] + (SWEEP if args.sweep else [])
    rows = []
    splits = SPLITS[args.half]
    for local_names, unknown_names in [splits[i] for i in args.splits] if args.splits else splits:
        for variant in args.variants:
            local = [zoo.classifier(name, variant, seed) for name, seed in local_names]
            unknown = {f"{name}_s{seed}": zoo.classifier(name, variant, seed) for name, seed in unknown_names}
            for params in settings:
                row = run_setting(local, unknown, x, y, zoo.scale(variant), params)
                row.update(local=[f"{n}_s{s}" for n, s in local_names], variant=variant)
                rows.append(row)
                print(_line(row), flush=True)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"half": args.half, "n": len(x), "rows": rows}, f, indent=1)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(_HEADER + "\n".join(_line(r) for r in rows) + "\n")
    print(f"wrote {args.out}/results.json and table.md")


_HEADER = (
    "| local models | variant | setting | needed | local success | changed | mean L2 | max L2 | "
    "unknown before -> after | s |\n|---|---|---|---|---|---|---|---|---|---|\n"
)


def _line(row: dict) -> str:
    setting = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "defaults"
    unknown = "; ".join(f"{k} {a:.2%} -> {b:.2%}" for k, (a, b) in row["unknown"].items())
    return (
        f"| {', '.join(row['local'])} | {row['variant']} | {setting} | {row['generating_count']} | "
        f"{row['local_success']:.1%} | {row['changed']} | {row['mean_l2']:.3f} | {row['max_l2']:.3f} | {unknown} | "
        f"{row['seconds']:.0f} |"
    )


if __name__ == "__main__":
    main()
