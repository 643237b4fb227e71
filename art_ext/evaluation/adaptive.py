"""``evaluate``: an adaptive robustness evaluation that gradient masking cannot fool, with per-input records.

The attacks are ART's own, run per input in the worst case (an input counts as robust only if it survives every
attack), in the order of Croce & Hein's AutoAttack: APGD with cross-entropy, APGD-T with the targeted
difference-of-logits-ratio loss on the most likely wrong classes, then the black-box Square attack, whose successes
after the white-box attacks are a sign of gradient masking. Before attacking, probes decide how: a defence whose
gradient is missing, zero or non-finite is attacked through :class:`~art_ext.evaluation.BPDA`, a randomised
defence with Expectation over Transformation. Sanity checks (Carlini et al. 2019, Zimmermann et al. 2022) turn
into ``Report.flags``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from art_ext.evaluation.checks import run_checks
from art_ext.evaluation.report import Report
from art_ext.params import BOOL, POSITIVE_INT, SEED, Interval, Options, validate_params

#: The attack settings of each preset. ``standard``: the AutoAttack set (Croce & Hein 2020) with restarts;
#: ``quick``: a CPU-sized subset that keeps a black-box attack, so gradient masking still cannot hide.
PRESETS: dict[str, dict[str, Any]] = {
    "standard": dict(
        apgd_iter=100,
        apgd_restarts=5,
        targets=9,
        apgd_t_iter=100,
        deepfool=True,
        square_queries=5000,
        eot_samples=20,
        large_eps_iter=20,
        joint_iter=100,
        joint_restarts=2,
        joint_targets=3,
    ),
    "quick": dict(
        apgd_iter=50,
        apgd_restarts=1,
        targets=3,
        apgd_t_iter=50,
        deepfool=False,
        square_queries=1000,
        eot_samples=5,
        large_eps_iter=10,
        joint_iter=50,
        joint_restarts=1,
        joint_targets=2,
    ),
}

_PROBE = 16  # inputs used by the gradient and randomness probes


@contextlib.contextmanager
def _numpy_seed(seed: int | None):
    """ART's attacks draw from NumPy's global generator: seed it for the evaluation and restore it afterwards."""
    if seed is None:
        yield
        return
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _one_hot(labels: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float32)[labels]


def _norms(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = delta.reshape(len(delta), -1)
    return np.abs(flat).max(axis=1, initial=0.0), np.linalg.norm(flat, axis=1)


def _project(x: np.ndarray, x_adv: np.ndarray, eps: float, linf: bool, clip) -> np.ndarray:
    delta = x_adv - x
    if linf:
        delta = np.clip(delta, -eps, eps)
    else:
        norms = np.linalg.norm(delta.reshape(len(delta), -1), axis=1).reshape((-1,) + (1,) * (x.ndim - 1))
        delta = delta * np.minimum(1.0, eps / np.maximum(norms, 1e-12))
    out = x + delta
    return out if clip is None else np.clip(out, clip[0], clip[1])


def _model_outputs_probabilities(classifier, x: np.ndarray) -> bool:
    """Whether the classifier's model outputs probabilities (so its attack view takes their log)."""
    from art.utils import is_probability

    from art_ext.estimators.two_n_view import outputs_logits

    if not outputs_logits(classifier):
        return True
    x_pre, _ = classifier._apply_preprocessing(x, None, fit=False)  # pylint: disable=protected-access
    out = np.asarray(classifier.model(x_pre, training=False))
    return bool(all(is_probability(row) for row in out)) and out.shape[1] > 1


def _probe_gradient(view, x: np.ndarray) -> str | None:
    """``None`` if the view's loss gradient is usable on ``x``, else what is wrong with it, in words.

    The loss is the cross-entropy towards each input's runner-up class, which is far from saturated even on
    confidently classified inputs, so a zero gradient means masking, not confidence.
    """
    logits = view.predict(x)
    runner_up = np.argsort(-logits, axis=1)[:, 1]
    try:
        grad = view.loss_gradient(x, _one_hot(runner_up, logits.shape[1]))
    except Exception as err:  # any failure to differentiate counts as a missing gradient
        return f"missing (differentiating raised {type(err).__name__})"
    if grad is None or np.asarray(grad).size == 0:
        return "missing"
    grad = np.asarray(grad)
    if not np.all(np.isfinite(grad)):
        return "non-finite"
    zero = np.mean(np.abs(grad.reshape(len(x), -1)).max(axis=1) == 0.0)
    if zero > 0.25:
        return f"zero on {100 * zero:.0f}% of the probed inputs"
    return None


def _check_eps(eps) -> list[float]:
    values = list(eps) if isinstance(eps, (list, tuple, np.ndarray)) else [eps]
    if not values:
        raise ValueError("evaluate: eps must be a positive number or a non-empty list of them, got []")
    for value in values:
        validate_params({"eps": [Interval(Real, 0, None, closed="neither")]}, {"eps": value}, caller="evaluate")
    return [float(v) for v in values]


def evaluate(
    classifier,
    x: np.ndarray,
    y: np.ndarray,
    eps: float | list[float] = 0.3,
    norm="inf",
    preset: str = "standard",
    detector=None,
    detector_logit: Callable | None = None,
    bpda="auto",
    eot="auto",
    attack_options: dict[str, Any] | None = None,
    batch_size: int = 128,
    seed: int | None = 0,
    verbose: bool = True,
) -> Report:
    """Evaluate the adversarial robustness of an ART classifier, defences included, in the worst case per input.

    :param classifier: An ART ``TensorFlowV2Classifier`` (or subclass: ``NClassView``, ``MajorityVoteClassifier``,
        ...), its defences inside (``preprocessing_defences``) as ART users hold them; logits or probabilities.
        An ``NClassView`` of a 2N / NULL labeling model brings its own detector.
    :param x: Inputs in ART's layout, within the classifier's ``clip_values``.
    :param y: True labels (indices or one-hot).
    :param eps: Perturbation budget, or a list of budgets (the first is the headline ``Report.robust_accuracy``,
        all of them make the accuracy-vs-eps curve), in the units of the classifier's ``clip_values`` (e.g. 0.3 of a
        (0, 1) range is 76.5 of a (0, 255) range).
    :param norm: ``"inf"`` or ``2``.
    :param preset: ``"standard"`` (AutoAttack: APGD-CE with 5 restarts, APGD-T on 9 targets, DeepFool in FAB-T's
        place, Square with 5,000 queries) or ``"quick"`` (APGD-CE, APGD-T on 3 targets, Square with 1,000 queries).
    :param detector: An ART ``EvasionDetector`` in front of the classifier; adds the joint attack (misclassify AND
        evade it), accuracy with rejection and the detector's false-positive rate.
    :param detector_logit: ``x -> score`` in TensorFlow (flagged where ``score > 0``) for a detector without a
        built-in gradient (see :func:`~art_ext.evaluation.detector_logit_function`).
    :param bpda: ``"auto"`` (BPDA when the probe finds the defence's gradient missing, zero or non-finite; with
        working gradients both the exact and the BPDA gradient are attacked), ``True`` or ``False``.
    :param eot: ``"auto"`` (EOT with the preset's number of samples when two forward passes differ), or the number
        of samples (``0``: none).
    :param attack_options: Overrides of the preset's settings (keys of :data:`PRESETS`, e.g.
        ``{"square_queries": 2000}``).
    :param batch_size: Inputs per call.
    :param seed: Seed of the attacks' randomness (``None``: not seeded). NumPy's global state is restored afterwards.
    :param verbose: Progress bars.
    :return: The :class:`Report`.
    :raises ValueError: For invalid arguments, before any attack runs.
    """
    from art.defences.detector.evasion import EvasionDetector
    from art.estimators.classification import TensorFlowV2Classifier

    from art_ext.estimators import NClassView
    from art_ext.utils import check_inputs, check_labels

    if not isinstance(classifier, TensorFlowV2Classifier):
        raise ValueError(
            "evaluate: classifier must be an ART TensorFlowV2Classifier (see art_ext.estimators.wrap), "
            f"got {type(classifier).__name__}"
        )
    eps_list = _check_eps(eps)
    validate_params(
        {
            "norm": [Options(("inf", np.inf, 2))],
            "preset": [Options(tuple(PRESETS))],
            "bpda": [Options(("auto", True, False))],
            "eot": [Options(("auto",)), Interval(Integral, 0, None)],
            "batch_size": [POSITIVE_INT],
            "seed": [None, SEED],
            "verbose": [BOOL],
        },
        {
            "norm": norm,
            "preset": preset,
            "bpda": bpda,
            "eot": eot,
            "batch_size": batch_size,
            "seed": seed,
            "verbose": verbose,
        },
        caller="evaluate",
    )
    cfg = dict(PRESETS[preset])
    for key, value in (attack_options or {}).items():
        if key not in cfg:
            raise ValueError(f"evaluate: attack_options has an unknown key {key!r}; known: {sorted(cfg)}")
        accepted = [BOOL] if isinstance(cfg[key], bool) else [POSITIVE_INT]
        validate_params({f"attack_options[{key!r}]": accepted}, {f"attack_options[{key!r}]": value}, caller="evaluate")
        cfg[key] = value
    if detector is not None and not isinstance(detector, EvasionDetector):
        raise ValueError(f"evaluate: detector must be an ART EvasionDetector or None, got {type(detector).__name__}")
    if detector_logit is not None and not callable(detector_logit):
        raise ValueError("evaluate: detector_logit must be a callable x -> score")
    x = check_inputs(x, "x", classifier.clip_values, tuple(classifier.input_shape))
    labels = check_labels(y, len(x), classifier.nb_classes)
    if detector is None and isinstance(classifier, NClassView):
        from art_ext.defences.detector.evasion import NullLabelingDetector, TwoNLabelingDetector

        kind = TwoNLabelingDetector if classifier.kind == "2n" else NullLabelingDetector
        detector = kind(classifier.extended_classifier)
    if detector is not None and detector_logit is None:
        from art_ext.evaluation.detector import detector_logit_function

        detector_logit = detector_logit_function(detector)  # built once; raises now, before any work, if none
    with _numpy_seed(seed):
        return _Evaluation(
            classifier,
            x,
            labels,
            eps_list,
            "inf" if norm in ("inf", np.inf) else 2,
            preset,
            cfg,
            detector,
            detector_logit,
            bpda,
            eot,
            batch_size,
            seed,
            verbose,
        ).run()


class _Evaluation:
    """One run of :func:`evaluate` (arguments already validated)."""

    def __init__(
        self,
        classifier,
        x,
        labels,
        eps_list,
        norm,
        preset,
        cfg,
        detector,
        detector_logit,
        bpda,
        eot,
        batch_size,
        seed,
        verbose,
    ):
        self.clf, self.x, self.labels, self.eps_list, self.norm = classifier, x, labels, eps_list, norm
        self.preset, self.cfg = preset, cfg
        self.detector, self.detector_logit, self.bpda_option, self.eot_option = detector, detector_logit, bpda, eot
        self.batch_size, self.seed, self.verbose = batch_size, seed, verbose
        self.linf = norm == "inf"
        self.n, self.k = len(x), classifier.nb_classes
        clip = classifier.clip_values
        self.clip = None if clip is None else (float(clip[0]), float(clip[1]))
        self.span = (self.clip[1] - self.clip[0]) if self.clip else float(x.max() - x.min() or 1.0)
        self.probe: dict[str, Any] = {}

    # ------------------------------------------------------------------ predictions of the user's classifier
    def predict_labels(self, x: np.ndarray) -> np.ndarray:
        """The user's classifier's labels; with a randomised defence, the argmax of the mean over EOT passes."""
        passes = self.eot_samples if self.randomised else 1
        out = np.mean([self.clf.predict(x, batch_size=self.batch_size) for _ in range(passes)], axis=0)
        return out.argmax(axis=1)

    def rejected(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.detector.detect(x, batch_size=self.batch_size)[1], bool).reshape(-1)

    # ------------------------------------------------------------------ probes
    def _probe(self) -> None:
        from art_ext.evaluation._views import attack_view

        xp = self.x[:_PROBE]
        first = self.clf.predict(xp, batch_size=self.batch_size)
        second = self.clf.predict(xp, batch_size=self.batch_size)
        self.randomised = bool(np.max(np.abs(first - second)) > 1e-5)
        if self.eot_option == "auto":
            self.eot_samples = self.cfg["eot_samples"] if self.randomised else 0
        else:
            self.eot_samples = int(self.eot_option)
        self.probabilities = _model_outputs_probabilities(self.clf, xp)
        eot = self.eot_samples
        exact = attack_view(self.clf, self.probabilities, bpda=False, eot=eot)
        self.has_defences = bool(self.clf.preprocessing_defences)
        problem = _probe_gradient(exact, xp)
        self.probe = {
            "randomised": self.randomised,
            "eot_samples": eot,
            "probability_outputs": self.probabilities,
            "gradient": problem or "ok",
        }
        if self.bpda_option is True:
            self.use_bpda = "only" if problem else "also"
        elif self.bpda_option is False:
            self.use_bpda = "no"
        else:
            self.use_bpda = ("only" if problem else "also") if self.has_defences else "no"
        if not self.has_defences and self.use_bpda != "no":
            self.use_bpda = "no"
        bpda_problem = None
        if self.use_bpda != "no":
            bpda_view = attack_view(self.clf, self.probabilities, bpda=True, eot=eot)
            bpda_problem = _probe_gradient(bpda_view, xp)
            self.probe["gradient_bpda"] = bpda_problem or "ok"
        self.forward_view = exact
        self.views = {}
        if self.use_bpda != "only":
            self.views[""] = exact
        if self.use_bpda != "no":
            self.views[" (BPDA)"] = bpda_view
        from art_ext.evaluation._views import TargetedMarginLoss

        self.target_view = attack_view(
            self.clf, self.probabilities, bpda=self.use_bpda == "only", eot=eot, loss_object=TargetedMarginLoss()
        )
        self.white_box_blind = bool(problem) and (self.use_bpda == "no" or bpda_problem is not None)

    # ------------------------------------------------------------------ the attacks
    def _apgd(self, view, eps: float, max_iter: int, targeted: bool, restarts: int = 1):
        """ART's APGD on ``view`` (with the view's own loss) at the evaluation's norm and batch size."""
        from art.attacks.evasion import AutoProjectedGradientDescent

        return AutoProjectedGradientDescent(
            view,
            norm=np.inf if self.linf else 2,
            eps=eps,
            eps_step=2 * eps,
            max_iter=max_iter,
            targeted=targeted,
            nb_random_init=restarts,
            batch_size=self.batch_size,
            loss_type=None,
            verbose=False,
        )

    def _over_targets(
        self, eps: float, x: np.ndarray, labels: np.ndarray, nb_targets: int, attack, joint: bool = False
    ) -> np.ndarray:
        """Run ``attack(x, targets) -> x_adv`` towards the main view's most likely wrong classes in turn, each on the
        inputs no earlier target broke (misclassified; with ``joint``, also not flagged by the detector)."""
        logits = next(iter(self.views.values())).predict(x, batch_size=self.batch_size)
        logits[np.arange(len(x)), labels] = -np.inf
        order = np.argsort(-logits, axis=1)
        x_adv, todo = x.copy(), np.ones(len(x), bool)
        for rank in range(nb_targets):
            idx = np.flatnonzero(todo)
            if not len(idx):
                break
            out = _project(x[idx], attack(x[idx], order[idx, rank]), eps, self.linf, self.clip)
            broken = self.predict_labels(out) != labels[idx]
            if joint:
                broken &= ~self.rejected(out)
            x_adv[idx[broken]] = out[broken]
            todo[idx[broken]] = False
        return x_adv

    def _attacks(self, eps: float) -> list[tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray], bool]]:
        """``(name, attack(x, labels) -> x_adv, bounded)`` in the order they run."""
        from art.attacks.evasion import DeepFool, SquareAttack

        cfg, norm = self.cfg, (np.inf if self.linf else 2)
        attacks = []
        for suffix, view in self.views.items():

            def apgd_ce(x, labels, view=view):
                attack = self._apgd(view, eps, cfg["apgd_iter"], targeted=False, restarts=cfg["apgd_restarts"])
                return attack.generate(x, y=_one_hot(labels, self.k))

            attacks.append((f"APGD-CE{suffix}", apgd_ce, True))
        targets = min(cfg["targets"], self.k - 1)
        target_view = self.target_view
        main_view = next(iter(self.views.values()))

        def apgd_t(x, labels):
            attack = self._apgd(target_view, eps, cfg["apgd_t_iter"], targeted=True)
            return self._over_targets(eps, x, labels, targets, lambda x, t: attack.generate(x, y=_one_hot(t, self.k)))

        attacks.append((f"APGD-T ({targets} targets)", apgd_t, True))
        if cfg["deepfool"]:

            def deepfool(x, labels):
                # ART 1.20 has no FAB; DeepFool (ART's own AutoAttack uses it) is the minimum-norm attack in its place,
                # projected onto the eps-ball.
                return DeepFool(
                    main_view,
                    max_iter=50,
                    epsilon=0.02,
                    nb_grads=min(10, self.k),
                    batch_size=self.batch_size,
                    verbose=False,
                ).generate(x)

            attacks.append(("DeepFool (FAB-T's place)", deepfool, False))

        def square(x, labels):
            # black-box: it only queries the defended forward pass (compiled; gradients are never used), so no
            # gradient masking can stop it; success is judged by the user's classifier
            return SquareAttack(
                self.forward_view,
                norm=norm,
                eps=eps,
                max_iter=cfg["square_queries"],
                p_init=0.8,
                nb_restarts=1,
                batch_size=self.batch_size,
                verbose=False,
            ).generate(x, y=_one_hot(labels, self.k))

        attacks.append((f"Square ({cfg['square_queries']} queries)", square, True))
        return attacks

    def _attack_at(self, eps: float, records: list[dict], bar) -> dict[str, Any]:
        """Run every attack at ``eps`` on the inputs still robust; fill the per-input records; return a summary."""
        x, labels = self.x, self.labels
        robust = self.clean_correct.copy()
        x_final = x.copy()
        broken_by = np.full(self.n, "", dtype=object)
        outcome: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        outside: dict[str, int] = {}
        white_survivors = None
        tag = f"@{eps:g}"
        candidates = []
        for name, attack, bounded in self._attacks(eps):
            if name.startswith("Square"):
                white_survivors = int(robust.sum())
            idx = np.flatnonzero(robust)
            column = np.full(self.n, "not run", dtype=object)
            column[~self.clean_correct] = "misclassified clean"
            counts[name] = 0
            if len(idx):
                out = np.asarray(attack(x[idx], labels[idx]), dtype=np.float32)
                if bounded:
                    linf, l2 = _norms(out - x[idx])
                    size = linf if self.linf else l2
                    outside[name] = int(np.sum(size > eps * (1 + 1e-4) + 1e-6))
                out = _project(x[idx], out, eps, self.linf, self.clip)
                broken = self.predict_labels(out) != labels[idx]
                column[idx] = np.where(broken, "misclassified", "held")
                x_final[idx[broken]] = out[broken]
                broken_by[idx[broken]] = name
                robust[idx[broken]] = False
                counts[name] = int(broken.sum())
                candidates.append((name, idx, out))
            outcome[name] = column
            bar.update(1)
        square_name = next(name for name in counts if name.startswith("Square"))
        summary = {
            "eps": eps,
            "broken_by": counts,
            "outside_budget": outside,
            "white_box_survivors": white_survivors,
            "black_box_extra": counts[square_name],
        }
        final_pred = self.predict_labels(x_final)
        robust_final = final_pred == labels
        summary["robust_accuracy"] = float(robust_final.mean())
        linf, l2 = _norms(x_final - x)
        if self.detector is not None:
            summary.update(self._detector_at(eps, candidates, records, tag))
        for i, rec in enumerate(records):
            rec[f"robust{tag}"] = bool(robust_final[i])
            rec[f"adv_pred{tag}"] = int(final_pred[i])
            rec[f"broken_by{tag}"] = broken_by[i]
            rec[f"linf{tag}"] = float(linf[i])
            rec[f"l2{tag}"] = float(l2[i])
            for name, column in outcome.items():
                rec[f"{name}{tag}"] = column[i]
        return summary

    # ------------------------------------------------------------------ detector
    def _detector_at(self, eps: float, candidates, records, tag: str) -> dict[str, Any]:
        """Accuracy with rejection at ``eps``: the classifier attacks' outputs, then the joint attacks, each on the
        inputs still defended (correct and not flagged, or flagged): by gradient, towards the extended model's clean
        classes for a 2N / NULL labeling detector, and the joint Square attack from forward passes."""
        keep = self.clean_correct & ~self.clean_rejected
        survives = keep.copy()
        for _, cidx, out in candidates:  # classifier-only attacks: evaded if misclassified and not flagged
            evaded = (self.predict_labels(out) != self.labels[cidx]) & ~self.rejected(out)
            survives[cidx[evaded]] = False
        stages = [("joint attack", self._joint_gradient, keep)]
        if self._extended_detector() is not None:
            stages.append(("joint APGD-T", self._joint_extended_targets, None))
        stages.append(("joint Square", self._joint_square, None))
        broken: dict[str, int] = {}
        white_survivors = 0
        for name, attack, attacked in stages:
            if name == "joint Square":
                white_survivors = int(survives.sum())
            idx = np.flatnonzero(survives if attacked is None else attacked)
            broken[name] = 0
            if not len(idx):
                continue
            out = _project(self.x[idx], attack(eps, self.x[idx], self.labels[idx]), eps, self.linf, self.clip)
            evaded = (self.predict_labels(out) != self.labels[idx]) & ~self.rejected(out)
            broken[name] = int(evaded.sum())
            survives[idx[evaded]] = False
            for j, i in enumerate(idx):
                records[i][f"{name}{tag}"] = "misclassified, not flagged" if evaded[j] else "held"
        for i, rec in enumerate(records):
            rec[f"robust_with_rejection{tag}"] = bool(survives[i])
        return {
            "accuracy_with_rejection": float(survives.mean()),
            "joint_attack_broken": broken["joint attack"],
            "joint_broken_by": broken,
            "joint_white_box_survivors": white_survivors,
            "joint_black_box_extra": broken["joint Square"],
        }

    def _joint_gradient(self, eps: float, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """:class:`~art_ext.evaluation.JointDetectorAttack`: cross-entropy to a target plus the detector's score."""
        from art_ext.evaluation.detector import JointDetectorAttack

        cfg = self.cfg
        return JointDetectorAttack(
            self.clf,
            self.detector,
            eps=eps,
            norm="inf" if self.linf else 2,
            max_iter=cfg["joint_iter"],
            nb_random_init=cfg["joint_restarts"],
            nb_targets=min(cfg["joint_targets"], self.k - 1),
            batch_size=self.batch_size,
            detector_logit=self.detector_logit,
            bpda=self.use_bpda == "only",
            seed=self.seed,
            verbose=False,
        ).generate(x, labels)

    def _extended_detector(self):
        """The 2N / NULL labeling detector (its extended classifier holds the detector), else ``None``."""
        from art_ext.defences.detector.evasion.two_n_labeling import _ExtendedLabelDetector

        return self.detector if isinstance(self.detector, _ExtendedLabelDetector) else None

    def _joint_extended_targets(self, eps: float, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """APGD-T on the 2N / NULL model itself, towards the *clean* output of another class: reaching it means
        misclassified and not flagged at once, one objective with no trade-off between two losses (the attack an
        adversary who knows the 2N outputs runs). Targets: the N-class view's most likely wrong classes."""
        from art_ext.estimators.two_n_view import outputs_logits
        from art_ext.evaluation._views import attack_view

        extended = self._extended_detector().classifier
        view = attack_view(extended, not outputs_logits(extended), bpda=self.use_bpda == "only", eot=self.eot_samples)
        attack = self._apgd(view, eps, self.cfg["apgd_t_iter"], targeted=True)
        return self._over_targets(
            eps,
            x,
            labels,
            min(self.cfg["joint_targets"], self.k - 1),
            lambda x, t: attack.generate(x, y=_one_hot(t, extended.nb_classes)),
            joint=True,
        )

    def _joint_square(self, eps: float, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Square on the classifier and the detector at once, from forward passes only (no gradient to mask): it
        minimises ``relu(margin) + relu(score)`` (the true class's logit margin over the best other class, the
        detector's score above its threshold), with a small reward for a deeper margin, and stops on an input that is
        misclassified and not flagged."""
        from art.attacks.evasion import SquareAttack

        from art_ext.evaluation._views import JointScores

        joint, k = JointScores(self.forward_view, self.detector_logit), self.k

        def margin(outputs, y):
            true = outputs[:, :k][np.arange(len(y)), y.argmax(1)]
            others = np.where(y.astype(bool), -np.inf, outputs[:, :k]).max(axis=1)
            return true - others

        def loss(x_query, y):
            outputs = joint.predict(x_query, batch_size=self.batch_size)
            m = margin(outputs, y)
            return np.maximum(m, 0.0) + np.maximum(outputs[:, k], 0.0) + 0.01 * np.minimum(m, 0.0)

        def evaded(outputs, y):
            return (margin(outputs, y) < 0) & (outputs[:, k] <= 0)

        return SquareAttack(
            joint,
            norm=np.inf if self.linf else 2,
            adv_criterion=evaded,
            loss=loss,
            eps=eps,
            max_iter=self.cfg["square_queries"],
            p_init=0.8,
            nb_restarts=1,
            batch_size=self.batch_size,
            verbose=False,
        ).generate(x, y=_one_hot(labels, k))

    # ------------------------------------------------------------------ large eps
    def _large_eps(self) -> dict[str, Any]:
        """One cheap attack at a budget that reaches any input: a working attack must take accuracy to ~0."""

        eps = self.span if self.linf else self.span * math.sqrt(float(np.prod(self.x.shape[1:])))
        idx = np.flatnonzero(self.clean_correct)[:100]
        if not len(idx):
            return {"eps": eps, "accuracy": 0.0, "n": 0}
        attack = self._apgd(next(iter(self.views.values())), eps, self.cfg["large_eps_iter"], targeted=False)
        out = attack.generate(self.x[idx], y=_one_hot(self.labels[idx], self.k))
        out = _project(self.x[idx], out, eps, self.linf, self.clip)
        accuracy = float(np.mean(self.predict_labels(out) == self.labels[idx]))
        return {"eps": float(eps), "accuracy": accuracy, "n": int(len(idx))}

    # ------------------------------------------------------------------ run
    def run(self) -> Report:
        start = time.time()
        self._probe()
        clean_pred = self.predict_labels(self.x)
        self.clean_correct = clean_pred == self.labels
        records = [
            {
                "index": i,
                "label": int(self.labels[i]),
                "clean_pred": int(clean_pred[i]),
                "clean_correct": bool(self.clean_correct[i]),
            }
            for i in range(self.n)
        ]
        detector_info: dict[str, Any] | None = None
        if self.detector is not None:
            self.clean_rejected = self.rejected(self.x)
            for i, rec in enumerate(records):
                rec["clean_rejected"] = bool(self.clean_rejected[i])
            detector_info = {
                "false_positive_rate": float(self.clean_rejected.mean()),
                "clean_accuracy_with_rejection": float(np.mean(self.clean_correct & ~self.clean_rejected)),
            }
        n_attacks = len(self._attacks(self.eps_list[0]))
        per_eps = []
        with tqdm(total=n_attacks * len(self.eps_list), desc="evaluate", disable=not self.verbose) as bar:
            for eps in self.eps_list:
                bar.set_postfix_str(f"eps {eps:g}")
                per_eps.append(self._attack_at(eps, records, bar))
        large = self._large_eps()
        if self.detector is not None:
            headline = self.eps_list[0]
            half = _Evaluation(
                self.clf,
                self.x,
                self.labels,
                [headline / 2],
                self.norm,
                self.preset,
                self.cfg,
                None,
                None,
                self.bpda_option,
                self.eot_option,
                self.batch_size,
                self.seed,
                False,
            )
            half._probe()
            half.clean_correct = self.clean_correct
            scratch = [dict() for _ in range(self.n)]
            with tqdm(
                total=n_attacks, desc=f"classifier alone at eps {headline / 2:g}", disable=not self.verbose
            ) as bar:
                half_summary = half._attack_at(headline / 2, scratch, bar)
            detector_info.update(
                tramer={
                    "eps": headline,
                    "accuracy_with_rejection": per_eps[0]["accuracy_with_rejection"],
                    "classifier_eps": headline / 2,
                    "classifier_robust_accuracy": half_summary["robust_accuracy"],
                }
            )
        settings = {
            "preset": self.preset,
            "attacks": self.cfg,
            "eps": self.eps_list,
            "norm": self.norm,
            "n": self.n,
            "seed": self.seed,
            "clip_values": self.clip,
            "bpda": self.use_bpda,
            "eot_samples": self.eot_samples,
            "probe": self.probe,
            "attack_names": [name for name, _, _ in self._attacks(self.eps_list[0])],
        }
        clean_accuracy = float(self.clean_correct.mean())
        flags = run_checks(clean_accuracy, per_eps, large, self.probe, self.use_bpda, self.white_box_blind, self.n)
        settings["seconds"] = round(time.time() - start, 1)
        return Report(
            clean_accuracy=clean_accuracy,
            per_eps=per_eps,
            large_eps=large,
            flags=flags,
            per_sample=records,
            settings=settings,
            detector=detector_info,
        )
