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
