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


def test_fit_traces_once_per_model_including_the_last_smaller_batch(mnist_small):
    (x, y), _ = mnist_small
    classifier = wrap(get_model("simple_mlp", (28, 28, 1), 10))
    for _ in range(3):
        classifier.fit(x[:130], y[:130], batch_size=64, nb_epochs=1)  # batches 64, 64, 2
    assert classifier.train_step.experimental_get_tracing_count() == 1
    classifier.fit(x[:130], np.eye(10)[y[:130]], batch_size=64, nb_epochs=1)  # one-hot labels: the same format
    assert classifier.train_step.experimental_get_tracing_count() == 1


def test_one_hot_labels_and_probability_outputs(mnist_small):
    (x, y), _ = mnist_small
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    classifier = wrap(keras.Model(inputs, outputs), sparse_labels=False, learning_rate=1e-2)
    assert classifier.loss_object.get_config()["from_logits"] is False
    classifier.fit(x, np.eye(10)[y], batch_size=64, nb_epochs=3)
    assert np.mean(classifier.predict(x).argmax(1) == y) > 0.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(nb_classes=5), "10 outputs"),
        (dict(input_shape=(32, 32, 3)), "input_shape"),
        (dict(clip_values=(1.0, 0.0)), "clip_values"),
        (dict(nb_classes=1), "nb_classes"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        wrap(get_model("simple_mlp", (28, 28, 1), 10), **kwargs)


def test_rejects_non_keras_models():
    with pytest.raises(ValueError, match="keras.Model"):
        wrap(lambda x: x, nb_classes=10)


@pytest.fixture(scope="module")
def small_wrapped():
    """A freshly wrapped tiny MLP (its compiled forward pass not traced yet)."""

    def build(**kwargs):
        return wrap(get_model("simple_mlp", (8, 8, 1), 3, units=(8,)), **kwargs)

    return build


def test_a_wrong_rank_predict_is_refused_and_does_not_break_later_calls(small_wrapped):
    classifier = small_wrapped()
    x = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype(np.float32)
    with pytest.raises(ValueError, match=r"x must have samples of shape \(8, 8, 1\)"):
        classifier.predict(x[..., 0])  # first call: ART traced a shape-agnostic graph here and broke later calls
    assert classifier.predict(x).shape == (4, 3)
    assert classifier.predict(x[:3]).shape == (3, 3)
    with pytest.raises(ValueError, match="x must have samples"):
        classifier.loss_gradient(x[..., 0], np.eye(3)[[0, 1, 2, 0]])
    with pytest.raises(ValueError, match="x must have samples"):
        classifier.class_gradient(x[..., 0], label=0)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda x: (x * 255).astype(np.uint8), "clip_values"),
        (lambda x: x + 2.0, "clip_values"),
        (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), "NaN"),
        (lambda x: x.astype(str), "numeric"),
    ],
)
def test_predict_rejects_bad_inputs(small_wrapped, bad, match):
    x = np.random.default_rng(1).uniform(size=(4, 8, 8, 1)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        small_wrapped(check_range=True).predict(bad(x))


def test_range_is_checked_only_on_request(small_wrapped):
    x = np.random.default_rng(1).uniform(-0.3, 0.3, size=(4, 8, 8, 1)).astype(np.float32)  # a perturbation alone
    assert small_wrapped().predict(x).shape == (4, 3)
    small_wrapped().fit(x, np.arange(4) % 3, nb_epochs=1)
    for call in (lambda c: c.predict(x), lambda c: c.fit(x, np.arange(4) % 3, nb_epochs=1)):
        with pytest.raises(ValueError, match=r"x values must lie within clip_values \(0.0, 1.0\)"):
            call(small_wrapped(check_range=True))
    with pytest.raises(ValueError, match="check_range"):
        small_wrapped(check_range="yes")


def test_soft_labels_train_a_categorical_loss_and_are_refused_by_a_sparse_one(small_wrapped):
    x = np.random.default_rng(6).uniform(size=(6, 8, 8, 1)).astype(np.float32)
    soft = np.full((6, 3), 0.2, np.float32)
    soft[np.arange(6), np.arange(6) % 3] = 0.6
    small_wrapped(sparse_labels=False).fit(x, soft, nb_epochs=1)  # e.g. a distillation student
    with pytest.raises(ValueError, match="one-hot"):
        small_wrapped().fit(x, soft, nb_epochs=1)  # sparse: ART would take the argmax silently
    for bad in (soft * 2, np.where(soft == 0.6, -0.2, 0.6)):
        with pytest.raises(ValueError, match="class probabilities"):
            small_wrapped(sparse_labels=False).fit(x, bad, nb_epochs=1)


def test_predict_runs_batch_by_batch(small_wrapped):
    classifier = small_wrapped()
    x = np.random.default_rng(2).uniform(size=(10, 8, 8, 1)).astype(np.float32)
    whole = classifier.predict(x, batch_size=100)
    seen, forward = [], classifier._forward_pass
    classifier._forward_pass = lambda model, t, training: seen.append(int(t.shape[0])) or forward(model, t, training)
    np.testing.assert_allclose(classifier.predict(x, batch_size=4), whole, atol=1e-6)
    assert seen == [4, 4, 2]
    assert classifier.predict(x[:0]).shape == (0, 3)
    with pytest.raises(ValueError, match="batch_size"):
        classifier.predict(x, batch_size=0)


def test_fit_with_a_nan_pixel_is_refused_and_leaves_the_weights_alone(small_wrapped):
    classifier = small_wrapped()
    x = np.random.default_rng(3).uniform(size=(6, 8, 8, 1)).astype(np.float32)
    x[2, 3, 4, 0] = np.nan
    before = [w.copy() for w in classifier.model.get_weights()]
    with pytest.raises(ValueError, match="x contains NaN"):
        classifier.fit(x, np.zeros(6, int), nb_epochs=1)
    x[2, 3, 4, 0] = 0.5
    for y, match in [
        (np.eye(3)[[0, 1, 2, 0, 1, 2]] * [[1], [1], [1], [1], [1], [0]], "one-hot"),
        (np.array(list("abcabc")), "numeric"),
    ]:
        with pytest.raises(ValueError, match=match):
            classifier.fit(x, y, nb_epochs=1)
    for kwargs in (dict(nb_epochs=0), dict(batch_size=-1), dict(batch_size=True)):
        with pytest.raises(ValueError, match="nb_epochs|batch_size"):
            classifier.fit(x, np.zeros(6, int), **kwargs)
    for old, new in zip(before, classifier.model.get_weights()):
        np.testing.assert_array_equal(old, new)
    classifier.fit(x, np.zeros(6, int), nb_epochs=1)
    assert all(np.isfinite(w).all() for w in classifier.model.get_weights())


def test_outputs_logits_is_read_in_one_place_for_models_and_classifiers():
    from art_ext.estimators import outputs_logits, two_n_view

    assert two_n_view.outputs_logits is outputs_logits
    inputs = keras.Input((4,))
    softmax_layer = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(3)(inputs)))
    softmax_activation = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    logits = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    assert not outputs_logits(softmax_layer) and not outputs_logits(softmax_activation) and outputs_logits(logits)
    assert wrap(softmax_layer).loss_object.get_config()["from_logits"] is False
    assert outputs_logits(wrap(logits)) and not outputs_logits(wrap(logits, from_logits=False))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(clip_values=(0.0, np.inf)),
        dict(clip_values="ab"),
        dict(clip_values=(np.nan, 1.0)),
        dict(learning_rate=0),
        dict(learning_rate=-1.0),
        dict(learning_rate=np.nan),
        dict(learning_rate=True),
        dict(learning_rate="0.1"),
        dict(sparse_labels=2),
        dict(sparse_labels=None),
        dict(from_logits="yes"),
        dict(nb_classes=2.5),
        dict(nb_classes=True),
        dict(optimizer="adam"),
    ],
)
def test_wrap_parameters_are_validated_naming_them(kwargs):
    with pytest.raises(ValueError, match=f"wrap: {next(iter(kwargs))} must be"):
        wrap(get_model("simple_mlp", (8, 8, 1), 3, units=(4,)), **kwargs)
