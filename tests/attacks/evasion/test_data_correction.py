"""Tests of EnsembleDataCorrection on a 3-model tiny ensemble trained on the embedded MNIST sample."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from art_ext.attacks.evasion import EnsembleDataCorrection


def _train(name, x, y, seed, **options):
    import keras

    from art_ext.estimators import wrap
    from art_ext.models import get_model

    keras.utils.set_random_seed(seed)
    classifier = wrap(get_model(name, (28, 28, 1), 10, **options), learning_rate=1e-2)
    classifier.fit(x, y, batch_size=64, nb_epochs=3, verbose=False)
    return classifier


@pytest.fixture(scope="module")
def data():
    from art_ext.data import load_dataset

    x_train, y_train = load_dataset("mnist", "train", source="embedded")
    x_test, y_test = load_dataset("mnist", "test", source="embedded")
    return (x_train[:1000], y_train[:1000]), (x_test[:300], y_test[:300])


@pytest.fixture(scope="module")
def ensemble(data):
    (x, y), _ = data
    return [
        _train("simple_mlp", x, y, 1, units=(32,)),
        _train("simple_cnn", x, y, 2, filters=(4, 8), dense_units=16),
        _train("simple_mlp", x, y, 3, units=(16,)),
    ]


def _margins(classifiers, x, y):
    z = np.stack([c.predict(x) for c in classifiers])
    true = np.take_along_axis(z, np.broadcast_to(y[None, :, None], z.shape[:2] + (1,)), axis=2)[..., 0]
    other = np.where(np.eye(10, dtype=bool)[y][None], -np.inf, z).max(axis=2)
    return true - other  # (n_models, n)


@pytest.fixture(scope="module")
def corrected(data, ensemble):
    """A mix of inputs some local model misclassifies and inputs all local models get right, corrected once."""
    _, (x, y) = data
    wrong = (_margins(ensemble, x, y) <= 0).any(axis=0)
    assert wrong.sum() >= 10, "the tiny ensemble should misclassify some test digits"
    idx = np.concatenate([np.flatnonzero(wrong)[:24], np.flatnonzero(~wrong)[:24]])
    x_in, y_in = x[idx].copy(), y[idx]
    attack = EnsembleDataCorrection(
        ensemble, confidence=0.0, max_iter=150, binary_search_steps=3, initial_const=1.0, batch_size=64, verbose=False
    )
    x_c = attack.generate(x_in, y_in)
    return attack, x[idx], x_in, y_in, x_c, wrong[idx]


def test_corrects_misclassified_inputs(corrected, ensemble):
    attack, _, x_in, y_in, x_c, wrong = corrected
    assert attack.generating_count_ == int(wrong.sum())
    assert attack.success_[wrong].mean() >= 0.9
    ok = attack.success_
    assert (_margins(ensemble, x_c[ok], y_in[ok]) > 0).all()  # every local model now predicts the true class
    changed = attack.changed_
    assert changed.sum() == (wrong & ok).sum()
    assert (attack.l2_[changed] > 0).all() and (attack.iterations_[changed] > 0).all()
    assert np.median(attack.l2_[changed]) < 3.0  # small changes, not a redrawn digit


def test_correct_inputs_are_bitwise_unchanged(corrected):
    attack, x_orig, x_in, _, x_c, wrong = corrected
    assert np.array_equal(x_c[~wrong], x_in[~wrong])
    assert np.array_equal(x_in, x_orig)  # the input was not modified in place
    assert not attack.changed_[~wrong].any() and (attack.iterations_[~wrong] == 0).all()
    assert (attack.l0_[~wrong] == 0).all() and (attack.l2_[~wrong] == 0).all()


def test_outputs_within_clip_values_and_attributes(corrected):
    attack, _, x_in, _, x_c, _ = corrected
    assert x_c.dtype == np.float32 and x_c.shape == x_in.shape
    assert x_c.min() >= 0.0 and x_c.max() <= 1.0
    for name in ("success_", "changed_", "l0_", "l2_", "linf_", "iterations_"):
        assert getattr(attack, name).shape == (len(x_in),)
    assert (attack.linf_ <= attack.l2_ + 1e-6).all()


def test_confidence_margin_and_ensemble_classifier(data, ensemble):
    from art.estimators.classification import EnsembleClassifier

    _, (x, y) = data
    x, y = x[:32], y[:32]
    kappa = 1.0
    attack = EnsembleDataCorrection(
        EnsembleClassifier(ensemble, clip_values=(0.0, 1.0)),
        confidence=kappa,
        confidence_units="logit",
        max_iter=150,
        binary_search_steps=3,
        initial_const=1.0,
        verbose=False,
    )
    np.testing.assert_array_equal(attack.weights, np.ones(3))
    x_c = attack.generate(x, np.eye(10)[y])  # one-hot labels are accepted
    margins = _margins(ensemble, x_c, y)
    assert attack.generating_count_ == int((_margins(ensemble, x, y) < kappa).any(axis=0).sum())
    assert attack.success_.mean() >= 0.8
    assert (margins[:, attack.success_] >= kappa - 1e-3).all()


def test_deterministic(data, ensemble):
    _, (x, y) = data
    make = lambda: EnsembleDataCorrection(ensemble, max_iter=30, binary_search_steps=1, verbose=False)  # noqa: E731
    np.testing.assert_array_equal(make().generate(x[:40], y[:40]), make().generate(x[:40], y[:40]))


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda x, y: (x, None), "y .*required"),
        (lambda x, y: (x[:, :27], y), "shape"),
        (lambda x, y: (x, y[:-1]), "labels"),
        (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y), "NaN"),
        (lambda x, y: (x * 2.0 + 0.5, y), "clip_values"),
        (lambda x, y: (x, y + 10), r"\[0, 10\)"),
    ],
)
def test_bad_inputs_raise(data, ensemble, bad, message):
    _, (x, y) = data
    attack = EnsembleDataCorrection(ensemble, verbose=False)
    with pytest.raises(ValueError, match=message):
        attack.generate(*bad(x[:4], y[:4]))


def test_mismatched_estimators_raise(ensemble):
    import keras

    from art_ext.estimators import wrap
    from art_ext.models import get_model

    keras.utils.set_random_seed(0)
    with pytest.raises(ValueError, match="classes"):
        EnsembleDataCorrection([ensemble[0], wrap(get_model("simple_mlp", (28, 28, 1), 5, units=(4,)))])
    with pytest.raises(ValueError, match="input_shape"):
        EnsembleDataCorrection([ensemble[0], wrap(get_model("simple_mlp", (14, 14, 1), 10, units=(4,)))])
    with pytest.raises(ValueError, match="clip_values"):
        EnsembleDataCorrection([ensemble[0], wrap(ensemble[1].model, clip_values=(0.0, 255.0))])
    with pytest.raises(ValueError, match="TensorFlowV2Classifier"):
        EnsembleDataCorrection([ensemble[0], "model"])
    with pytest.raises(ValueError, match="at least one"):
        EnsembleDataCorrection([])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"confidence": -1.0}, "confidence"),
        ({"max_iter": 0}, "max_iter"),
        ({"binary_search_steps": 1.5}, "binary_search_steps"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"initial_const": -0.1}, "initial_const"),
        ({"weights": [1.0, 1.0]}, "weights"),
        ({"weights": [0.0, 0.0, 0.0]}, "weights"),
        ({"batch_size": 0}, "batch_size"),
        ({"verbose": "yes"}, "verbose"),
        ({"confidence_units": "probability"}, "confidence_units"),
        ({"strategy": "mirrored"}, "strategy"),
        ({"refine_steps": -1}, "refine_steps"),
    ],
)
def test_bad_params_raise(ensemble, params, message):
    with pytest.raises(ValueError, match=message):
        EnsembleDataCorrection(ensemble, **params)


def test_set_params_after_generate_takes_effect(data, ensemble):
    """Regression: the compiled graph kept the max_iter and confidence of the first generate."""
    _, (x, y) = data
    x, y = x[:16], y[:16]
    attack = EnsembleDataCorrection(ensemble, max_iter=2, binary_search_steps=1, verbose=False)
    attack.generate(x, y)
    attack.set_params(max_iter=25, confidence=2.0)
    fresh = EnsembleDataCorrection(ensemble, max_iter=25, confidence=2.0, binary_search_steps=1, verbose=False)
    np.testing.assert_array_equal(attack.generate(x, y), fresh.generate(x, y))
    np.testing.assert_array_equal(attack.iterations_, fresh.iterations_)
    assert attack.iterations_.max() > 2


def test_set_params_rejects_unknown_keys_and_is_atomic(ensemble):
    attack = EnsembleDataCorrection(ensemble, max_iter=7, verbose=False)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['max_iters'\]"):
        attack.set_params(max_iters=10)
    with pytest.raises(ValueError, match="confidence must be"):
        attack.set_params(max_iter=9, confidence=-1.0)
    assert (attack.max_iter, attack.confidence) == (7, 1.0)
    with pytest.raises(ValueError, match="max_iter must be"):
        attack.set_params(max_iter=True)
    assert attack.get_params()["max_iter"] == 7


def test_generate_rejects_misspelt_arguments(data, ensemble):
    _, (x, y) = data
    with pytest.raises(ValueError, match=r"unexpected argument\(s\) \['max_iter'\]"):
        EnsembleDataCorrection(ensemble, verbose=False).generate(x[:2], y[:2], max_iter=3)


def _variant(classifier, softmax=False, scale=1.0):
    """``classifier``'s network (weights shared) with a softmax head and/or inputs in [0, ``scale``]."""
    import keras

    from art_ext.estimators import wrap

    inputs = keras.Input((28, 28, 1))
    out = classifier.model(keras.layers.Rescaling(1.0 / scale)(inputs) if scale != 1.0 else inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(out) if softmax else out)
    return wrap(model, clip_values=(0.0, scale))


#: Budget of the comparison runs below (small: they compare two runs, not the quality of one).
_COMPARE = dict(max_iter=60, binary_search_steps=2, verbose=False)


@pytest.fixture(scope="module")
def wrong_inputs(data, ensemble):
    """15 inputs some local model gets wrong (odd: two replicas get 8 and 7)."""
    _, (x, y) = data
    wrong = np.flatnonzero((_margins(ensemble, x, y) <= 0).any(axis=0))[:15]
    return x[wrong], y[wrong]


@pytest.fixture(scope="module")
def reference(ensemble, wrong_inputs):
    """The default-margin run on one device that the scale, output-type and strategy runs are compared with."""
    attack = EnsembleDataCorrection(ensemble, **_COMPARE)
    return attack, attack.generate(*wrong_inputs)


def _compare(reference, x_ref, attack, x_other, factor):
    """The two runs made the same corrections up to float rounding, which can move a sample's first success by
    an Adam step and so its binary search's path: successes agree on >= 90% of the inputs; where both succeed,
    distortions have a median relative difference <= 5% and means within 10%, and the corrected inputs are a
    median L2 of <= 0.05 apart ([0, 1] units; a correction measures about 1)."""
    assert reference.changed_.sum() >= 8
    assert (reference.success_ == attack.success_).mean() >= 0.9
    both = reference.success_ & attack.success_ & reference.changed_
    l2_ref, l2_other = reference.l2_[both], attack.l2_[both] / factor
    assert np.median(np.abs(l2_other - l2_ref) / l2_ref) <= 0.05
    assert abs(l2_other.mean() - l2_ref.mean()) <= 0.1 * l2_ref.mean()
    apart = np.sqrt(np.sum(np.square(x_other[both] / factor - x_ref[both]), axis=(1, 2, 3)))
    assert np.median(apart) < 0.05


@pytest.mark.parametrize("softmax, scale", [(False, 255.0), (True, 1.0), (True, 255.0)])
def test_same_corrections_for_softmax_outputs_and_0_255_inputs(ensemble, wrong_inputs, reference, softmax, scale):
    """Regression (issue 19): softmax models were never corrected (margin in probabilities); at (0, 255) the L2
    term grew with the scale while the constant did not."""
    x, y = wrong_inputs
    attack = EnsembleDataCorrection([_variant(c, softmax, scale) for c in ensemble], **_COMPARE)
    x_other = attack.generate(x * scale, y)
    assert x_other.min() >= 0.0 and x_other.max() <= scale
    _compare(*reference, attack, x_other, scale)


def test_spread_margin_is_relative_to_each_models_logits(ensemble, wrong_inputs, reference):
    """``confidence_units="spread"``: margins count in standard deviations of a model's logits, so a model whose
    logits are multiplied by 10 gets the same corrections (same constants too)."""
    import keras

    from art_ext.estimators import wrap

    x, y = wrong_inputs
    hot = []
    for c in ensemble:
        inputs = keras.Input((28, 28, 1))
        hot.append(wrap(keras.Model(inputs, 10.0 * c.model(inputs)), clip_values=(0.0, 1.0)))
    ref, x_ref = reference
    assert (ref.confidence, ref.confidence_units) == (1.0, "spread")  # the defaults
    attack = EnsembleDataCorrection(hot, **_COMPARE)
    _compare(ref, x_ref, attack, attack.generate(x, y), 1.0)
    margins = _margins(ensemble, x_ref, y)[:, ref.success_]
    spread = np.stack([c.predict(x_ref).std(axis=1) for c in ensemble])[:, ref.success_]
    assert (margins >= spread - 1e-3).all()


def _in_scope(strategy, classifier):
    """A copy of ``classifier`` whose network is built inside ``strategy.scope()`` (the Keras way)."""
    import keras

    from art_ext.estimators import wrap

    with strategy.scope():
        model = keras.models.clone_model(classifier.model)
        model.set_weights(classifier.model.get_weights())
        return wrap(model, clip_values=(0.0, 1.0))


def test_strategy_shards_the_batch_with_the_same_corrections(two_cpu_strategy, ensemble, wrong_inputs, reference):
    """Under MirroredStrategy (2 logical CPUs) each replica corrects its half of the batch: the same successes
    and Adam steps; distortions and corrected inputs as close as :func:`_compare` asks (the replicas' smaller
    batches round differently, and Adam carries the differences along)."""
    ref, x_ref = reference
    local = [_in_scope(two_cpu_strategy, c) for c in ensemble]
    attack = EnsembleDataCorrection(local, strategy=two_cpu_strategy, **_COMPARE)
    x_dist = attack.generate(*wrong_inputs)
    np.testing.assert_array_equal(attack.success_, ref.success_)
    np.testing.assert_array_equal(attack.iterations_, ref.iterations_)
    _compare(ref, x_ref, attack, x_dist, 1.0)


def test_strategy_refuses_models_built_outside_its_scope(two_cpu_strategy, ensemble):
    with pytest.raises(ValueError, match=r"estimators\[0\].model was built outside strategy.scope"):
        EnsembleDataCorrection(ensemble, strategy=two_cpu_strategy)
    attack = EnsembleDataCorrection(ensemble, verbose=False)
    with pytest.raises(ValueError, match="outside strategy.scope"):
        attack.set_params(strategy=two_cpu_strategy)
    assert attack.strategy is None


def test_an_unreachable_spread_margin_is_refused_before_any_work(ensemble):
    """A margin over the logits' standard deviation is below K / sqrt(K - 1) for any logits (10 classes: 3.33); a
    larger ``confidence`` would run every iteration and correct nothing, so it is refused, also via set_params."""
    bound = 10 / np.sqrt(9)
    logits = np.r_[1e6, np.zeros(9)]  # the supremum: one logit far above nine equal ones
    assert (logits[0] - logits[1:].max()) / logits.std() == pytest.approx(bound)
    with pytest.raises(ValueError, match=r"confidence=4\.0 spreads can never be met with 10 classes.*3\.33"):
        EnsembleDataCorrection(ensemble, confidence=4.0)
    attack = EnsembleDataCorrection(ensemble, confidence=3.0)  # reachable, if hard
    with pytest.raises(ValueError, match="can never be met"):
        attack.set_params(confidence=bound)
    assert attack.confidence == 3.0
    EnsembleDataCorrection(ensemble, confidence=4.0, confidence_units="logit")  # logits have no such bound


def test_refine_steps_shrink_the_correction_and_keep_the_margin(ensemble, wrong_inputs, reference):
    """After the first success the distortion term alone pulls the correction back towards the margin; the least
    distorted iterate that still meets it is kept, so no input gets a larger correction and the margin holds."""
    attack, x_ref = reference
    refined = EnsembleDataCorrection(ensemble, refine_steps=30, **_COMPARE)
    x_c = refined.generate(*wrong_inputs)
    assert np.array_equal(refined.success_, attack.success_)
    ok = refined.success_ & refined.changed_
    assert ok.sum() >= 8
    assert np.all(refined.l2_[ok] <= attack.l2_[ok] + 1e-6)
    assert refined.l2_[ok].mean() < 0.9 * attack.l2_[ok].mean()
    assert refined.iterations_[ok].sum() > attack.iterations_[ok].sum()
    x, y = wrong_inputs
    z = np.stack([c.predict(x_c[ok]) for c in ensemble])  # every local model meets the default margin (1 spread)
    true = z[:, np.arange(ok.sum()), y[ok]]
    other = np.where(np.eye(10, dtype=bool)[y[ok]][None], -np.inf, z).max(axis=2)
    assert np.all((true - other) / z.std(axis=2) >= 1.0 - 1e-4)


def test_refine_steps_zero_is_the_first_success(ensemble, wrong_inputs, reference):
    attack, x_ref = reference
    same = EnsembleDataCorrection(ensemble, refine_steps=0, **_COMPARE)
    np.testing.assert_array_equal(same.generate(*wrong_inputs), x_ref)
