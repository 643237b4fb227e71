import keras
import numpy as np
import pytest

from art_ext.data import load_dataset
from art_ext.defences.detector.evasion import NullLabelingDetector, TwoNLabelingDetector
from art_ext.defences.trainer import TwoNLabelingTrainer, extend_classes
from art_ext.estimators import NClassView, wrap
from art_ext.models import get_model


@pytest.fixture(scope="module")
def trained():
    """A tiny 2N model trained for a few epochs with white-box FGSM (the trainer's default)."""
    x, y = load_dataset("mnist", "train", source="embedded")
    keras.utils.set_random_seed(0)
    clf = wrap(extend_classes(get_model("simple_cnn", (28, 28, 1), 10), "2n"))
    TwoNLabelingTrainer(clf, seed=0, learning_rate=0.1).fit(x[:2000], y[:2000], nb_epochs=3, batch_size=32)
    x_test, y_test = load_dataset("mnist", "test", source="embedded")
    return clf, x_test[:300], y_test[:300]


def _auc(clean, adv):
    """Probability that an adversarial input scores above a clean one (ties count half)."""
    diff = adv[:, None] - clean[None, :]
    return float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))


def test_detector_separates_fgsm_inputs_better_than_chance(trained):
    from art.attacks.evasion import FastGradientMethod

    clf, x, y = trained
    x_adv = FastGradientMethod(NClassView(clf), eps=0.2).generate(x)
    detector = TwoNLabelingDetector(clf)
    report_clean, flagged_clean = detector.detect(x)
    report_adv, flagged_adv = detector.detect(x_adv)
    assert set(report_clean) >= {"attack_probability", "threshold"}
    assert flagged_clean.dtype == bool and flagged_clean.shape == (len(x),)
    assert _auc(report_clean["attack_probability"], report_adv["attack_probability"]) > 0.8
    assert flagged_adv.mean() > flagged_clean.mean()


def test_attack_probability_is_the_sum_of_the_last_n(trained):
    clf, x, _ = trained
    logits = clf.predict(x[:20])
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(TwoNLabelingDetector(clf).attack_probability(x[:20]), p[:, 10:].sum(1), atol=1e-5)


def test_fit_calibrates_threshold_for_a_clean_false_positive_rate(trained):
    clf, x, _ = trained
    detector = TwoNLabelingDetector(clf, target_fpr=0.1)
    detector.fit(x, None)
    _, flagged = detector.detect(x)
    assert flagged.mean() == pytest.approx(detector.clean_fpr_)
    assert flagged.mean() <= 0.1 + 1e-9 and flagged.mean() >= 0.05
    detector.fit(x, None, target_fpr=0.02)
    assert detector.detect(x)[1].mean() <= 0.02 + 1e-9


def test_detector_errors(trained):
    clf, x, _ = trained
    with pytest.raises(ValueError, match="threshold"):
        TwoNLabelingDetector(clf, threshold=1.5)
    with pytest.raises(ValueError, match="target_fpr"):
        TwoNLabelingDetector(clf, target_fpr=0.0)
    with pytest.raises(ValueError, match="even number"):
        TwoNLabelingDetector(wrap(get_model("simple_mlp", (28, 28, 1), 5)))
    with pytest.raises(ValueError, match="clip_values"):
        TwoNLabelingDetector(clf).detect(x * 3)


def test_null_detector_reports_p_null():
    keras.utils.set_random_seed(0)
    clf = wrap(extend_classes(get_model("simple_mlp", (8, 8, 1), 3, units=(8,)), "null"))
    x = np.random.default_rng(0).uniform(size=(6, 8, 8, 1)).astype(np.float32)
    logits = clf.predict(x)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    report, flagged = NullLabelingDetector(clf, threshold=0.5).detect(x)
    np.testing.assert_allclose(report["attack_probability"], p[:, 3], atol=1e-6)
    np.testing.assert_array_equal(flagged, p[:, 3] > 0.5)


@pytest.fixture(scope="module")
def tiny_2n():
    keras.utils.set_random_seed(0)
    return wrap(extend_classes(get_model("simple_mlp", (8, 8, 1), 3, units=(8,)), "2n"))


def test_memory_is_bounded_by_batch_size(tiny_2n):
    x = np.random.default_rng(0).uniform(size=(10, 8, 8, 1)).astype(np.float32)
    detector = TwoNLabelingDetector(tiny_2n)
    whole = detector.attack_probability(x, batch_size=100)
    seen, forward = [], tiny_2n._forward_pass
    tiny_2n._forward_pass = lambda model, t, training: seen.append(int(t.shape[0])) or forward(model, t, training)
    try:
        report, _ = detector.detect(x, batch_size=4)
        detector.fit(x, batch_size=3)
    finally:
        tiny_2n._forward_pass = forward
    assert seen == [4, 4, 2, 3, 3, 3, 1]  # ART's own predict would have run all 10 at once
    np.testing.assert_allclose(report["attack_probability"], whole, atol=1e-6)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, None])
def test_bad_batch_size_is_refused(tiny_2n, batch_size):
    x = np.random.default_rng(1).uniform(size=(4, 8, 8, 1)).astype(np.float32)
    detector = TwoNLabelingDetector(tiny_2n)
    for call in (detector.detect, detector.fit, detector.attack_probability):
        with pytest.raises(ValueError, match="batch_size"):
            call(x, batch_size=batch_size)


def test_detector_parameters_are_declarative(tiny_2n):
    detector = TwoNLabelingDetector(tiny_2n)
    for kwargs in (dict(threshold=True), dict(threshold=np.nan), dict(target_fpr=1.0), dict(classifier="model")):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            TwoNLabelingDetector(**{"classifier": tiny_2n, **kwargs})
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            detector.set_params(**kwargs)
    assert detector.get_params() == {"classifier": tiny_2n, "threshold": 0.5, "target_fpr": 0.05}
    with pytest.raises(ValueError, match="unknown parameter"):
        detector.set_params(treshold=0.2)
    with pytest.raises(ValueError, match="even number"):
        detector.set_params(threshold=0.2, classifier=wrap(get_model("simple_mlp", (8, 8, 1), 3, units=(4,))))
    assert detector.threshold == 0.5 and detector.classifier is tiny_2n
    x = np.random.default_rng(2).uniform(size=(20, 8, 8, 1)).astype(np.float32)
    assert detector.fit(x) is detector
    with pytest.raises(ValueError, match="target_fpr"):
        detector.fit(x, target_fpr=0)


def test_a_model_extended_for_the_other_labeling_is_refused(tiny_2n):
    with pytest.raises(ValueError, match=r"extended for '2n' labeling .*not 'null'"):
        NullLabelingDetector(tiny_2n)  # 6 outputs would read as N + 1 with N = 5
    null = wrap(extend_classes(get_model("simple_mlp", (8, 8, 1), 5, units=(4,)), "null"))  # 6 outputs too
    with pytest.raises(ValueError, match=r"extended for 'null' labeling .*not '2n'"):
        TwoNLabelingDetector(null)
    assert NullLabelingDetector(null)._nb_classes == 5
