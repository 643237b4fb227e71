"""Evasion detectors (ART's :class:`~art.defences.detector.evasion.EvasionDetector`)."""
