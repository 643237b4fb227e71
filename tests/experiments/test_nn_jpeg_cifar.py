"""The NN-JPEG reproduction's CIFAR-10 path (the reference ResNet-20 defended) at smoke scale, on random images."""

import json

import numpy as np
import pytest

from art_ext.experiments import nn_jpeg


@pytest.mark.slow
def test_cifar_smoke_run_compares_every_nn_defence_with_standard_jpeg(random_cifar):
    from art_ext.cli import main

    out = random_cifar / "out"
    assert main(["reproduce", "nn-jpeg", "--scale", "smoke", "--dataset", "cifar10", "--out", str(out)]) == 0
    payload = json.loads((out / "results.json").read_text())
    assert set(payload["settings"]) >= {"cifar10"} and "mnist" not in payload["settings"]
    paired = payload["results"]["cifar10"]["paired"]
    assert isinstance(paired["vote_beats_standard_on_transfer"], bool)
    for label in nn_jpeg._COMPARED:
        assert set(paired[label]) == {"clean", "FGSM", "PGD"}
        for cell in paired[label].values():
            assert cell["low"] <= cell["difference"] <= cell["high"]
    assert "paired 95 % intervals" in (out / "report.md").read_text()


def test_paired_comparison_resolves_a_clear_win_and_not_a_tie():
    from art_ext.experiments.harness import Run

    n = 400
    base = np.zeros(n, bool)
    base[:100] = True  # the baseline is right on 25 % of the images
    better = base.copy()
    better[100:180] = True  # a defence right on 80 more images
    hits = {"standard": {"clean": ~base | base, "PGD": base}}
    for label in nn_jpeg._COMPARED:
        hits[label] = {"clean": ~base | base, "PGD": better}
    run = Run("nn-jpeg", scale="smoke", out_dir="unused", verbose=False)
    run.results["x"] = {}
    nn_jpeg._paired_comparison(run, "x", hits, baseline="standard")
    vote = run.results["x"]["paired"][nn_jpeg._COMPARED[-1]]
    assert vote["PGD"]["difference"] == pytest.approx(0.2) and vote["PGD"]["low"] > 0
    assert run.results["x"]["paired"]["vote_beats_standard_on_transfer"] is True
    hits[nn_jpeg._COMPARED[-1]]["PGD"] = base  # a tie is not a win
    run.results["x"] = {}
    nn_jpeg._paired_comparison(run, "x", hits, baseline="standard")
    assert run.results["x"]["paired"]["vote_beats_standard_on_transfer"] is False


def test_cifar_run_names_the_training_command_before_any_work(random_cifar):
    with pytest.raises(
        FileNotFoundError, match="resnet20 .* not trained yet; train them with: .*art-ext reproduce cifar-models"
    ):
        nn_jpeg.run(scale="small", dataset="cifar10", out_dir=str(random_cifar / "out"), verbose=False)
    assert not (random_cifar / "out").exists()


def test_run_refuses_an_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="dataset must be one of"):
        nn_jpeg.run(scale="smoke", dataset="svhn", out_dir=str(tmp_path), verbose=False)
