import json

import numpy as np
import pytest

from art_ext.experiments.harness import Run, cache_key, cached_classifier, markdown_table
from art_ext.models import get_model


def test_run_writes_json_report_and_plots(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = Run("unit", scale="smoke", seed=3, out_dir=str(tmp_path), verbose=False)
    assert run.pick(1, 2, 3) == 1
    run.settings["n"] = np.int64(5)
    run.results["acc"] = np.float32(0.5)
    run.table("Accuracy", ["method", "ours", "paper"], [["x", 0.91234, 0.9]])
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    run.figure(fig, "curve", caption="a line")
    run.finish()
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["settings"]["seed"] == 3 and payload["settings"]["n"] == 5
    assert payload["results"]["acc"] == 0.5
    assert payload["results"]["tables"]["Accuracy"]["rows"] == [["x", 0.91234, 0.9]]
    report = (tmp_path / "report.md").read_text()
    assert "| x | 0.9123 | 0.9 |" in report and "![a line](curve.png)" in report
    assert (tmp_path / "curve.png").stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_run_rejects_unknown_scale():
    with pytest.raises(ValueError, match="scale"):
        Run("unit", scale="huge")


def test_markdown_table():
    assert markdown_table(["a", "b"], [[1, None]]) == "| a | b |\n|---|---|\n| 1 |  |"


def test_cached_classifier_trains_once(tmp_path):
    calls = []

    def build():
        return get_model("simple_mlp", (28, 28, 1), 10, units=(4,))

    def train(model):
        calls.append(1)

    key = {"data": "none", "epochs": 0}
    first = cached_classifier("mlp", build, train, key, cache_dir=str(tmp_path))
    second = cached_classifier("mlp", build, train, key, cache_dir=str(tmp_path))
    assert len(calls) == 1
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(first.predict(x), second.predict(x), rtol=1e-5)
    assert cache_key(a=1) != cache_key(a=2)
    cached_classifier("mlp", build, train, key, cache_dir=str(tmp_path), use_cache=False)
    assert len(calls) == 2
