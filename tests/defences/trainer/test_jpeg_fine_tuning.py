"""Tests of the multi-level JPEG fine-tuning trainer: seeding, parameters, return values (tiny model, 8x8 images)."""

import keras
import numpy as np
import pytest

from art_ext.defences.preprocessor import JpegCompressionTensorFlowV2
from art_ext.defences.trainer import MultiLevelJpegTrainer
from art_ext.estimators import MajorityVoteClassifier, wrap
from art_ext.params import seeded
from tests.global_rng import run_without_global_rng


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((48, 8, 8, 1)).astype(np.float32)
    return x, (x.mean(axis=(1, 2, 3)) > 0.5).astype(np.int64)


@pytest.fixture(scope="module")
def pretrained():
    with seeded(0):
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(16, "relu"),
                keras.layers.Dropout(0.3),
                keras.layers.Dense(2),
            ]
        )
    return wrap(model)


def _trainer(pretrained, **kwargs):
    levels = [JpegCompressionTensorFlowV2(quality=q) for q in (20, 80)]
    return MultiLevelJpegTrainer(
        pretrained,
        levels,
        **{"nb_epochs": 2, "batch_size": 16, "learning_rate": 1e-2, "clean_fraction": 0.25, **kwargs},
    )


def test_same_seed_same_members_and_global_rng_untouched(pretrained, data):
    x, y = data
    original = [w.copy() for w in pretrained.model.get_weights()]
    first = _trainer(pretrained, seed=3)
    assert run_without_global_rng(lambda: first.fit(x, y)) is first  # fit returns self
    second = _trainer(pretrained, seed=3).fit(x, y)
    other = _trainer(pretrained, seed=4).fit(x, y)
    for a, b in zip(first.classifiers_, second.classifiers_):
        for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
            np.testing.assert_array_equal(wa, wb)
    assert any(
        not np.array_equal(wa, wc)
        for wa, wc in zip(first.classifiers_[0].model.get_weights(), other.classifiers_[0].model.get_weights())
    )
    assert all(np.array_equal(w, o) for w, o in zip(pretrained.model.get_weights(), original))  # not modified
    assert isinstance(first.get_classifier(), MajorityVoteClassifier)
    assert first.fit(x, y).get_classifier().predict(x).shape == (len(x), 2)  # refits from the pre-trained model


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"nb_epochs": 0}, "nb_epochs"),
        ({"nb_epochs": True}, "nb_epochs"),
        ({"batch_size": 2.0}, "batch_size"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"clean_fraction": 1.0}, "clean_fraction"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"verbose": "yes"}, "verbose"),
    ],
)
def test_bad_parameters(pretrained, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _trainer(pretrained, **kwargs)


def test_set_params_atomic_and_bad_inputs(pretrained, data):
    x, y = data
    trainer = _trainer(pretrained, seed=0)
    with pytest.raises(ValueError, match="nb_epochs"):
        trainer.set_params(batch_size=4, nb_epochs=0)
    assert trainer.batch_size == 16 and trainer.nb_epochs == 2
    with pytest.raises(ValueError, match="unknown parameter"):
        trainer.set_params(nb_epoch=3)
    with pytest.raises(ValueError, match="preprocessors"):
        trainer.set_params(preprocessors=[object()])
    with pytest.raises(ValueError, match="clip_values"):
        trainer.fit(x * 255, y)
    with pytest.raises(ValueError, match="y"):
        trainer.fit(x, y[:-1])
    with pytest.raises(ValueError, match="classifier"):
        MultiLevelJpegTrainer(object(), [JpegCompressionTensorFlowV2()])
