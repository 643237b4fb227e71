"""Estimator helpers: wrap a Keras model as an ART ``TensorFlowV2Classifier`` the fast way."""
from art_ext.estimators.classification import make_train_step, wrap

__all__ = ["make_train_step", "wrap"]
