"""Metrics of defences that filter (reject) suspected adversarial inputs (Szűcs & Kiss 2023, Sec. 4-6).

* :func:`filtering_accuracy` -- accuracy with and without filtering (Fig. 6 / 7).
* :func:`transferability` -- ``|X_b| / |X_a|`` of adversarial examples made on a substitute (Sec. 5.1, Table 5).
* :func:`sensitivity` -- max slope, standard deviation and range of an accuracy-vs-eps curve (Table 3).
* :func:`accuracy_after_filtering`, :func:`filtering_helps` -- the model of Sec. 4.3 (Eq. 20-24).
* :func:`constant_accuracy_ratio` -- the detector ratio ``r_X`` of Eq. 27 that keeps accuracy constant.

| Paper link: https://doi.org/10.1007/s11042-022-14021-5
"""

from __future__ import annotations

import numpy as np

from art_ext.params import NON_NEGATIVE_REAL, UNIT_INTERVAL, validate_params

#: Every rate and accuracy of the Sec. 4.3 model is a share in [0, 1].
_RATES = {
    name: [UNIT_INTERVAL] for name in ("p_attack", "acc_clean", "acc_attacked", "clean_pass_rate", "attacked_pass_rate")
}


def _check_rates(caller: str, p_attack, acc_clean, acc_attacked, clean_pass_rate, attacked_pass_rate, **ratios) -> None:
    """Check the shares of the Sec. 4.3 model (each in [0, 1]) and any ratio (``r_z``, non-negative)."""
    rates = dict(
        p_attack=p_attack,
        acc_clean=acc_clean,
        acc_attacked=acc_attacked,
        clean_pass_rate=clean_pass_rate,
        attacked_pass_rate=attacked_pass_rate,
    )
    validate_params({**_RATES, **{name: [NON_NEGATIVE_REAL] for name in ratios}}, {**rates, **ratios}, caller)


def _as_1d(name: str, value, n: int | None = None, kinds: str = "biuf") -> np.ndarray:
    """``value`` as a flat array of finite numbers of the dtype kinds ``kinds``, with ``n`` entries if given."""
    arr = np.asarray(value)
    arr = arr.reshape(-1) if arr.ndim else arr.reshape(1)
    if arr.dtype.kind not in kinds:
        raise ValueError(f"{name} must hold {'booleans' if kinds == 'b' else 'real numbers'}, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries, expected {n}")
    return arr


def _labels(name: str, value, n: int | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 2:
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold class indices or scores, got dtype {arr.dtype}")
        arr = arr.argmax(axis=1)
    return _as_1d(name, arr, n)


def filtering_accuracy(y_true, y_pred, rejected) -> dict[str, float]:
    """Accuracy without and with filtering, as in Fig. 6 / 7 of the paper.

    :param y_true: True labels (indices or one-hot), shape ``(n,)``.
    :param y_pred: Predicted labels (indices, or scores of shape ``(n, N)``).
    :param rejected: Boolean mask of inputs the detector discards.
    :return: ``{"unfiltered": accuracy on all inputs, "filtered": accuracy on the kept inputs
        (NaN when all are rejected), "kept": share of inputs kept}``.
    :raises ValueError: If the lengths differ or there are no samples.
    """
    y_true = _labels("y_true", y_true)
    if len(y_true) == 0:
        raise ValueError("y_true is empty")
    y_pred = _labels("y_pred", y_pred, len(y_true))
    rejected = _as_1d("rejected", rejected, len(y_true), kinds="b")
    correct = y_pred == y_true
    kept = ~rejected
    return {
        "unfiltered": float(correct.mean()),
        "filtered": float(correct[kept].mean()) if kept.any() else float("nan"),
        "kept": float(kept.mean()),
    }


def transferability(y_true, pred_substitute, pred_target, rejected=None) -> float:
    """Transferability ``|X_b| / |X_a|`` of adversarial examples (Sec. 5.1 of the paper).

    ``X_a``: the inputs the substitute (source) model misclassifies; ``X_b``: those of them the target
    model misclassifies too -- and, with filtering (``rejected`` given), that pass the detector.

    :param y_true: True labels of the adversarial inputs.
    :param pred_substitute: Labels (or scores) the substitute gives them.
    :param pred_target: Labels (or scores) the target gives them.
    :param rejected: Optional boolean mask of inputs the target's detector discards.
    :return: The ratio; NaN when ``X_a`` is empty.
    """
    y_true = _labels("y_true", y_true)
    fooled_a = _labels("pred_substitute", pred_substitute, len(y_true)) != y_true
    fooled_b = fooled_a & (_labels("pred_target", pred_target, len(y_true)) != y_true)
    if rejected is not None:
        fooled_b &= ~_as_1d("rejected", rejected, len(y_true), kinds="b")
    return float(fooled_b.sum() / fooled_a.sum()) if fooled_a.any() else float("nan")


def sensitivity(eps, accuracy) -> dict[str, float]:
    """How much an accuracy curve moves with the attack amplitude (Table 3 of the paper).

    :param eps: Attack amplitudes (at least two, distinct).
    :param accuracy: Accuracy at each amplitude.
    :return: ``{"max_slope": max |d acc / d eps| between neighbouring amplitudes, "std": standard
        deviation of the accuracies (population), "range": max - min accuracy}``.
    :raises ValueError: Fewer than two points, mismatched lengths, repeated amplitudes, NaN/inf or non-numbers.
    """
    eps = _as_1d("eps", eps).astype(np.float64)
    acc = _as_1d("accuracy", accuracy, len(eps)).astype(np.float64)
    if len(eps) < 2:
        raise ValueError("sensitivity needs at least two (eps, accuracy) points")
    order = np.argsort(eps)
    eps, acc = eps[order], acc[order]
    if np.any(np.diff(eps) == 0):
        raise ValueError("eps values must be distinct")
    return {
        "max_slope": float(np.max(np.abs(np.diff(acc) / np.diff(eps)))),
        "std": float(np.std(acc)),
        "range": float(acc.max() - acc.min()),
    }


def accuracy_after_filtering(p_attack, acc_clean, acc_attacked, clean_pass_rate, attacked_pass_rate) -> float:
    """Accuracy on the kept inputs predicted by Eq. 22 of the paper.

    With a share ``p_attack`` of attacked inputs, a filter passing ``clean_pass_rate`` (``R_ori``) of
    clean and ``attacked_pass_rate`` (``1 - R_att``) of attacked inputs independently of whether
    they are classified correctly: ``acc = ((1-p) R_ori acc_ori + p R_att' acc_att) / ((1-p) R_ori + p R_att')``.
    """
    _check_rates("accuracy_after_filtering", p_attack, acc_clean, acc_attacked, clean_pass_rate, attacked_pass_rate)
    kept_clean, kept_attacked = (1.0 - p_attack) * clean_pass_rate, p_attack * attacked_pass_rate
    return float((kept_clean * acc_clean + kept_attacked * acc_attacked) / (kept_clean + kept_attacked))


def filtering_helps(
    clean_pass_rate, attacked_pass_rate, acc_clean: float = 1.0, acc_attacked: float = 0.0, p_attack: float = 0.5
) -> bool:
    """The condition of Sec. 4.3 (Eq. 23-24): does filtering raise the accuracy?

    ``acc_after > acc_before`` iff ``p (1 - p) (acc_ori - acc_att) (R_ori - (1 - R_att)) > 0``; for
    ``0 < p < 1`` and an attack that hurts (``acc_att < acc_ori``) this is ``R_ori > 1 - R_att``:
    the detector must pass a larger share of clean inputs than of attacked ones -- equivalently,
    discard a smaller share of clean inputs than of attacked ones. (The paper's prose phrases the
    condition with "not discarded" on both sides; Eq. 24 compares these two pass rates.)

    :param clean_pass_rate: ``R_ori``, the share of clean inputs the detector keeps.
    :param attacked_pass_rate: ``1 - R_att``, the share of attacked inputs it keeps.
    :param acc_clean: Accuracy on clean inputs.
    :param acc_attacked: Accuracy on attacked inputs.
    :param p_attack: Share of attacked inputs.
    :raises ValueError: If a rate or accuracy is not a number in [0, 1].
    """
    _check_rates("filtering_helps", p_attack, acc_clean, acc_attacked, clean_pass_rate, attacked_pass_rate)
    return bool(p_attack * (1.0 - p_attack) * (acc_clean - acc_attacked) * (clean_pass_rate - attacked_pass_rate) > 0)


def constant_accuracy_ratio(p_attack, acc_clean, acc_attacked, clean_pass_rate, attacked_pass_rate, r_z) -> float:
    """The ratio ``r_X`` of Eq. 27: how much the attacked pass rate must shrink to keep filtered accuracy constant.

    Between two attack amplitudes the accuracy on attacked inputs shrinks by ``r_z``
    (``acc_att[i+1] = r_z acc_att[i]``); if the attacked pass rate shrinks by ``r_X``
    (``R_att'[i+1] = r_X R_att'[i]``) the accuracy after filtering stays equal. Derived from Eq. 22:
    ``r_X = A (acc_after - acc_ori) / (B (r_z acc_att - acc_after))`` with ``A = (1 - p) R_ori``,
    ``B = p R_att'`` and ``acc_after`` the current filtered accuracy.
    """
    _check_rates(
        "constant_accuracy_ratio", p_attack, acc_clean, acc_attacked, clean_pass_rate, attacked_pass_rate, r_z=r_z
    )
    a, b = (1.0 - p_attack) * clean_pass_rate, p_attack * attacked_pass_rate
    after = accuracy_after_filtering(p_attack, acc_clean, acc_attacked, clean_pass_rate, attacked_pass_rate)
    return float(a * (after - acc_clean) / (b * (r_z * acc_attacked - after)))
