"""The CIFAR-10 reference models reproduction at smoke scale, on random 32x32 images (no CIFAR-10 needed)."""

import json

import keras
import numpy as np
import pytest

from art_ext.experiments import cifar_models as cm
from art_ext.persistence import load_keras


def test_cli_smoke_run_trains_caches_and_reports_every_model(random_cifar):
    data = random_cifar
    from art_ext.cli import main

    out = data / "out"
    argv = ["reproduce", "cifar-models", "--scale", "smoke", "--dataset", "cifar10", "--out", str(out)]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())["results"]
    assert set(cm.REFERENCE_MODELS) <= set(results)
    for name in cm.REFERENCE_MODELS:
        r = results[name]
        assert r["epochs"] == 1 and len(r["history"]) == 1 and r["train_seconds"] > 0
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["resumed_at"] == [0]
        classifier = cm.reference_model(name, scale="smoke")  # cached: loads with one call
        assert classifier.predict(np.zeros((2, 32, 32, 3), np.float32)).shape == (2, 10)
    assert "reference models" in (out / "report.md").read_text()
    assert not list((data / "cache" / "checkpoints").iterdir())  # finished trainings leave no checkpoint
    # a rerun trains nothing: every model comes from the cache, with its recorded history and time
    assert main(argv) == 0
    again = json.loads((out / "results.json").read_text())["results"]
    for name in cm.REFERENCE_MODELS:
        assert again[name]["train_seconds"] == results[name]["train_seconds"]
        assert again[name]["test_accuracy"] == results[name]["test_accuracy"]


class _Interrupt(keras.callbacks.Callback):
    """Stops the process (as Ctrl-C would) at the end of the first epoch, after the checkpoint is written."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_an_interrupted_training_resumes_and_matches_an_uninterrupted_one(tmp_path, monkeypatch):
    monkeypatch.setattr(cm, "SMOKE_EPOCHS", 2)
    rng = np.random.default_rng(1)
    x = rng.random((96, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, 96)
    interrupted, straight = str(tmp_path / "a"), str(tmp_path / "b")

    with pytest.raises(KeyboardInterrupt):
        cm.train_reference_model(
            "plain_cnn", x, y, scale="smoke", cache_dir=interrupted, verbose=False, callbacks=[_Interrupt()]
        )
    checkpoint = cm.checkpoint_path("plain_cnn", scale="smoke", cache_dir=interrupted)
    _, record, _ = load_keras(checkpoint, cm.CHECKPOINT_KIND)
    assert record["epochs_done"] == 1 and [h["epoch"] for h in record["history"]] == [1]
    with pytest.raises(FileNotFoundError, match="checkpoint of an unfinished training"):
        cm.reference_model("plain_cnn", scale="smoke", cache_dir=interrupted)

    resumed, record = cm.train_reference_model("plain_cnn", x, y, scale="smoke", cache_dir=interrupted, verbose=False)
    assert record["resumed_at"] == [0, 1] and record["epochs_done"] == 2
    assert [h["epoch"] for h in record["history"]] == [1, 2]
    reference, ref_record = cm.train_reference_model(
        "plain_cnn", x, y, scale="smoke", cache_dir=straight, verbose=False
    )
    assert ref_record["resumed_at"] == [0]
    for a, b in zip(resumed.model.weights, reference.model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
    for h, g in zip(record["history"], ref_record["history"]):
        assert h["loss"] == pytest.approx(g["loss"], rel=1e-4)


def test_reference_model_names_the_command_when_not_trained(tmp_path):
    with pytest.raises(FileNotFoundError, match="art-ext reproduce cifar-models --dataset cifar10 --seed 3"):
        cm.reference_model("resnet20", seed=3, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="unknown reference model"):
        cm.reference_model("resnet1000")


def test_augmented_batches_are_stateless_crops_and_flips():
    x = np.random.default_rng(0).random((8, 32, 32, 3), dtype=np.float32)
    y = np.arange(8)
    whole = [(a.numpy(), b.numpy()) for a, b in cm.augmented_batches(x, y, 4, seed=5, epochs=3)]
    assert len(whole) == 6  # two batches per epoch
    resumed = [(a.numpy(), b.numpy()) for a, b in cm.augmented_batches(x, y, 4, seed=5, epochs=3, initial_epoch=2)]
    for (a, b), (c, d) in zip(whole[4:], resumed):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert sorted(np.concatenate([b for _, b in whole[:2]])) == list(range(8))  # an epoch is a permutation
    padded = np.pad(x, [(0, 0), (4, 4), (4, 4), (0, 0)])
    for images, labels in whole:
        for image, label in zip(images, labels):
            windows = [padded[label, i : i + 32, j : j + 32] for i in range(9) for j in range(9)]
            assert any(np.array_equal(image, w) or np.array_equal(image, w[:, ::-1]) for w in windows)


def test_cli_refuses_another_dataset(tmp_path, capsys):
    from art_ext.cli import main

    with pytest.raises(SystemExit) as info:
        main(["reproduce", "cifar-models", "--scale", "smoke", "--dataset", "mnist", "--out", str(tmp_path)])
    assert info.value.code == 2
    assert "--dataset must be one of cifar10" in capsys.readouterr().err


def test_step_time_table_reports_each_model_with_its_projection(capsys):
    from art_ext.experiments import cifar_models

    cifar_models.main(["--steps", "1", "--models", "resnet20"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| resnet20 |")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1] == "274,042" and float(cells[3]) > 0 and cells[6] == str(cifar_models.SMALL_EPOCHS["resnet20"])
