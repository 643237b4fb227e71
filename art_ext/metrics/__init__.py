"""Metrics the papers report and ART lacks (distortion, filtering accuracy, ...)."""
from art_ext.metrics.distortion import distortion_norms, summarize

__all__ = ["distortion_norms", "summarize"]
