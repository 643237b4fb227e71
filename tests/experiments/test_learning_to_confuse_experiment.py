import numpy as np

from art_ext.estimators import wrap
from art_ext.experiments.learning_to_confuse import _batch_statistics_accuracy
from art_ext.models import get_model


def test_batch_statistics_accuracy_leaves_the_model_unchanged(mnist_small):
    (x, y), _ = mnist_small
    classifier = wrap(get_model("deepconfuse_victim", (28, 28, 1), 10))
    classifier.fit(x, y, batch_size=64, nb_epochs=1)
    before = [v.numpy().copy() for v in classifier.model.variables]
    score = _batch_statistics_accuracy(classifier, x[:300], y[:300], batch_size=100)
    assert 0.0 <= score <= 1.0
    for v, w in zip(classifier.model.variables, before):
        np.testing.assert_array_equal(v.numpy(), w)  # training-mode calls moved the BN statistics; restored


def test_batch_statistics_accuracy_is_inference_accuracy_without_batch_norm_or_dropout(tiny_classifier, mnist_small):
    _, (x, y) = mnist_small
    inference = float(np.mean(tiny_classifier.predict(x).argmax(1) == y))
    assert _batch_statistics_accuracy(tiny_classifier, x, y, batch_size=64) == inference


def test_fit_generator_runs_the_library_schedule_and_caches(mnist_small, tmp_path, monkeypatch):
    from art_ext.experiments.harness import CACHE_ENV
    from art_ext.experiments.learning_to_confuse import fit_generator

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    (x, y), (x_val, y_val) = mnist_small
    x, y, x_val, y_val = x[:128], y[:128], x_val[:64], y_val[:64]
    cfg = dict(eps=0.3, surrogate="simple_cnn", batch_size=64, generator_learning_rate=1e-3, victim_learning_rate=0.01)
    attack, seconds, cached = fit_generator(x, y, x_val, y_val, cfg, 3, 0, verbose=False, tag="t")
    assert not cached and seconds > 0
    # The staged schedule's 3 rounds: 1 with the authors' procedure, 2 with the independent batch; each stage ends
    # with one more fresh victim.
    assert [h["stage"] for h in attack.history_] == [1, 1, 2, 2, 2]
    assert [p.suffix for p in (tmp_path / "generators").iterdir()] == [".keras"]  # the checkpoint is removed
    again, seconds, cached = fit_generator(x, y, x_val, y_val, cfg, 3, 0, verbose=False, tag="t")
    assert cached and seconds == 0.0
    np.testing.assert_array_equal(again.noise(x_val), attack.noise(x_val))


def test_run_refuses_an_unknown_dataset(tmp_path):
    import pytest

    from art_ext.experiments.learning_to_confuse import run

    with pytest.raises(ValueError, match="dataset must be one of"):
        run(scale="smoke", dataset="imagenet", out_dir=str(tmp_path), verbose=False)
    assert not any(tmp_path.iterdir())  # refused before any work


def test_cifar_victims_below_paper_scale_are_families_the_generator_never_sees():
    from art_ext.experiments.harness import Run
    from art_ext.experiments.learning_to_confuse import VICTIMS, _settings

    for scale, resnet in (("smoke", "resnet"), ("small", "resnet20")):  # smoke: the shallow tiny ResNet
        cfg = _settings(Run("t", scale=scale, seed=0, out_dir=None, verbose=False), "cifar10")
        (surrogate, _), *held_out = cfg["victims"]
        assert cfg["surrogate"] == surrogate == "vgg_small"
        assert [name for name, _ in held_out] == [resnet, "plain_cnn", "mobilenet_cifar"]
        assert cfg["n_val"] > 0  # the generator is selected on training images, not on the reported test images
    paper = _settings(Run("t", scale="paper", seed=0, out_dir=None, verbose=False), "cifar10")
    assert paper["victims"] == VICTIMS["cifar10"] and paper["surrogate"] == "vgg11_bn"


def test_data_validation_images_are_disjoint_training_images(monkeypatch):
    from art_ext.experiments import learning_to_confuse as module

    x = np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1)
    y = np.arange(100) % 10
    monkeypatch.setattr(module, "load_dataset", lambda name, split: (x, y) if split == "train" else (x[:20], y[:20]))
    (x_train, _, x_test, _), (x_val, _) = module._data("cifar10", 60, 10, 0, n_val=30)
    assert len(x_train) == 60 and len(x_val) == 30 and len(x_test) == 10
    assert not set(x_train.ravel()) & set(x_val.ravel())
    assert module._data("mnist", 60, 10, 0)[1] is None
