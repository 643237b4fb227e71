import json

import pytest

from art_ext.cli import build_parser, main


def test_demo_runs_at_smoke_scale(tmp_path, capsys):
    assert main(["demo", "--scale", "smoke", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PGD through the defence" in out
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    undefended = results["accuracy"]["none"]
    assert undefended["clean"] > 0.6  # a real classifier on real digits
    assert undefended["FGSM (made on undefended)"] < undefended["clean"]
    assert results["max_linf"]["FGSM"] <= 0.2 + 1e-6


def test_data_command_lists_sources(capsys):
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "embedded" in out and "cifar10" in out


def test_parser_rejects_unknown_paper():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "no-such-paper"])


def test_dataset_option_is_refused_by_reproductions_without_it(tmp_path):
    with pytest.raises(SystemExit, match="--dataset is not an option"):
        main(["reproduce", "nn-jpeg", "--scale", "smoke", "--dataset", "mnist", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "uddn", "--dataset", "imagenet"])


def test_uddn_reproduction_has_models_for_every_dataset_and_scale():
    from art_ext.experiments import uddn
    from art_ext.experiments.harness import SCALES

    assert {(d, s) for d in uddn.DATASETS for s in SCALES} <= set(uddn._MODELS)
    with pytest.raises(ValueError, match="dataset must be one of"):
        uddn.run(scale="smoke", dataset="imagenet")
