"""Estimators ART lacks: the fast Keras wrapper, the N-class view of a 2N model, majority vote; batch-norm refresh."""

from art_ext.estimators.batch_norm import refresh_batch_norm
from art_ext.estimators.classification import (
    CheckedClassifier,
    classifier_logits,
    make_train_step,
    outputs_logits,
    wrap,
)
from art_ext.estimators.majority_vote import MajorityVoteClassifier
from art_ext.estimators.two_n_view import REJECTED, FilteringPipeline, MergeExtendedClasses, NClassView

__all__ = [
    "CheckedClassifier",
    "FilteringPipeline",
    "MajorityVoteClassifier",
    "MergeExtendedClasses",
    "NClassView",
    "REJECTED",
    "classifier_logits",
    "make_train_step",
    "outputs_logits",
    "refresh_batch_norm",
    "wrap",
]
