import keras
import numpy as np
import pytest
import tensorflow as tf

from art_ext.defences.detector.evasion import TwoNLabelingDetector
from art_ext.defences.trainer import extend_classes
from art_ext.estimators import REJECTED, FilteringPipeline, MergeExtendedClasses, NClassView, wrap
from art_ext.estimators.two_n_view import attack_logit, n_class_logits
from art_ext.models import get_model


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_n_class_logits_sum_pairs_of_probabilities():
    z = np.random.default_rng(0).normal(size=(7, 8)).astype(np.float32) * 3
    p = _softmax(z)
    np.testing.assert_allclose(_softmax(n_class_logits(tf.constant(z), "2n").numpy()), p[:, :4] + p[:, 4:], atol=1e-6)
    np.testing.assert_allclose(
        _softmax(n_class_logits(tf.constant(z), "null").numpy()), p[:, :7] / (1 - p[:, 7:]), atol=1e-6
    )
    sig = 1 / (1 + np.exp(-attack_logit(tf.constant(z), "2n").numpy()))
    np.testing.assert_allclose(sig, p[:, 4:].sum(1), atol=1e-6)


def test_n_class_logits_rejects_odd_outputs():
    with pytest.raises(ValueError, match="even"):
        n_class_logits(tf.zeros((2, 5)), "2n")
    with pytest.raises(ValueError, match="kind"):
        MergeExtendedClasses("3n")


@pytest.fixture(scope="module")
def extended():
    keras.utils.set_random_seed(0)
    base = get_model("simple_mlp", (8, 8, 1), 3, units=(16,))
    return base, wrap(extend_classes(base, "2n"))


def test_view_of_a_freshly_extended_model_equals_the_original(extended):
    base, clf = extended
    x = np.random.default_rng(1).uniform(size=(16, 8, 8, 1)).astype(np.float32)
    view = NClassView(clf)
    assert view.nb_classes == 3 and clf.nb_classes == 6
    np.testing.assert_allclose(_softmax(view.predict(x)), _softmax(base.predict(x, verbose=0)), atol=1e-5)
    grad = view.loss_gradient(x, np.eye(3, dtype=np.float32)[np.zeros(16, int)])
    assert grad.shape == x.shape and np.isfinite(grad).all() and np.abs(grad).sum() > 0


def test_view_works_with_art_attacks(extended):
    from art.attacks.evasion import ProjectedGradientDescent

    _, clf = extended
    x = np.random.default_rng(2).uniform(size=(8, 8, 8, 1)).astype(np.float32)
    x_adv = ProjectedGradientDescent(NClassView(clf), eps=0.1, eps_step=0.05, max_iter=3, verbose=False).generate(x)
    assert np.abs(x_adv - x).max() <= 0.1 + 1e-6 and np.abs(x_adv - x).max() > 0


def test_view_rejects_a_model_without_2n_outputs():
    clf = wrap(get_model("simple_mlp", (8, 8, 1), 3, units=(4,)))
    with pytest.raises(ValueError, match="even number"):
        NClassView(clf)
    with pytest.raises(ValueError, match="TensorFlowV2Classifier"):
        NClassView(object())


def test_merge_layer_round_trips_through_config():
    layer = MergeExtendedClasses("null", from_logits=False)
    clone = MergeExtendedClasses.from_config(layer.get_config())
    assert (clone.kind, clone.from_logits) == ("null", False)


def test_filtering_pipeline_rejects_flagged_inputs(extended):
    _, clf = extended
    x = np.random.default_rng(3).uniform(size=(10, 8, 8, 1)).astype(np.float32)
    view = NClassView(clf)
    labels, rejected = FilteringPipeline(TwoNLabelingDetector(clf, threshold=0.0), view).predict(x)
    assert rejected.all() and (labels == REJECTED).all()
    labels, rejected = FilteringPipeline(TwoNLabelingDetector(clf, threshold=1.0), view).predict(x)
    assert not rejected.any()
    np.testing.assert_array_equal(labels, view.predict(x).argmax(1))
    with pytest.raises(ValueError, match="EvasionDetector"):
        FilteringPipeline(view, view)


def test_view_checks_inputs_before_its_compiled_forward_pass(extended):
    _, clf = extended
    view = NClassView(clf)
    x = np.random.default_rng(4).uniform(size=(5, 8, 8, 1)).astype(np.float32)
    with pytest.raises(ValueError, match=r"x must have samples of shape \(8, 8, 1\)"):
        view.predict(x[..., 0])  # the first call: a wrong rank used to leave the view unusable
    assert view.predict(x).shape == (5, 3) and view.predict(x[:2]).shape == (2, 3)
    for bad in ((x * 255).astype(np.uint8), x - 1.0, np.where(x > 0.5, np.inf, x)):
        with pytest.raises(ValueError, match="clip_values|NaN or inf"):
            view.predict(bad)


def test_filtering_pipeline_predicts_in_batches(extended):
    _, clf = extended
    x = np.random.default_rng(5).uniform(size=(9, 8, 8, 1)).astype(np.float32)
    view = NClassView(clf)
    pipeline = FilteringPipeline(TwoNLabelingDetector(clf, threshold=0.5), view)
    labels, rejected = pipeline.predict(x, batch_size=100)
    seen, forward = [], view._forward_pass
    view._forward_pass = lambda model, t, training: seen.append(int(t.shape[0])) or forward(model, t, training)
    labels_b, rejected_b = pipeline.predict(x, batch_size=4)
    assert max(seen) <= 4
    np.testing.assert_array_equal(labels, labels_b)
    np.testing.assert_array_equal(rejected, rejected_b)
    with pytest.raises(ValueError, match="batch_size"):
        pipeline.predict(x, batch_size=0)
