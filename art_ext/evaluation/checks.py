"""Sanity checks of an adaptive evaluation (Carlini et al. 2019, "On evaluating adversarial robustness";
Zimmermann et al. 2022, "Increasing confidence in adversarial robustness evaluations"): each failed check
becomes a flag, a sentence saying what went wrong and what it suggests."""

from __future__ import annotations

from typing import Any

#: A large-budget attack must leave at most this accuracy.
LARGE_EPS_MAX_ACCURACY = 0.05
#: Black-box successes after the white-box attacks, as a share of the inputs, above which gradients are suspect.
BLACK_BOX_MAX_SHARE = 0.01


def run_checks(
    clean_accuracy: float,
    per_eps: list[dict[str, Any]],
    large_eps: dict[str, Any],
    probe: dict[str, Any],
    bpda: str,
    white_box_blind: bool,
    n: int,
) -> list[str]:
    """The flags of one evaluation (an empty list when every check passes).

    :param clean_accuracy: Accuracy on the clean inputs.
    :param per_eps: One summary per budget (``eps``, ``robust_accuracy``, ``black_box_extra``, ``outside_budget``).
    :param large_eps: The large-budget attack's ``eps``, ``accuracy`` and number of inputs ``n``.
    :param probe: The probes' findings (``gradient``, ``gradient_bpda``, ``randomised``).
    :param bpda: How BPDA was used: ``"no"``, ``"also"`` or ``"only"``.
    :param white_box_blind: No usable gradient even with BPDA.
    :param n: Number of inputs.
    """
    flags = []
    if probe.get("gradient", "ok") != "ok":
        fix = (
            "the defences were attacked through BPDA (identity gradient)"
            if bpda == "only"
            else "no BPDA was used (bpda=False or no preprocessing defence to replace)"
        )
        flags.append(f"gradient masking: the gradient through the defended classifier is {probe['gradient']}; {fix}.")
    if white_box_blind:
        flags.append(
            "white-box attacks are blind: no usable gradient even with BPDA; only the black-box attack "
            "measures this model, and its result is an upper bound at best."
        )
    for summary in per_eps:
        eps, extra = summary["eps"], summary["black_box_extra"]
        if extra > BLACK_BOX_MAX_SHARE * n:
            flags.append(
                f"black-box beats white-box at eps {eps:g}: Square broke {extra} of the "
                f"{summary['white_box_survivors']} inputs every white-box attack missed -- a sign of "
                "gradient masking; do not trust white-box numbers for this model."
            )
        for name, count in summary.get("outside_budget", {}).items():
            if count:
                flags.append(
                    f"{name} returned {count} points outside the eps {eps:g} ball (projected back): the "
                    "attack's budget handling is broken."
                )
        if summary["robust_accuracy"] > clean_accuracy + 1e-9:
            flags.append(
                f"robust accuracy above clean accuracy at eps {eps:g} ({summary['robust_accuracy']:.3f} > "
                f"{clean_accuracy:.3f}): the classifier's answers change between calls or the attacks "
                "made inputs easier."
            )
    if large_eps["n"] and large_eps["accuracy"] > LARGE_EPS_MAX_ACCURACY:
        flags.append(
            f"the attack does not reach ~0% at a budget that allows any input (eps {large_eps['eps']:g}): "
            f"{100 * large_eps['accuracy']:.1f}% of {large_eps['n']} inputs still correct -- the attack is "
            "not working on this model (masked or obfuscated gradients, a broken loss)."
        )
    tolerance = max(0.01, 1.0 / max(n, 1))
    for key, what in (("robust_accuracy", "robust accuracy"), ("accuracy_with_rejection", "accuracy with rejection")):
        if any(key not in summary for summary in per_eps):
            continue
        curve = sorted((s["eps"], s[key]) for s in per_eps)
        if key == "robust_accuracy":
            curve = [(0.0, clean_accuracy)] + curve
        for (e0, a0), (e1, a1) in zip(curve, curve[1:]):
            if e1 > e0 and a1 > a0 + tolerance:
                flags.append(
                    f"{what} rises with eps: {100 * a0:.1f}% at eps {e0:g} but {100 * a1:.1f}% at eps "
                    f"{e1:g}; a larger budget can only help a working attack."
                )
    for summary in per_eps:
        extra = summary.get("joint_black_box_extra", 0)
        if extra > BLACK_BOX_MAX_SHARE * n:
            flags.append(
                f"black-box beats white-box on the detector at eps {summary['eps']:g}: the joint Square attack "
                f"evaded the detector on {extra} of the {summary['joint_white_box_survivors']} inputs the "
                "gradient attacks left defended -- the defence masks gradients; trust only the accuracy with "
                "rejection after Square, and read it as an upper bound."
            )
    return flags
