"""training_batches: arrays, tf.data.Dataset and ART DataGenerator give the same validated batches."""

import numpy as np
import pytest
import tensorflow as tf
from art.data_generators import NumpyDataGenerator

from art_ext.data.batches import training_batches

SHAPE = (4, 4, 1)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(10, *SHAPE)).astype(np.float32), rng.integers(0, 3, 10)


def _collect(source):
    xs, ys = zip(*[(np.asarray(xb), np.asarray(yb)) for xb, yb in source.epoch()], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_arrays_shuffle_each_epoch_under_the_seed(data):
    x, y = data
    source = training_batches(x, y, batch_size=4, input_shape=SHAPE, nb_classes=3, seed=1)
    assert source.kind == "arrays" and source.steps_per_epoch == 3
    first, second = _collect(source), _collect(source)
    assert sorted(first[1].tolist()) == sorted(y.tolist()) and first[0].shape == x.shape
    again = _collect(training_batches(x, y, batch_size=4, input_shape=SHAPE, nb_classes=3, seed=1))
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], second[0])  # reshuffled


def test_dataset_and_generator_sources(data):
    x, y = data
    dataset = tf.data.Dataset.from_tensor_slices((x, np.eye(3)[y])).batch(4)
    source = training_batches(dataset, input_shape=SHAPE, nb_classes=3, batch_size=None)
    assert source.kind == "dataset" and source.steps_per_epoch == 3
    xs, ys = _collect(source)
    np.testing.assert_array_equal(xs, x)
    np.testing.assert_array_equal(ys, y)  # one-hot rows -> class indices
    generator = NumpyDataGenerator(x, y, batch_size=5, shuffle=False)
    source = training_batches(generator, input_shape=SHAPE, nb_classes=3, batch_size=None)
    assert source.kind == "generator" and source.steps_per_epoch == 2
    np.testing.assert_array_equal(_collect(source)[1], y)
    got = list(source.dataset())
    assert len(got) == 2 and got[0][1].dtype == tf.int64


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda x, y: (x, None), "y .*required"),
        (lambda x, y: (tf.data.Dataset.from_tensor_slices((x, y)).batch(2), y), "y must be None"),
        (lambda x, y: (tf.data.Dataset.from_tensor_slices(x).batch(2), None), r"\(x, y\) tuples"),
        (lambda x, y: (tf.data.Dataset.from_tensor_slices((x, y)), None), "batch it with dataset.batch"),
        (lambda x, y: (tf.data.Dataset.from_tensor_slices((x, y)).batch(2).repeat(), None), "infinite"),
        (lambda x, y: (x[:, :2], y), "shape"),
    ],
)
def test_bad_sources_are_refused_before_work(data, make, match):
    x, y = data
    source, labels = make(x, y)
    with pytest.raises(ValueError, match=match):
        training_batches(source, labels, batch_size=4, input_shape=SHAPE, nb_classes=3)


def test_bad_batches_are_refused_as_they_come(data):
    x, y = data
    bad = x.copy()
    bad[7, 0, 0, 0] = np.nan
    dataset = tf.data.Dataset.from_tensor_slices((bad, y)).batch(4)
    source = training_batches(dataset, input_shape=SHAPE, nb_classes=3, batch_size=None)
    with pytest.raises(ValueError, match="dataset batch x contains NaN"):
        _collect(source)
    source = training_batches(
        NumpyDataGenerator(x, y + 3, batch_size=5, shuffle=False), input_shape=SHAPE, nb_classes=3, batch_size=None
    )
    with pytest.raises(ValueError, match="generator batch y"):
        _collect(source)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        training_batches(x, y, batch_size=0, input_shape=SHAPE, nb_classes=3)
