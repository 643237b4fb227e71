"""evaluate(): not fooled by gradient masking, no weaker than ART's APGD, flags on failed sanity checks, reports."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from art.defences.preprocessor import FeatureSqueezing
from art.defences.preprocessor.preprocessor import Preprocessor, PreprocessorTensorFlowV2

from art_ext.evaluation import BPDA, evaluate
from art_ext.evaluation.checks import run_checks

#: Small attack settings: the test checks the machinery, not the strength of 100-step attacks.
FAST = {"apgd_iter": 10, "apgd_t_iter": 8, "targets": 2, "square_queries": 40, "large_eps_iter": 5, "joint_iter": 10}
N = 20


class MaskingTF(PreprocessorTensorFlowV2):
    """A "defence" that changes nothing but zeroes the gradient: identity forward, zero backward."""

    def __init__(self):
        super().__init__(is_fitted=True, apply_fit=False, apply_predict=True)

    def forward(self, x, y=None):
        x = tf.convert_to_tensor(x)
        return tf.stop_gradient(x) + 0.0 * x, y


class MaskingNumPy(Preprocessor):
    """The NumPy version: identity, and ART's gradient estimate is zero."""

    def __init__(self):
        super().__init__(is_fitted=True, apply_fit=False, apply_predict=True)

    def __call__(self, x, y=None):
        return x.copy(), y

    def estimate_gradient(self, x, grad):
        return np.zeros_like(grad)

    def fit(self, x, y=None, **kwargs):
        pass


class RandomNoise(PreprocessorTensorFlowV2):
    """A randomised defence: small uniform noise on every call."""

    def __init__(self):
        super().__init__(is_fitted=True, apply_fit=False, apply_predict=True)

    def forward(self, x, y=None):
        x = tf.convert_to_tensor(x)
        return tf.clip_by_value(x + tf.random.uniform(tf.shape(x), -0.05, 0.05), 0.0, 1.0), y


@pytest.fixture(scope="module")
def data(mnist_small):
    _, (x, y) = mnist_small
    return x[:N], y[:N]


@pytest.fixture(scope="module")
def plain(tiny_classifier, data):
    """The undefended classifier's report at eps 0.1."""
    return evaluate(tiny_classifier, *data, eps=0.1, preset="quick", attack_options=FAST, verbose=False)


def _defended(classifier, defence):
    from art_ext.estimators import wrap

    return wrap(classifier.model, preprocessing_defences=defence)


def test_bpda_identity_and_custom_backward(data):
    x = tf.constant(data[0][:4])
    for defence in (MaskingTF(), MaskingNumPy(), FeatureSqueezing(clip_values=(0.0, 1.0), bit_depth=1)):
        bpda = BPDA(defence)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out, _ = bpda.forward(x)
            loss = tf.reduce_sum(out * 2.0)
        np.testing.assert_allclose(out.numpy(), defence(data[0][:4])[0], atol=1e-6)
        np.testing.assert_allclose(tape.gradient(loss, x).numpy(), 2.0)
    halve = BPDA(MaskingTF(), backward=lambda z, g: 0.5 * g)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(halve.forward(x)[0])
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), 0.5)
    np.testing.assert_allclose(halve.estimate_gradient(data[0][:2], np.ones_like(data[0][:2])), 0.5)
    with pytest.raises(ValueError, match="preprocessor"):
        BPDA("jpeg")


def test_not_weaker_than_art_apgd(tiny_classifier, data, plain):
    """Goal 1 in miniature: evaluate's robust accuracy <= ART's APGD-CE with restarts (+ one input)."""
    from art.attacks.evasion import AutoProjectedGradientDescent

    x, y = data
    eps = 0.1
    report = plain
    x_adv = AutoProjectedGradientDescent(
        tiny_classifier, eps=eps, eps_step=2 * eps, max_iter=10, nb_random_init=2, verbose=False
    ).generate(x, y=np.eye(10)[y])
    apgd = float(np.mean(tiny_classifier.predict(x_adv).argmax(1) == y))
    assert 0.0 <= report.robust_accuracy <= apgd + 1.0 / N
    assert report.robust_accuracy <= report.clean_accuracy
    assert report.flags == []
    assert len(report.per_sample) == N
    tag = f"@{eps:g}"
    for rec in report.per_sample:
        assert rec[f"linf{tag}"] <= eps + 1e-5
        if not rec[f"robust{tag}"] and rec["clean_correct"]:
            assert rec[f"broken_by{tag}"] and rec[f"adv_pred{tag}"] != rec["label"]


@pytest.mark.parametrize("defence", [MaskingTF(), MaskingNumPy()], ids=["tf", "numpy"])
def test_masking_defence_does_not_fool_it(tiny_classifier, data, plain, defence):
    """Goal 2 in miniature: identity forward, zero gradient -> BPDA, accuracy near the undefended one, a flag."""
    x, y = data
    masked = evaluate(
        _defended(tiny_classifier, defence), x, y, eps=0.1, preset="quick", attack_options=FAST, verbose=False
    )
    assert abs(masked.robust_accuracy - plain.robust_accuracy) <= 0.05 + 1.0 / N
    assert masked.settings["bpda"] == "only"
    assert any(flag.startswith("gradient masking") for flag in masked.flags), masked.flags
    # without BPDA the white-box attacks are blind, and the checks say so
    blind = evaluate(
        _defended(tiny_classifier, defence),
        x[:8],
        y[:8],
        eps=0.1,
        preset="quick",
        attack_options=FAST,
        bpda=False,
        verbose=False,
    )
    assert any("blind" in flag for flag in blind.flags)
    assert any("does not reach ~0%" in flag for flag in blind.flags)


def test_probabilities_and_other_clip_values(data):
    """A softmax model on inputs in (0, 255): eps is in those units; perturbations respect it."""
    import keras

    from art_ext.estimators import wrap

    x, y = data
    keras.utils.set_random_seed(1)
    inputs = keras.Input((28, 28, 1))
    z = keras.layers.Rescaling(1 / 255)(inputs)
    z = keras.layers.Flatten()(z)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Dense(32, activation="relu")(z))
    clf = wrap(keras.Model(inputs, outputs), clip_values=(0.0, 255.0))
    (xt, yt), _ = (data[0] * 255, data[1]), None
    clf.fit(np.repeat(xt, 8, axis=0), np.repeat(yt, 8), nb_epochs=3, batch_size=32)
    report = evaluate(clf, xt, yt, eps=[25.5, 76.5], preset="quick", attack_options=FAST, verbose=False)
    assert report.settings["probe"]["probability_outputs"] is True
    assert all(rec["linf@25.5"] <= 25.5 + 1e-3 for rec in report.per_sample)
    assert report.robust_accuracy_by_eps[76.5] <= report.robust_accuracy_by_eps[25.5] + 1.0 / N
    assert report.large_eps["eps"] == pytest.approx(255.0)


def test_randomised_defence_gets_eot(tiny_classifier, data):
    x, y = data
    report = evaluate(
        _defended(tiny_classifier, RandomNoise()),
        x[:8],
        y[:8],
        eps=0.1,
        preset="quick",
        attack_options={**FAST, "eot_samples": 2},
        verbose=False,
    )
    assert report.settings["probe"]["randomised"] is True
    assert report.settings["eot_samples"] == 2


def test_checks_raise_flags():
    base = {
        "eps": 0.1,
        "robust_accuracy": 0.5,
        "black_box_extra": 0,
        "white_box_survivors": 50,
        "outside_budget": {"APGD-CE": 0},
    }
    ok = run_checks(0.9, [base], {"eps": 1.0, "accuracy": 0.0, "n": 90}, {"gradient": "ok"}, "also", False, 100)
    assert ok == []
    flags = run_checks(
        0.4,
        [base, {**base, "eps": 0.2, "robust_accuracy": 0.6, "black_box_extra": 7, "outside_budget": {"APGD-CE": 3}}],
        {"eps": 1.0, "accuracy": 0.3, "n": 90},
        {"gradient": "non-finite"},
        "only",
        False,
        100,
    )
    text = " | ".join(flags)
    for needle in (
        "gradient masking",
        "non-finite",
        "black-box beats white-box at eps 0.2",
        "outside the eps 0.2",
        "robust accuracy above clean",
        "does not reach ~0%",
        "rises with eps",
    ):
        assert needle in text, needle


def test_checks_flag_a_detector_that_masks_gradients():
    """Accuracy with rejection rising with eps, and the joint Square attack beating the gradient joint attack, are
    the two signs of a detector whose gradient misleads the attack; each gets its own flag."""
    base = {
        "eps": 0.1,
        "robust_accuracy": 0.0,
        "black_box_extra": 0,
        "white_box_survivors": 0,
        "outside_budget": {},
        "accuracy_with_rejection": 0.5,
        "joint_white_box_survivors": 50,
        "joint_black_box_extra": 0,
    }
    large = {"eps": 1.0, "accuracy": 0.0, "n": 90}
    assert run_checks(0.9, [base], large, {"gradient": "ok"}, "no", False, 100) == []
    masked = {**base, "eps": 0.3, "accuracy_with_rejection": 0.8, "joint_white_box_survivors": 90}
    masked["joint_black_box_extra"] = 40
    flags = run_checks(0.9, [base, masked], large, {"gradient": "ok"}, "no", False, 100)
    assert len(flags) == 2, flags
    assert "accuracy with rejection rises with eps: 50.0% at eps 0.1 but 80.0% at eps 0.3" in flags[0]
    assert "black-box beats white-box on the detector at eps 0.3" in flags[1]
    assert "40 of the 90 inputs" in flags[1]


def test_detector_joint_attack_and_report_files(tiny_classifier, data, tmp_path):
    """A toy detector (flags bright images): the joint attack must evade it; reports carry rejection numbers."""
    from art.defences.detector.evasion import EvasionDetector

    class Bright(EvasionDetector):
        defence_params = []

        def __init__(self, threshold):
            super().__init__()
            self.threshold = threshold

        def detect(self, x, batch_size=128, **kwargs):
            score = x.reshape(len(x), -1).mean(axis=1)
            return {"score": score}, score > self.threshold

        def fit(self, x, y=None, **kwargs):
            pass

    x, y = data
    threshold = float(np.quantile(x.reshape(len(x), -1).mean(axis=1), 0.9))

    def score(z):
        return (tf.reduce_mean(tf.reshape(z, (tf.shape(z)[0], -1)), axis=1) - threshold) * 100.0

    report = evaluate(
        tiny_classifier,
        x,
        y,
        eps=0.1,
        preset="quick",
        attack_options=FAST,
        detector=Bright(threshold),
        detector_logit=score,
        verbose=False,
    )
    d = report.detector
    assert 0.0 < d["false_positive_rate"] <= 0.2
    assert d["accuracy_with_rejection_by_eps"][0.1] <= d["clean_accuracy_with_rejection"]
    assert d["tramer"]["classifier_eps"] == pytest.approx(0.05)
    assert any("joint attack@0.1" in rec for rec in report.per_sample)
    summary = report.per_eps[0]
    assert list(summary["joint_broken_by"]) == ["joint attack", "joint Square"]
    assert summary["joint_white_box_survivors"] >= summary["joint_black_box_extra"] >= 0
    squared = [rec for rec in report.per_sample if "joint Square@0.1" in rec]  # the joint attack's survivors
    assert len(squared) == summary["joint_white_box_survivors"]
    assert sum(rec["joint Square@0.1"] != "held" for rec in squared) == summary["joint_black_box_extra"]
    paths = report.save(str(tmp_path / "out"))
    assert sorted(os.listdir(tmp_path / "out")) == ["accuracy_vs_eps.png", "per_sample.csv", "report.json", "report.md"]
    payload = json.loads(open(paths["json"]).read())
    assert payload["robust_accuracy"] == report.robust_accuracy
    assert len(open(paths["csv"]).read().strip().splitlines()) == N + 1
    assert "accuracy with rejection" in open(paths["md"]).read()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps": 0.0}, "eps"),
        ({"eps": []}, "eps"),
        ({"eps": [0.1, -1]}, "eps"),
        ({"norm": 1}, "norm"),
        ({"preset": "fast"}, "preset"),
        ({"bpda": "yes"}, "bpda"),
        ({"seed": -1}, "seed"),
        ({"attack_options": {"apgd_iters": 3}}, "apgd_iters"),
        ({"attack_options": {"apgd_iter": 0}}, "apgd_iter"),
        ({"detector": "2n"}, "detector"),
        ({"y": np.zeros(3)}, "y"),
        ({"x": np.full((2, 28, 28, 1), 2.0)}, "x"),
    ],
)
def test_bad_arguments_fail_before_work(tiny_classifier, data, kwargs, match):
    args = {"x": data[0][:2], "y": data[1][:2], **kwargs}
    with pytest.raises(ValueError, match=match):
        evaluate(tiny_classifier, verbose=False, **args)
    with pytest.raises(ValueError, match="classifier"):
        evaluate(object(), data[0][:2], data[1][:2])


def test_two_n_view_brings_its_detector_and_single_inputs_work(data):
    """An NClassView of a (here untrained) 2N model: evaluate finds its detector; the joint attack runs on one input."""
    import keras

    from art_ext.defences.detector.evasion import TwoNLabelingDetector
    from art_ext.defences.trainer import extend_classes
    from art_ext.estimators import NClassView, wrap
    from art_ext.evaluation import JointDetectorAttack
    from art_ext.models import get_model

    keras.utils.set_random_seed(0)
    two_n = wrap(extend_classes(get_model("simple_cnn", (28, 28, 1), 10), "2n"))
    x, y = data
    report = evaluate(
        NClassView(two_n, "2n"), x[:4], y[:4], eps=0.1, preset="quick", attack_options=FAST, verbose=False
    )
    assert report.detector is not None and 0.0 <= report.detector["false_positive_rate"] <= 1.0
    # a 2N detector adds the attack towards the extended model's clean classes
    assert list(report.per_eps[0]["joint_broken_by"]) == ["joint attack", "joint APGD-T", "joint Square"]
    x_adv = JointDetectorAttack(
        NClassView(two_n, "2n"), TwoNLabelingDetector(two_n), eps=0.1, max_iter=3, verbose=False
    ).generate(x[:1], y[:1])
    assert x_adv.shape == x[:1].shape and np.abs(x_adv - x[:1]).max() <= 0.1 + 1e-6


def test_seeded_and_leaves_global_random_state_alone(tiny_classifier, data):
    from tests.global_rng import run_without_global_rng

    x, y = data

    def run():
        return evaluate(
            tiny_classifier, x[:6], y[:6], eps=0.05, preset="quick", attack_options=FAST, seed=3, verbose=False
        )

    first = run_without_global_rng(run)
    assert [r["adv_pred@0.05"] for r in first.per_sample] == [r["adv_pred@0.05"] for r in run().per_sample]
