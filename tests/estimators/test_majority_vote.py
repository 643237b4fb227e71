"""Tests of the majority-vote ensemble classifier and the multi-level JPEG fine-tuning trainer."""

import keras
import numpy as np
import pytest

from art_ext.data import load_dataset
from art_ext.defences.preprocessor import JpegCompressionTensorFlowV2
from art_ext.defences.trainer import MultiLevelJpegTrainer
from art_ext.estimators import MajorityVoteClassifier, wrap
from art_ext.estimators.majority_vote import vote_scores
from art_ext.experiments import train_model
from art_ext.models import get_model


@pytest.fixture(scope="module")
def data():
    x, y = load_dataset("mnist", "train", source="embedded")
    xt, yt = load_dataset("mnist", "test", source="embedded")
    return x[:1500], y[:1500], xt[:200], yt[:200]


@pytest.fixture(scope="module")
def trained(data):
    keras.utils.set_random_seed(0)
    x, y, _, _ = data
    return wrap(train_model(get_model("simple_cnn", x.shape[1:], 10), x, y, epochs=2, batch_size=64))


@pytest.fixture(scope="module")
def trainer(trained, data):
    x, y, _, _ = data
    trainer = MultiLevelJpegTrainer(
        trained,
        [JpegCompressionTensorFlowV2(quality=q) for q in (10, 40, 80)],
        nb_epochs=1,
        batch_size=64,
        learning_rate=1e-3,
    )
    trainer.fit(x, y)
    return trainer


def test_vote_scores_majority_and_tie_break():
    p = np.array(
        [
            [[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.0, 0.01, 0.99]],  # 2 votes for class 0
            [[0.9, 0.1, 0.0], [0.0, 0.55, 0.45], [0.0, 0.0, 1.0]],
        ]
    )  # 1-1-1 tie: mean prob picks class 2
    scores = vote_scores(p.astype(np.float32))
    assert list(scores.argmax(1)) == [0, 2]
    np.testing.assert_allclose(scores.sum(1), 1.0, rtol=1e-6)


def test_trainer_makes_members_at_their_own_levels(trainer, trained, data):
    _, _, xt, yt = data
    assert len(trainer.classifiers_) == 3
    qualities = [m.preprocessing_defences[0].quality for m in trainer.classifiers_]
    assert qualities == [10, 40, 80]
    original = trained.model.get_weights()[0]
    assert not np.allclose(trainer.classifiers_[0].model.get_weights()[0], original)  # fine-tuned copies
    assert trained.model.get_weights()[0] is not trainer.classifiers_[0].model.get_weights()[0]
    ensemble = trainer.get_classifier()
    assert isinstance(ensemble, MajorityVoteClassifier)
    members = ensemble.predict_members(xt)
    assert members.shape == (len(xt), 3, 10)
    for k, member in enumerate(trainer.classifiers_):  # member k sees inputs compressed at its own level
        alone = np.asarray(keras.ops.softmax(member.predict(xt)))
        assert np.abs(members[:, k] - alone).mean() < 1e-3  # (rare float ties may round differently in-graph)
    votes = ensemble.predict(xt)
    np.testing.assert_array_equal(votes.argmax(1), vote_scores(members).argmax(1))
    assert np.mean(votes.argmax(1) == yt) > 0.6


def test_ensemble_works_with_art_attacks(trainer, data):
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

    _, _, xt, yt = data
    ensemble = trainer.get_classifier()
    grad = ensemble.loss_gradient(xt[:8], np.eye(10)[yt[:8]])
    assert grad.shape == xt[:8].shape and np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0
    assert ensemble.class_gradient(xt[:4], label=1).shape == (4, 1, 28, 28, 1)
    x_adv = FastGradientMethod(ensemble, eps=0.3).generate(xt[:64])
    assert np.abs(x_adv - xt[:64]).max() <= 0.3 + 1e-5
    clean = np.mean(ensemble.predict(xt[:64]).argmax(1) == yt[:64])
    x_pgd = ProjectedGradientDescent(ensemble, eps=0.3, eps_step=0.1, max_iter=5, verbose=False).generate(xt[:64])
    assert np.mean(ensemble.predict(x_pgd).argmax(1) == yt[:64]) < clean  # the adaptive attack gets through


def test_bad_arguments(trained):
    with pytest.raises(ValueError, match="non-empty"):
        MajorityVoteClassifier([])
    with pytest.raises(ValueError, match="TensorFlowV2Classifier"):
        MajorityVoteClassifier([object()])
    other = wrap(get_model("simple_cnn", (28, 28, 1), 5))
    with pytest.raises(ValueError, match="classes"):
        MajorityVoteClassifier([trained, other])
    with pytest.raises(ValueError, match="preprocessors"):
        MultiLevelJpegTrainer(trained, [])
    with pytest.raises(ValueError, match="nb_epochs"):
        MultiLevelJpegTrainer(trained, [JpegCompressionTensorFlowV2()], nb_epochs=0)
    with pytest.raises(ValueError, match="clean_fraction"):
        MultiLevelJpegTrainer(trained, [JpegCompressionTensorFlowV2()], clean_fraction=1.0)
    with pytest.raises(NotImplementedError):
        MajorityVoteClassifier([trained]).fit(np.zeros((1, 28, 28, 1)), np.zeros(1))


def test_predict_validates_inputs(trained, data):
    _, _, xt, _ = data
    ensemble = MajorityVoteClassifier([trained])
    for bad, match in (
        (np.round(xt[:4] * 255).astype(np.uint8), "clip_values"),
        (xt[:4] + 0.5, "clip_values"),
        (np.full((2, 28, 28, 1), np.nan, np.float32), "NaN"),
        (xt[:4, :14], "shape"),
    ):
        with pytest.raises(ValueError, match=match):
            ensemble.predict(bad)
        with pytest.raises(ValueError, match=match):
            ensemble.loss_gradient(bad, np.eye(10)[: len(bad)])
    with pytest.raises(ValueError, match="batch_size"):
        ensemble.predict(xt[:4], batch_size=0)
    with pytest.raises(ValueError, match="clip_values"):
        MajorityVoteClassifier([trained], clip_values=(0, np.inf))
    assert ensemble.predict(xt[:0]).shape == (0, 10)
