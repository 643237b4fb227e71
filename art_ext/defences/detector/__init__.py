"""Detectors, as in :mod:`art.defences.detector`."""
