"""Evasion detectors (ART's :class:`~art.defences.detector.evasion.EvasionDetector`)."""

from art_ext.defences.detector.evasion.two_n_labeling import NullLabelingDetector, TwoNLabelingDetector

__all__ = ["NullLabelingDetector", "TwoNLabelingDetector"]
