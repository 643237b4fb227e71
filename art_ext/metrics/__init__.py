"""Metrics the papers report and ART lacks (accuracy, distortion, filtering accuracy, ...)."""

from art_ext.metrics.accuracy import accuracy, accuracy_interval, paired_accuracy_difference
from art_ext.metrics.distortion import distortion_norms, summarize
from art_ext.metrics.filtering import (
    accuracy_after_filtering,
    constant_accuracy_ratio,
    filtering_accuracy,
    filtering_helps,
    sensitivity,
    transferability,
)

__all__ = [
    "accuracy",
    "accuracy_interval",
    "paired_accuracy_difference",
    "distortion_norms",
    "summarize",
    "accuracy_after_filtering",
    "constant_accuracy_ratio",
    "filtering_accuracy",
    "filtering_helps",
    "sensitivity",
    "transferability",
]
