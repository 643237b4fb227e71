"""benchmarks/zoo.py: every variant of a zoo network computes the same function of the image through ART."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_SPEC = importlib.util.spec_from_file_location("zoo", Path(__file__).parents[1] / "benchmarks" / "zoo.py")
zoo = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(zoo)


def test_halves_partition_the_architectures():
    assert set(zoo.DEV) | set(zoo.HELD_OUT) == set(zoo.ARCHITECTURES) and not set(zoo.DEV) & set(zoo.HELD_OUT)
    assert len(zoo.DEV) >= 3 and len(zoo.HELD_OUT) >= 3


def test_each_half_has_batch_norm_networks():
    """Defaults for batch-norm networks must be choosable without the held-out half."""
    import keras

    def has_batch_norm(name):
        return any(isinstance(layer, keras.layers.BatchNormalization) for layer in zoo.build(name).layers)

    for half in (zoo.DEV, zoo.HELD_OUT):
        assert sum(map(has_batch_norm, half)) >= 2, half


@pytest.mark.parametrize("name", sorted(zoo.ARCHITECTURES))
def test_architectures_build(name):
    model = zoo.build(name, seed=0)
    assert model.output_shape == (None, 10) and zoo.build(name, nb_classes=20).output_shape == (None, 20)


@pytest.mark.parametrize("name", ["bn_cnn"])
def test_variants_agree(name):
    x = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    model = zoo.build(name, seed=0)
    reference = zoo.wrap_variant(model, "logits").predict(x)
    for variant in ("softmax", "scale255", "standardised", "softmax+scale255", "standardised+scale255"):
        clf = zoo.wrap_variant(model, variant)
        out = clf.predict(x * zoo.scale(variant))
        expected = np.exp(reference) / np.exp(reference).sum(1, keepdims=True) if "softmax" in variant else reference
        np.testing.assert_allclose(out, expected, rtol=1e-3, atol=1e-4, err_msg=variant)
        assert clf.clip_values[1] == zoo.scale(variant)
    with pytest.raises(ValueError, match="variant parts"):
        zoo.wrap_variant(model, "logits+sigmoid")
