"""Per-sample perturbation sizes (L0, L2, L-inf) and their summary statistics."""

from __future__ import annotations

import numpy as np

from art_ext.utils import check_inputs


def distortion_norms(x: np.ndarray, x_adv: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample L0 (count of changed values), L2 and L-inf norms of ``x_adv - x``.

    :param x: Original inputs, shape ``(n, ...)``.
    :param x_adv: Modified inputs, same shape.
    :return: ``{"l0": ..., "l2": ..., "linf": ...}``, each of shape ``(n,)``.
    :raises ValueError: If the shapes differ, or either holds non-numeric values, NaN or inf.
    """
    x, x_adv = check_inputs(x, "x", min_samples=0), check_inputs(x_adv, "x_adv", min_samples=0)
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have the same shape, got {x.shape} and {x_adv.shape}")
    delta = (x_adv.astype(np.float64) - x.astype(np.float64)).reshape(len(x), -1)
    return {
        "l0": np.count_nonzero(delta, axis=1).astype(np.float64),
        "l2": np.linalg.norm(delta, axis=1),
        "linf": np.abs(delta).max(axis=1) if delta.shape[1] else np.zeros(len(x)),
    }


def summarize(values: np.ndarray) -> dict[str, float]:
    """Mean, standard deviation, min and max of ``values`` (NaN for an empty array).

    :raises ValueError: If ``values`` holds non-numeric values, NaN or inf.
    """
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"values must be real numbers, got dtype {values.dtype}")
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("values contains NaN or inf")
    if values.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "n": int(values.size),
    }
