"""The 2N-labeling reproduction's CIFAR-10 path below paper scale (reference models, fine-tuned defences)."""

import json

import numpy as np
import pytest

from art_ext.experiments import two_n_labeling


@pytest.mark.slow
def test_cifar_smoke_run_reports_every_method_over_the_paper_eps_grid(random_cifar):
    from art_ext.cli import main

    out = random_cifar / "out"
    assert main(["reproduce", "two-n-labeling", "--scale", "smoke", "--dataset", "cifar10", "--out", str(out)]) == 0
    payload = json.loads((out / "results.json").read_text())
    assert payload["settings"]["data"] == "cifar10" and payload["settings"]["eps_pgd"] == pytest.approx(8 / 255)
    methods = {"2N", "NULL", "BIN+ADV", "BIN+DISTILL", "BIN+none"}
    assert set(payload["results"]["evaluate"]) == methods
    for eps in two_n_labeling.EPS_GRID:
        assert set(payload["results"]["curves"][str(eps)]) == methods
    for row in payload["results"]["sensitivity"].values():  # a number, or empty where everything was rejected
        assert all(v is None or np.isfinite(v) for v in row.values())


def test_cifar_run_names_the_training_command_before_any_work(random_cifar):
    with pytest.raises(FileNotFoundError, match="not trained yet; train them with: .*art-ext reproduce cifar-models"):
        two_n_labeling.run(scale="small", dataset="cifar10", out_dir=str(random_cifar / "out"), verbose=False)
    assert not (random_cifar / "out").exists()


def test_run_refuses_an_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="dataset must be one of"):
        two_n_labeling.run(scale="smoke", dataset="svhn", out_dir=str(tmp_path), verbose=False)
