"""Defences: preprocessors, trainers and detectors, as in :mod:`art.defences`."""
