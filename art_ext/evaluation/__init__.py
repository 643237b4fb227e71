"""Adaptive robustness evaluation: :func:`evaluate` (AutoAttack-style, per input, with sanity checks),
:class:`BPDA` for defences without a usable gradient, and :class:`JointDetectorAttack` for detectors."""

from art_ext.evaluation.adaptive import PRESETS, evaluate
from art_ext.evaluation.bpda import BPDA
from art_ext.evaluation.detector import JointDetectorAttack, detector_logit_function
from art_ext.evaluation.report import Report

__all__ = ["BPDA", "JointDetectorAttack", "PRESETS", "Report", "detector_logit_function", "evaluate"]
