"""Shared fixtures: small real data and one tiny trained classifier per test session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mnist_small():
    """500 training and 200 test digits of the embedded MNIST sample."""
    from art_ext.data import load_dataset

    x_train, y_train = load_dataset("mnist", "train", source="embedded")
    x_test, y_test = load_dataset("mnist", "test", source="embedded")
    return (x_train[:500], y_train[:500]), (x_test[:200], y_test[:200])


@pytest.fixture(scope="session")
def tiny_classifier(mnist_small):
    """A simple_cnn trained for 3 epochs on 500 digits, wrapped for ART."""
    import keras

    from art_ext.estimators import wrap
    from art_ext.models import get_model

    keras.utils.set_random_seed(0)
    (x, y), _ = mnist_small
    classifier = wrap(get_model("simple_cnn", (28, 28, 1), 10), learning_rate=3e-3)
    classifier.fit(x, y, batch_size=32, nb_epochs=3)
    return classifier


@pytest.fixture
def rng():
    return np.random.default_rng(0)
