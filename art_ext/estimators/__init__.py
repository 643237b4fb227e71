"""Estimator helpers: wrap a Keras model as an ART ``TensorFlowV2Classifier`` the fast way."""
from art_ext.estimators.classification import make_train_step, wrap
from art_ext.estimators.majority_vote import MajorityVoteClassifier

__all__ = ["MajorityVoteClassifier", "make_train_step", "wrap"]
