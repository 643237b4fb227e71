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
