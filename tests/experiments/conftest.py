"""Fixtures of the reproduction tests: random CIFAR-10-shaped data (no CIFAR-10 needed) and an empty cache."""

import numpy as np
import pytest


def write_random_cifar(folder, n_train=320, n_test=64):
    """Random 32x32 colour images with random labels as ``<folder>/cifar10.npz``."""
    rng = np.random.default_rng(0)
    np.savez(
        folder / "cifar10.npz",
        x_train=rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train),
        x_test=rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test),
    )


@pytest.fixture
def random_cifar(tmp_path, monkeypatch):
    """Random images as ``$ART_EXT_DATA_DIR/cifar10.npz`` and an empty ``$ART_EXT_CACHE``; returns ``tmp_path``."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_random_cifar(folder)
    monkeypatch.setenv("ART_EXT_DATA_DIR", str(folder))
    monkeypatch.setenv("ART_EXT_CACHE", str(tmp_path / "cache"))
    return tmp_path
