"""The EDC reproduction's CIFAR-10 study (Tables 6-7 with the reference models) at smoke scale, on random images."""

import json

import pytest

from art_ext.experiments import data_correction as dc


def test_cifar_smoke_run_reports_tables_6_7_and_caches_the_corrections(random_cifar, monkeypatch):
    from art_ext.cli import main

    out = random_cifar / "out"
    argv = ["reproduce", "data-correction", "--scale", "smoke", "--dataset", "cifar10", "--out", str(out)]
    assert main(argv) == 0
    payload = json.loads((out / "results.json").read_text())
    summary = payload["results"]["cifar10"]
    assert set(dc.CIFAR_UNKNOWN) <= set(summary)
    rows = {label: summary[label] for label in summary if label.startswith(("paper's", "default", "margin"))}
    assert len(rows) == 3 and set(summary["goal_met"]) == set(rows)
    assert all(isinstance(met, bool) for met in summary["goal_met"].values())
    for record in rows.values():
        assert 0 <= record["generating_count"] <= payload["settings"]["cifar10"]["n_test"]
        assert 0.0 <= record["local_success"] <= 1.0 and record["l2_mean"] >= 0.0
    for name in dc.CIFAR_UNKNOWN:
        assert set(summary[name]) == {"original", *rows}
    report = (out / "report.md").read_text()
    assert "the paper beside ours" in report and "80.5% -> 100.0%" in report  # the paper's Du1 next to ours
    assert (out / "cifar10_grid.png").is_file()
    assert len(list((random_cifar / "cache" / "corrections").iterdir())) == 3

    # a rerun scores the cached corrections: the attack does not run again, the numbers are the same
    def refuse(*args, **kwargs):
        raise AssertionError("the correction ran again instead of coming from the cache")

    monkeypatch.setattr(dc, "_correct", refuse)
    assert main(argv) == 0
    assert json.loads((out / "results.json").read_text())["results"]["cifar10"] == summary


def test_cifar_small_scale_names_the_command_that_trains_missing_reference_models(random_cifar):
    with pytest.raises(
        FileNotFoundError, match="not trained yet; train them with: .*art-ext reproduce cifar-models --dataset cifar10"
    ):
        dc.run(scale="small", dataset="cifar10", out_dir=str(random_cifar / "out"), verbose=False)


def test_run_refuses_an_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="dataset must be one of"):
        dc.run(scale="smoke", dataset="svhn", out_dir=str(tmp_path), verbose=False)
