"""A check that code leaves Python's, NumPy's and TensorFlow's global random generators alone."""

import random

import numpy as np
import tensorflow as tf


def _draws():
    return random.random(), float(np.random.random()), float(tf.random.uniform([]))


def run_without_global_rng(action):
    """Return ``action()``; assert that it neither reseeded nor drew from any global random generator: the draws
    after it are those that follow without it."""

    def reseed():
        random.seed(1)
        np.random.seed(1)
        tf.random.set_seed(1)

    reseed()
    _draws()
    expected = _draws()
    reseed()
    _draws()
    result = action()
    assert _draws() == expected, "the global random state was changed"
    return result
