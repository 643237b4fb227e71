"""Estimator helpers: wrap a Keras model as an ART ``TensorFlowV2Classifier`` the fast way."""
from art_ext.estimators.classification import make_train_step, wrap
from art_ext.estimators.two_n_view import REJECTED, FilteringPipeline, MergeExtendedClasses, NClassView

__all__ = ["make_train_step", "wrap", "FilteringPipeline", "MergeExtendedClasses", "NClassView", "REJECTED"]
