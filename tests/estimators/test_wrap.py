import keras
import numpy as np
import pytest
from art.attacks.evasion import FastGradientMethod
from art.estimators.classification import TensorFlowV2Classifier

from art_ext.estimators import wrap
from art_ext.models import get_model


def test_wrapped_classifier_predicts_and_learns(tiny_classifier, mnist_small):
    _, (x, y) = mnist_small
    assert isinstance(tiny_classifier, TensorFlowV2Classifier)
    assert tiny_classifier.nb_classes == 10 and tiny_classifier.input_shape == (28, 28, 1)
    assert tuple(tiny_classifier.clip_values) == (0.0, 1.0)
    assert np.mean(tiny_classifier.predict(x).argmax(1) == y) > 0.6


def test_loss_gradient_and_art_attack(tiny_classifier, mnist_small):
    _, (x, y) = mnist_small
    grad = tiny_classifier.loss_gradient(x[:8], np.eye(10)[y[:8]])  # ART passes one-hot labels here
    assert grad.shape == x[:8].shape and np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0
    x_adv = FastGradientMethod(tiny_classifier, eps=0.2).generate(x[:50])
    assert np.abs(x_adv - x[:50]).max() <= 0.2 + 1e-6
    clean = np.mean(tiny_classifier.predict(x[:50]).argmax(1) == y[:50])
    assert np.mean(tiny_classifier.predict(x_adv).argmax(1) == y[:50]) < clean


def test_fit_does_not_retrace(mnist_small):
    (x, y), _ = mnist_small
    classifier = wrap(get_model("simple_mlp", (28, 28, 1), 10))
    for _ in range(3):
        classifier.fit(x[:130], y[:130], batch_size=64, nb_epochs=1)  # batches 64, 64, 2
    assert classifier.train_step.experimental_get_tracing_count() <= 2


def test_one_hot_labels_and_probability_outputs(mnist_small):
    (x, y), _ = mnist_small
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    classifier = wrap(keras.Model(inputs, outputs), sparse_labels=False, learning_rate=1e-2)
    assert classifier.loss_object.get_config()["from_logits"] is False
    classifier.fit(x, np.eye(10)[y], batch_size=64, nb_epochs=3)
    assert np.mean(classifier.predict(x).argmax(1) == y) > 0.5


@pytest.mark.parametrize("kwargs, match", [
    (dict(nb_classes=5), "10 outputs"),
    (dict(input_shape=(32, 32, 3)), "input_shape"),
    (dict(clip_values=(1.0, 0.0)), "clip_values"),
    (dict(nb_classes=1), "nb_classes"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        wrap(get_model("simple_mlp", (28, 28, 1), 10), **kwargs)


def test_rejects_non_keras_models():
    with pytest.raises(ValueError, match="keras.Model"):
        wrap(lambda x: x, nb_classes=10)
