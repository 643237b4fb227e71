"""Reproductions of the papers' tables, one module per paper, on a shared harness.

Each reproduction module defines ``run(scale="small", seed=0, out_dir=None) -> dict`` and is
listed in :data:`REPRODUCTIONS` under the name ``art-ext reproduce <name>`` uses.
"""

from art_ext.experiments.harness import SCALES, Run, accuracy, cached_classifier, set_seed, train_model

#: ``art-ext reproduce`` names -> module paths (imported on demand).
REPRODUCTIONS: dict[str, str] = {
    "demo": "art_ext.experiments.demo",
    "two-n-labeling": "art_ext.experiments.two_n_labeling",
    "nn-jpeg": "art_ext.experiments.nn_jpeg",
    "uddn": "art_ext.experiments.uddn",
    "learning-to-confuse": "art_ext.experiments.learning_to_confuse",
    "data-correction": "art_ext.experiments.data_correction",
    "cifar-models": "art_ext.experiments.cifar_models",
}

__all__ = ["REPRODUCTIONS", "SCALES", "Run", "accuracy", "cached_classifier", "set_seed", "train_model"]
