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


def test_members_fine_tune_with_a_copy_of_the_classifiers_optimizer_and_keep_its_preprocessing(data):
    from art.estimators.classification import TensorFlowV2Classifier

    x, y = data
    with seeded(0):
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    optimizer = keras.optimizers.RMSprop(learning_rate=3e-3)
    clf = TensorFlowV2Classifier(
        model,
        nb_classes=2,
        input_shape=(8, 8, 1),
        loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=optimizer,
        clip_values=(0.0, 1.0),
        preprocessing=(0.5, 0.25),
    )
    trainer = MultiLevelJpegTrainer(clf, [JpegCompressionTensorFlowV2(quality=50)], nb_epochs=1, batch_size=16, seed=0)
    member = trainer.fit(x, y).classifiers_[0]
    assert isinstance(member.optimizer, keras.optimizers.RMSprop) and member.optimizer is not optimizer
    assert float(member.optimizer.learning_rate) == pytest.approx(3e-3) and int(member.optimizer.iterations) == 3
    assert int(optimizer.iterations) == 0  # the pre-trained classifier is left alone
    assert member.preprocessing is not None and len(member.preprocessing_defences) == 1
    # the member predicts through compression and the standardisation, as its fine-tuning saw the images
    standardised = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(4.0, -2.0), member.model])
    compressed = JpegCompressionTensorFlowV2(quality=50)(x)[0]
    np.testing.assert_allclose(member.predict(x), standardised.predict(compressed, verbose=0), atol=1e-5)


def test_fit_takes_a_tf_dataset_and_fit_generator_an_art_data_generator(pretrained, data):
    import tensorflow as tf
    from art.data_generators import NumpyDataGenerator

    x, y = data
    trainer = _trainer(pretrained, seed=0, nb_epochs=1)
    assert trainer.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16)) is trainer
    assert len(trainer.classifiers_) == 2
    generator = NumpyDataGenerator(x, y, batch_size=16, drop_remainder=False, shuffle=True)
    assert trainer.fit_generator(generator, nb_epochs=2) is trainer and trainer.nb_epochs == 2
    assert trainer.get_classifier().predict(x).shape == (len(x), 2)
    with pytest.raises(ValueError, match="ART DataGenerator"):
        trainer.fit_generator((x, y))


def test_a_mirrored_strategy_over_two_cpus_fine_tunes_as_one_device(data, two_cpu_strategy):
    """Tolerance: every member's weights within 1e-4 of single-device fine-tuning (same seed and batches, no random
    layers: the runs differ only in the order of floating-point sums)."""
    x, y = data
    with seeded(0):
        model = keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(16, "relu"), keras.layers.Dense(2)]
        )
    start = wrap(model)
    trainers = [_trainer(start, seed=1, strategy=s, learning_rate=5e-2).fit(x, y) for s in (None, two_cpu_strategy)]
    for one, mirrored in zip(trainers[0].classifiers_, trainers[1].classifiers_):
        for a, b in zip(one.model.get_weights(), mirrored.model.get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-4)
        moved = [np.abs(b - w).max() for b, w in zip(mirrored.model.get_weights(), start.model.get_weights())]
        assert max(moved) > 0.05  # the distributed fine-tuning did train
