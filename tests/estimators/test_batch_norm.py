"""refresh_batch_norm: moving statistics become the average of the batch statistics of the current weights."""

import keras
import numpy as np
import pytest

from art_ext.estimators import refresh_batch_norm
from art_ext.estimators.batch_norm import batch_norm_layers
from art_ext.params import seeded


def _model(frozen_second=False):
    with seeded(0):
        inputs = keras.Input((4,))
        inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
        second = keras.layers.BatchNormalization()
        second.trainable = not frozen_second
        x = second(inner(keras.layers.BatchNormalization(name="first")(inputs)))
        return keras.Model(inputs, keras.layers.Dense(2)(x))


def _batches(k=5, n=16):
    rng = np.random.default_rng(0)
    return [rng.normal(loc=i, scale=1 + i, size=(n, 4)).astype(np.float32) for i in range(k)]


def test_the_moving_statistics_become_the_average_of_the_batch_statistics():
    model = _model()
    first = model.get_layer("first")
    batches = _batches()
    assert refresh_batch_norm(model, iter(batches)) == 3  # the nested model's layer too
    np.testing.assert_allclose(first.moving_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5)
    np.testing.assert_allclose(first.moving_variance.numpy(), np.mean([b.var(0) for b in batches], 0), rtol=1e-4)
    assert all(layer.momentum == 0.99 for layer in batch_norm_layers(model))  # restored
    # inference mode now normalises each batch as training mode does on average: the outputs agree closely
    x = np.concatenate(batches)
    np.testing.assert_allclose(first(x, training=False).numpy().mean(0), 0.0, atol=1e-4)


def test_frozen_layers_are_left_alone_and_a_model_without_batch_norm_reads_no_batch():
    model = _model(frozen_second=True)
    second = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)][-1]
    before = second.moving_mean.numpy().copy()
    assert refresh_batch_norm(model, iter(_batches())) == 2
    np.testing.assert_array_equal(second.moving_mean.numpy(), before)

    def never():
        raise AssertionError("batches were read")
        yield  # pragma: no cover

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert refresh_batch_norm(plain, never()) == 0


def test_no_batch_or_a_failing_forward_leaves_the_statistics_as_they_were():
    model = _model()
    first = model.get_layer("first")
    first.moving_mean.assign([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="no batch"):
        refresh_batch_norm(model, iter([]))

    def failing(x):
        model(x, training=True)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        refresh_batch_norm(model, iter(_batches()), forward=failing)
    np.testing.assert_array_equal(first.moving_mean.numpy(), [1.0, 2.0, 3.0, 4.0])
    assert first.momentum == 0.99
