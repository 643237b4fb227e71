"""Shared fixtures: small real data and one tiny trained classifier per test session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import art  # noqa: F401  (see below)
import numpy as np
import pytest
import tensorflow as tf

# ART configures logging when it is first imported (logging.config.dictConfig, which shuts down every handler that
# exists at that moment); first imported inside a test, that breaks pytest's output capture and the test fails in its
# teardown with "I/O operation on closed file" (e.g. `pytest tests/test_cli.py` alone). Importing it here, at
# collection, keeps every test file runnable on its own.

# Two logical CPU devices for the tf.distribute tests (MirroredStrategy over "/cpu:0" and "/cpu:1"). Logical devices
# can only be configured before TensorFlow initialises its runtime, hence here, at import; ops without a strategy
# keep running on "/cpu:0" as before.
_CPUS = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(_CPUS[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # pragma: no cover - runtime already initialised by an earlier import
    pass


@pytest.fixture(scope="session")
def two_cpu_strategy():
    """A ``MirroredStrategy`` over two logical CPU devices (skips if TensorFlow started with one)."""
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < 2:
        pytest.skip("needs two logical CPU devices (configured in conftest before TensorFlow starts)")
    return tf.distribute.MirroredStrategy(devices[:2])


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
