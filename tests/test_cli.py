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


def _user_error(argv, capsys) -> str:
    """Run the command, check it ends as a user error (status 2, one stderr line, no traceback); return the line."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("art-ext: error: ") and "Traceback" not in err
    return err


def test_dataset_option_is_refused_by_reproductions_without_it(tmp_path, capsys):
    assert "--dataset is not an option" in _user_error(
        ["reproduce", "nn-jpeg", "--scale", "smoke", "--dataset", "mnist", "--out", str(tmp_path)], capsys)
    assert "invalid choice" in _user_error(["reproduce", "uddn", "--dataset", "imagenet"], capsys)


@pytest.mark.parametrize("seed", ["-1", str(2 ** 32), "1.5", "x"])
def test_bad_seed_is_a_one_line_user_error(seed, tmp_path, capsys):
    assert "--seed" in _user_error(["demo", "--scale", "smoke", "--seed", seed, "--out", str(tmp_path)], capsys)


def test_unwritable_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    import art_ext.experiments.demo as demo

    monkeypatch.setattr(demo, "run", lambda **kwargs: pytest.fail("the demo ran before --out was checked"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert "is a file" in _user_error(["demo", "--scale", "smoke", "--out", str(blocker)], capsys)
    assert "inside the file" in _user_error(["demo", "--scale", "smoke", "--out", str(blocker / "sub")], capsys)
    assert "cannot write" in _user_error(["demo", "--scale", "smoke", "--out", "/proc/art-ext-results"], capsys)
    assert not (tmp_path / "sub").exists()


def test_missing_data_dir_is_a_one_line_user_error(tmp_path, capsys, monkeypatch):
    import art_ext.experiments.demo as demo

    monkeypatch.setattr(demo, "run", lambda **kwargs: pytest.fail("the demo ran with a missing data dir"))
    monkeypatch.setenv("ART_EXT_DATA_DIR", str(tmp_path / "nowhere"))
    for argv in (["data"], ["demo", "--scale", "smoke", "--out", str(tmp_path)]):
        line = _user_error(argv, capsys)
        assert "ART_EXT_DATA_DIR" in line and "nowhere" in line and "not an existing folder" in line


def test_data_missing_for_a_reproduction_is_a_one_line_user_error(tmp_path, capsys, monkeypatch):
    import art_ext.experiments.demo as demo
    from art_ext.data import DataUnavailableError

    def run(**kwargs):
        raise DataUnavailableError("data set 'cifar10' is not available offline")

    monkeypatch.setattr(demo, "run", run)
    assert "not available offline" in _user_error(["demo", "--scale", "smoke", "--out", str(tmp_path)], capsys)


def test_uddn_reproduction_has_models_for_every_dataset_and_scale():
    from art_ext.experiments import uddn
    from art_ext.experiments.harness import SCALES

    assert {(d, s) for d in uddn.DATASETS for s in SCALES} <= set(uddn._MODELS)
    with pytest.raises(ValueError, match="dataset must be one of"):
        uddn.run(scale="smoke", dataset="imagenet")
