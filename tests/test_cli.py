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
