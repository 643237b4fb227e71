"""The result of :func:`~art_ext.evaluation.evaluate`: headline numbers, flags, per-input records, files."""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

from art_ext.persistence import atomic_write, atomic_write_text
from art_ext.report import markdown_table
from art_ext.utils import jsonable as _jsonable


class Report:
    """What :func:`~art_ext.evaluation.evaluate` found.

    :ivar clean_accuracy: Accuracy on the clean inputs, in ``[0, 1]``.
    :ivar robust_accuracy: Accuracy at the headline budget (the first ``eps``), worst case over every attack per
        input, in ``[0, 1]``.
    :ivar robust_accuracy_by_eps: ``{eps: robust accuracy}`` for every budget evaluated.
    :ivar flags: Every failed sanity check, in words (empty when all pass).
    :ivar per_sample: One record (dict) per input: label, clean prediction, and per budget ``@eps``: robust or
        not, the adversarial prediction, which attack broke it first, the perturbation's L-inf and L2 norms, each
        attack's outcome (``misclassified`` / ``held`` / ``not run`` because an earlier attack had already broken
        it), and with a detector whether it was flagged.
    :ivar per_eps: Per budget: robust accuracy, how many inputs each attack broke first, black-box extras.
    :ivar large_eps: The large-budget sanity attack: its ``eps``, the accuracy it left and on how many inputs.
    :ivar detector: With a detector: false-positive rate, accuracy with rejection per budget, and Tramèr's
        comparison (the classifier alone at half the budget); else ``None``.
    :ivar settings: Preset, attack settings, budgets, norm, probes (gradient, randomness), BPDA/EOT use, run time.
    """

    def __init__(
        self,
        clean_accuracy: float,
        per_eps: list[dict[str, Any]],
        large_eps: dict[str, Any],
        flags: list[str],
        per_sample: list[dict[str, Any]],
        settings: dict[str, Any],
        detector: dict[str, Any] | None = None,
    ):
        self.clean_accuracy = float(clean_accuracy)
        self.per_eps = per_eps
        self.robust_accuracy_by_eps = {s["eps"]: s["robust_accuracy"] for s in per_eps}
        self.robust_accuracy = float(per_eps[0]["robust_accuracy"])
        self.large_eps, self.flags, self.per_sample, self.settings = large_eps, flags, per_sample, settings
        self.detector = detector
        if detector is not None:
            detector["accuracy_with_rejection_by_eps"] = {s["eps"]: s["accuracy_with_rejection"] for s in per_eps}

    def __repr__(self) -> str:
        return (
            f"Report(clean_accuracy={self.clean_accuracy:.4f}, robust_accuracy={self.robust_accuracy:.4f} "
            f"at eps {self.per_eps[0]['eps']:g}, flags={len(self.flags)})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything but the per-input records, as JSON-ready data."""
        return _jsonable(
            {
                "clean_accuracy": self.clean_accuracy,
                "robust_accuracy": self.robust_accuracy,
                "robust_accuracy_by_eps": self.robust_accuracy_by_eps,
                "flags": self.flags,
                "per_eps": self.per_eps,
                "large_eps": self.large_eps,
                "detector": self.detector,
                "settings": self.settings,
            }
        )

    def to_markdown(self) -> str:
        """The report as Markdown: headline, flags, what each attack contributed, probes and settings."""
        s = self.settings
        columns = ["eps", "robust accuracy"] + (["accuracy with rejection"] if self.detector else [])
        rows = [
            [f"{e['eps']:g}", f"{100 * e['robust_accuracy']:.1f}%"]
            + ([f"{100 * e['accuracy_with_rejection']:.1f}%"] if self.detector else [])
            for e in self.per_eps
        ]
        lines = [
            f"# Robustness evaluation ({s['preset']} preset, L-{s['norm']}, {s['n']} inputs)",
            "",
            f"Clean accuracy: **{100 * self.clean_accuracy:.1f}%**. Robust accuracy (worst case over every "
            "attack, per input):",
            "",
            markdown_table(columns, rows),
        ]
        lines += ["", "## Flags", ""]
        lines += [f"- {flag}" for flag in self.flags] or ["None: every sanity check passed."]
        names = s["attack_names"]
        broken = [[f"{e['eps']:g}", *(e["broken_by"].get(n, 0) for n in names)] for e in self.per_eps]
        lines += ["", "## Inputs each attack broke first", "", markdown_table(["eps", *names], broken)]
        lines += [
            "",
            "Attacks run in this order, each only on the inputs still robust; the black-box Square attack "
            "comes last, so what it breaks is what every white-box attack missed.",
            "",
            f"Large-budget check: eps {self.large_eps['eps']:g} (any input reachable) left "
            f"{100 * self.large_eps['accuracy']:.1f}% of {self.large_eps['n']} inputs correct (should be ~0%).",
        ]
        if self.detector:
            d = self.detector
            t = d["tramer"]
            lines += [
                "",
                "## Detector",
                "",
                f"False-positive rate on the clean inputs: {100 * d['false_positive_rate']:.1f}%; clean "
                f"accuracy with rejection (correct and not flagged): {100 * d['clean_accuracy_with_rejection']:.1f}%.",
                "",
                "Accuracy with rejection counts an attacked input as defended when it is still correct or "
                "flagged, in the worst case over the classifier attacks, the joint attack (misclassify AND "
                "evade the detector, by gradient) and the joint Square attack (the same goal from forward passes "
                "only).",
                "",
                f"Tramèr (2022): a detector with accuracy {100 * t['accuracy_with_rejection']:.1f}% at eps "
                f"{t['eps']:g} implies a (possibly inefficient) classifier with that robust accuracy at eps "
                f"{t['classifier_eps']:g}. This classifier alone reaches "
                f"{100 * t['classifier_robust_accuracy']:.1f}% at eps {t['classifier_eps']:g}; a detection "
                "claim far above the best known robust classifiers at half the budget deserves suspicion.",
            ]
        probe = s["probe"]
        lines += [
            "",
            "## How it was attacked",
            "",
            f"- gradient probe: {probe['gradient']}"
            + (f"; through BPDA: {probe['gradient_bpda']}" if "gradient_bpda" in probe else ""),
            f"- BPDA: {s['bpda']} (no: exact gradients only; also: exact and BPDA; only: BPDA in place of the "
            "defences)",
            f"- randomised: {probe['randomised']} (EOT samples: {s['eot_samples']})",
            f"- probability outputs: {probe['probability_outputs']} (attacked through their log)",
            f"- attacks: {', '.join(names)}; settings `{json.dumps(_jsonable(s['attacks']))}`",
            f"- clip values {s['clip_values']}: eps is in these units",
            f"- seed {s['seed']}, {s.get('seconds', '?')} s",
            "",
            "Per-input records: per_sample.csv (one row per input; `robust@eps`, `broken_by@eps`, "
            "`linf@eps`, `l2@eps` and one column per attack).",
        ]
        return "\n".join(lines) + "\n"

    def figure(self):
        """A matplotlib figure of accuracy against eps (clean at eps 0, the budgets, the large-budget check)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        points = [(0.0, self.clean_accuracy)] + sorted(self.robust_accuracy_by_eps.items())
        fig, ax = plt.subplots(figsize=(5.0, 3.4))
        ax.plot([p[0] for p in points], [100 * p[1] for p in points], "o-", label="robust accuracy")
        if self.detector:
            rej = [(0.0, self.detector["clean_accuracy_with_rejection"])] + sorted(
                self.detector["accuracy_with_rejection_by_eps"].items()
            )
            ax.plot([p[0] for p in rej], [100 * p[1] for p in rej], "s--", label="accuracy with rejection")
        ax.set(
            xlabel=f"eps (L-{self.settings['norm']}, clip_values units)",
            ylabel="accuracy (%)",
            ylim=(-2, 102),
            title=f"evaluate ({self.settings['preset']}), {self.settings['n']} inputs",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    def save(self, directory: str) -> dict[str, str]:
        """Write ``report.json``, ``per_sample.csv``, ``report.md`` and ``accuracy_vs_eps.png`` (each atomically).

        :param directory: Destination folder (created if missing).
        :return: ``{kind: path}`` of the files written.
        """
        import matplotlib.pyplot as plt

        os.makedirs(directory, exist_ok=True)
        paths = {
            k: os.path.join(directory, name)
            for k, name in (
                ("json", "report.json"),
                ("csv", "per_sample.csv"),
                ("md", "report.md"),
                ("png", "accuracy_vs_eps.png"),
            )
        }
        atomic_write_text(paths["json"], json.dumps(self.to_dict(), indent=2))
        columns = list(dict.fromkeys(key for rec in self.per_sample for key in rec))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.per_sample)
        atomic_write_text(paths["csv"], buffer.getvalue())
        atomic_write_text(paths["md"], self.to_markdown())
        fig = self.figure()
        try:
            atomic_write(paths["png"], lambda tmp: fig.savefig(tmp, dpi=110, format="png"), suffix=".png")
        finally:
            plt.close(fig)
        return paths
