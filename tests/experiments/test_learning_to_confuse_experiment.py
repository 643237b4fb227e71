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


def test_fit_generator_refines_stage_by_stage_and_caches_each_stage(mnist_small, tmp_path, monkeypatch):
    from art_ext.experiments.harness import CACHE_ENV
    from art_ext.experiments.learning_to_confuse import fit_generator

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    (x, y), (x_val, y_val) = mnist_small
    x, y, x_val, y_val = x[:128], y[:128], x_val[:64], y_val[:64]
    cfg = dict(
        eps=0.3,
        surrogate="simple_cnn",
        generator="deepconfuse_mnist_autoencoder",
        batch_size=64,
        generator_learning_rate=1e-3,
        victim_learning_rate=0.01,
    )
    attack, seconds, cached = fit_generator(x, y, x_val, y_val, cfg, 1, 0, verbose=False, tag="t", refine=((2, 3e-4),))
    assert not cached and seconds > 0
    assert [h["stage"] for h in attack.history_] == [1, 1, 2, 2, 2]  # each stage ends with one more fresh victim
    assert [h["round"] for h in attack.history_ if h["stage"] == 2] == [2, 3, 4]
    assert attack.clean_batch == "independent" and attack.generator_learning_rate == 3e-4
    assert len(list((tmp_path / "generators").iterdir())) == 2
    again, seconds, cached = fit_generator(x, y, x_val, y_val, cfg, 1, 0, verbose=False, tag="t", refine=((2, 3e-4),))
    assert cached and seconds == 0.0 and again.history_ == []
    np.testing.assert_array_equal(again.noise(x_val), attack.noise(x_val))
