"""Estimators ART lacks: the fast Keras wrapper, the N-class view of a 2N model, majority vote."""
from art_ext.estimators.classification import make_train_step, wrap
from art_ext.estimators.majority_vote import MajorityVoteClassifier
from art_ext.estimators.two_n_view import REJECTED, FilteringPipeline, MergeExtendedClasses, NClassView

__all__ = ["FilteringPipeline", "MajorityVoteClassifier", "MergeExtendedClasses", "NClassView", "REJECTED",
           "make_train_step", "wrap"]
