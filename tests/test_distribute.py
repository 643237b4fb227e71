"""art_ext.distribute: the default strategy is today's path; MirroredStrategy over two logical CPUs matches it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from art_ext.distribute import (
    STRATEGY,
    check_built_in_scope,
    distribute_batches,
    is_distributed,
    per_replica_mean,
    resolve_strategy,
    training_step,
)
from art_ext.params import seeded


def _model(seed=0):
    with seeded(seed):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])


def _train(strategy, x, y, steps=5):
    """A few SGD steps of a tiny model under ``strategy``; returns its final weights."""
    scope = resolve_strategy(strategy).scope()
    with scope:
        model = _model()
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(model.trainable_variables)
    check_built_in_scope(strategy, model.variables, "test", "model")
    step = training_step(strategy, model, optimizer)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    for _ in range(steps):
        for xb, yb in distribute_batches(strategy, dataset):
            step(xb, yb)
    return [np.asarray(w) for w in model.get_weights()]


def test_default_strategy_is_not_distributed():
    assert resolve_strategy(None) is tf.distribute.get_strategy()
    assert not is_distributed(None) and not is_distributed(resolve_strategy(None))
    assert STRATEGY.is_satisfied_by(tf.distribute.get_strategy()) and not STRATEGY.is_satisfied_by("mirrored")


def test_mirrored_training_matches_one_device(two_cpu_strategy):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype(np.float32), rng.integers(0, 3, 32)
    single, mirrored = _train(None, x, y), _train(two_cpu_strategy, x, y)
    assert is_distributed(two_cpu_strategy)
    for a, b in zip(single, mirrored, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)  # same global-batch gradients, float summation order aside


def test_model_built_outside_scope_is_refused(two_cpu_strategy):
    model = _model()
    with pytest.raises(ValueError, match=r"Trainer: classifier.model was built outside strategy.scope\(\)"):
        check_built_in_scope(two_cpu_strategy, model.variables, "Trainer", "classifier.model")
    check_built_in_scope(None, model.variables, "Trainer", "classifier.model")  # no strategy: nothing to check


def test_per_replica_mean_is_the_mean_with_one_replica():
    assert float(per_replica_mean(tf.constant([1.0, 2.0, 3.0, 6.0]), 4)) == pytest.approx(3.0)


def test_generator_in_scope_draws_differently_per_replica(two_cpu_strategy):
    with two_cpu_strategy.scope():
        generator = tf.random.Generator.from_seed(0)
    draws = two_cpu_strategy.experimental_local_results(two_cpu_strategy.run(lambda: generator.uniform([4])))
    assert not np.allclose(draws[0], draws[1])
