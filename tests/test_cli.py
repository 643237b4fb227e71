import json

import pytest

from art_ext.cli import build_parser, main


def test_demo_runs_at_smoke_scale(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ART_EXT_CACHE", str(tmp_path / "cache"))  # trains everything, whatever the user's cache holds
    assert main(["demo", "--scale", "smoke", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "pipeline check" in report and "demo.png" in report
    assert (tmp_path / "demo.png").stat().st_size > 0
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert set(results) >= {"edc", "2n", "uddn", "jpeg", "ltc"}
    for name in ("undefended", "defended"):
        assert 0.0 <= results["uddn"][name]["adaptive"] <= results["uddn"][name]["clean"] + 1e-9


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate"], "one of the arguments --model --component is required"),
        (["evaluate", "--model", "missing.keras"], "no such file"),
        (["evaluate", "--model", "model.h5"], ".keras"),
        (["evaluate", "--component", "uddn", "--defence", "jpeg"], "--defence goes with --model"),
        (["evaluate", "--component", "none", "--eps", "0"], "--eps"),
        (["evaluate", "--component", "none", "--n", "0"], "--n"),
        (["evaluate", "--component", "none", "--data-path", "x.npz"], "--source npz"),
    ],
)
def test_evaluate_user_errors_are_one_line_exit_2(argv, message, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_evaluate_bad_defence_and_saved_model(tiny_classifier, tmp_path, capsys):
    path = str(tmp_path / "model.keras")
    tiny_classifier.model.save(path)
    for spec, message in (("jpeg:0", "in [1, 100]"), ("blur", "unknown defence"), ("uddn", "needs a value")):
        with pytest.raises(SystemExit) as exit_:
            main(["evaluate", "--model", path, "--defence", spec])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    out = tmp_path / "out"
    assert (
        main(
            [
                "evaluate",
                "--model",
                path,
                "--defence",
                "jpeg:50",
                "--source",
                "embedded",
                "--n",
                "4",
                "--eps",
                "0.3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    payload = json.loads((out / "report.json").read_text())
    assert payload["settings"]["n"] == 4 and 0.0 <= payload["robust_accuracy"] <= payload["clean_accuracy"]
    assert "Robustness evaluation" in capsys.readouterr().out


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
        ["reproduce", "demo", "--scale", "smoke", "--dataset", "mnist", "--out", str(tmp_path)], capsys
    )
    assert "invalid choice" in _user_error(["reproduce", "uddn", "--dataset", "imagenet"], capsys)


def test_every_reproduction_but_the_demo_takes_a_dataset():
    """The ``--dataset`` help says so; a reproduction that stops taking one must change it."""
    import argparse
    import importlib
    import inspect

    from art_ext.experiments import REPRODUCTIONS

    for name, path in REPRODUCTIONS.items():
        takes = "dataset" in inspect.signature(importlib.import_module(path).run).parameters
        assert takes == (name != "demo"), name
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert "every reproduction but demo" in commands.choices["reproduce"].format_help()


@pytest.mark.parametrize("seed", ["-1", str(2**32), "1.5", "x"])
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
