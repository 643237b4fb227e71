"""classifier_logits: ART preprocessing and probability heads, as ART's predict sees them."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from art.defences.preprocessor import SpatialSmoothing
from art.estimators.classification import TensorFlowV2Classifier

from art_ext.estimators import classifier_logits
from art_ext.params import seeded


def _classifier(softmax=False, **kwargs):
    with seeded(0):
        layers = [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
        if softmax:
            layers.append(keras.layers.Softmax())
        model = keras.Sequential(layers)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not softmax)
    return TensorFlowV2Classifier(model, nb_classes=3, input_shape=(4, 4, 1), loss_object=loss, **kwargs)


def test_preprocessing_is_applied_as_art_predict_does():
    x = np.random.default_rng(0).uniform(0, 255, (5, 4, 4, 1)).astype(np.float32)
    clf = _classifier(clip_values=(0, 255), preprocessing=(127.0, 64.0))
    logits = classifier_logits(clf)(tf.constant(x)).numpy()
    np.testing.assert_allclose(logits, clf.predict(x), rtol=1e-5, atol=1e-5)
    raw = clf.model(x).numpy()
    assert not np.allclose(logits, raw)  # the raw model ignores the standardisation


def test_probability_model_gives_log_probabilities():
    x = np.random.default_rng(1).uniform(size=(5, 4, 4, 1)).astype(np.float32)
    clf = _classifier(softmax=True, clip_values=(0, 1))
    out = classifier_logits(clf)(tf.constant(x)).numpy()
    np.testing.assert_allclose(np.exp(out), clf.predict(x), rtol=1e-5)
    centred = out - out.mean(1, keepdims=True)  # log-probabilities = logits + a constant per input
    plain = _classifier(clip_values=(0, 1)).model(x).numpy()
    np.testing.assert_allclose(centred, plain - plain.mean(1, keepdims=True), atol=1e-4)


def test_non_tensorflow_preprocessing_is_refused():
    clf = _classifier(clip_values=(0, 1), preprocessing_defences=[SpatialSmoothing()])
    with pytest.raises(ValueError, match="SpatialSmoothing.*must run in TensorFlow"):
        classifier_logits(clf)
    with pytest.raises(ValueError, match="classifier must be an ART TensorFlowV2Classifier"):
        classifier_logits(object())
