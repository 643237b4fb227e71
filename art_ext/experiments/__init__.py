"""Reproductions of the papers' tables, one module per paper, on a shared harness.

Each reproduction module defines ``run(scale="small", seed=0, out_dir=None) -> dict`` and is
listed in :data:`REPRODUCTIONS` under the name ``art-ext reproduce <name>`` uses.
"""
from art_ext.experiments.harness import SCALES, Run, accuracy, cached_classifier, set_seed, train_model

#: ``art-ext reproduce`` names -> module paths (imported on demand).
REPRODUCTIONS: dict[str, str] = {
    "demo": "art_ext.experiments.demo",
    "data-correction": "art_ext.experiments.data_correction",
}

__all__ = ["REPRODUCTIONS", "SCALES", "Run", "accuracy", "cached_classifier", "set_seed", "train_model"]
