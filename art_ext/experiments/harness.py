"""The shared harness of the reproductions: seeds, scale presets, a model cache, result files.

A :class:`Run` collects settings, numbers and tables and writes a results folder::

    results.json   every number and setting
    report.md      Markdown tables (the paper's numbers beside ours) and links to plots
    *.png          plots

>>> run = Run("demo", scale="smoke", seed=0)
>>> run.table("Accuracy", ["defence", "clean"], [["none", 0.98]])
>>> run.finish()
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from art_ext.metrics import accuracy  # noqa: F401  (re-exported for the reproductions)
from art_ext.persistence import atomic_write, atomic_write_text
from art_ext.report import markdown_table
from art_ext.utils import jsonable as _jsonable

SCALES = ("smoke", "small", "paper")
CACHE_ENV = "ART_EXT_CACHE"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (via Keras) for a deterministic run."""
    keras.utils.set_random_seed(int(seed))


def default_cache_dir() -> str:
    """``$ART_EXT_CACHE`` or ``~/.cache/art_ext``."""
    return os.environ.get(CACHE_ENV, os.path.join(os.path.expanduser("~"), ".cache", "art_ext"))


class Run:
    """One reproduction run: its settings, results, tables and plots, written to ``out_dir``.

    :param paper: Name of the reproduction (``art-ext reproduce <paper>``).
    :param scale: ``smoke`` (a pipeline check, minutes), ``small`` (tens of minutes to hours on 2 CPU cores) or
        ``paper``.
    :param seed: Seed for NumPy, Python and TensorFlow.
    :param out_dir: Results folder; default ``results/<paper>-<scale>`` under the working directory.
    :param verbose: Print tables as they are added.
    """

    def __init__(
        self, paper: str, scale: str = "small", seed: int = 0, out_dir: str | None = None, verbose: bool = True
    ):
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        self.paper, self.scale, self.seed, self.verbose = paper, scale, int(seed), verbose
        self.out_dir = out_dir or os.path.join("results", f"{paper}-{scale}")
        self.settings: dict[str, Any] = {"paper": paper, "scale": scale, "seed": self.seed}
        self.results: dict[str, Any] = {}
        self._sections: list[str] = []
        self._start = time.time()
        set_seed(self.seed)

    def pick(self, smoke: Any, small: Any, paper: Any) -> Any:
        """The value for this run's scale."""
        return {"smoke": smoke, "small": small, "paper": paper}[self.scale]

    def table(self, title: str, columns: list[str], rows: list[list[Any]], note: str = "") -> str:
        """Add a Markdown table to the report (and to ``results['tables']``); return its text."""
        text = f"## {title}\n\n{markdown_table(columns, rows)}\n" + (f"\n{note}\n" if note else "")
        self._sections.append(text)
        self.results.setdefault("tables", {})[title] = {"columns": columns, "rows": _jsonable(rows)}
        if self.verbose:
            print("\n" + text)
        return text

    def text(self, text: str) -> None:
        """Add a paragraph to the report."""
        self._sections.append(text.strip() + "\n")

    def figure(self, fig, name: str, caption: str = "") -> str:
        """Save a matplotlib figure as ``<name>.png`` and link it in the report; return its path."""
        import matplotlib.pyplot as plt

        os.makedirs(self.out_dir, exist_ok=True)
        path = os.path.join(self.out_dir, f"{name}.png")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        self._sections.append(f"![{caption or name}]({name}.png)\n" + (f"\n{caption}\n" if caption else ""))
        return path

    def finish(self) -> dict[str, Any]:
        """Write ``results.json`` and ``report.md`` atomically; return the results."""
        self.settings["seconds"] = round(time.time() - self._start, 1)
        payload = {"settings": _jsonable(self.settings), "results": _jsonable(self.results)}
        atomic_write_text(os.path.join(self.out_dir, "results.json"), json.dumps(payload, indent=2))
        header = (
            f"# {self.paper} ({self.scale} scale, seed {self.seed})\n\n"
            f"Settings: `{json.dumps(_jsonable(self.settings))}`\n"
        )
        atomic_write_text(os.path.join(self.out_dir, "report.md"), "\n".join([header, *self._sections]))
        if self.verbose:
            print(f"\nwrote {self.out_dir}/results.json and report.md ({self.settings['seconds']} s)")
        return payload


def cache_key(**parts: Any) -> str:
    """A short stable hash of the settings that determine a trained model."""
    return hashlib.sha256(json.dumps(_jsonable(parts), sort_keys=True).encode()).hexdigest()[:16]


def cached_model_path(name: str, key: dict[str, Any], cache_dir: str | None = None) -> str:
    """Where :func:`cached_classifier` keeps the model ``name`` trained with settings ``key``: a ``.keras`` file under
    ``<cache_dir>/models`` (default :func:`default_cache_dir`)."""
    return os.path.join(cache_dir or default_cache_dir(), "models", f"{name}-{cache_key(name=name, **key)}.keras")


def cached_classifier(
    name: str,
    build: Callable[[], keras.Model],
    train: Callable[[keras.Model], None],
    key: dict[str, Any],
    cache_dir: str | None = None,
    use_cache: bool = True,
    **wrap_options,
):
    """Build and train a model once, cache it as ``.keras``, and return it wrapped for ART.

    :param name: Readable name, part of the file name.
    :param build: Returns a fresh, untrained Keras model.
    :param train: Trains the model in place.
    :param key: Everything that determines the trained weights (data, epochs, seed, ...).
    :param cache_dir: Folder of the cache; default :func:`default_cache_dir`.
    :param use_cache: ``False`` always trains (and does not write the cache).
    :param wrap_options: Passed to :func:`art_ext.estimators.wrap`.
    :return: An ART ``TensorFlowV2Classifier``.
    """
    from art_ext.estimators import wrap

    path = cached_model_path(name, key, cache_dir)
    if use_cache and os.path.isfile(path):
        model = keras.models.load_model(path, compile=False)
    else:
        model = build()
        train(model)
        if use_cache:
            atomic_write(path, model.save, suffix=".keras")
    return wrap(model, **wrap_options)


def copy_model(model: keras.Model) -> keras.Model:
    """A new Keras model of ``model``'s architecture with a copy of its weights (to fine-tune without touching it)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def train_model(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int = 128,
    optimizer: keras.optimizers.Optimizer | None = None,
    verbose: bool = False,
) -> keras.Model:
    """Train a logits model with sparse cross-entropy through its ART wrapper (cached train step)."""
    from art_ext.estimators import wrap

    classifier = wrap(model, optimizer=optimizer)
    classifier.fit(x, y, batch_size=batch_size, nb_epochs=epochs, verbose=verbose)
    return model
