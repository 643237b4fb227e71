"""Tests of the knowledge-transfer trainer (Li & Wang 2018, Sec. 4)."""

import numpy as np
import pytest
import tensorflow as tf
from art.defences.preprocessor import SpatialSmoothing

from art_ext.data import load_dataset
from art_ext.defences.trainer import DistillationTrainer
from art_ext.defences.trainer.distillation import distillation_loss
from art_ext.estimators import wrap
from art_ext.experiments.harness import accuracy, set_seed
from art_ext.models import get_model
from tests.global_rng import run_without_global_rng


@pytest.fixture(scope="module")
def mnist():
    x, y = load_dataset("mnist", "train", source="embedded")
    xt, yt = load_dataset("mnist", "test", source="embedded")
    return x[:600], y[:600], xt[:300], yt[:300]


def _kl(p, q):
    return np.sum(p * np.log(p / q), axis=-1)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_loss_matches_equation_6():
    rng = np.random.default_rng(0)
    zt, zs = rng.normal(size=(5, 10)).astype(np.float32), rng.normal(size=(5, 10)).astype(np.float32)
    expected = np.mean(_kl(_softmax(zt), _softmax(zs)) + 0.5 * _kl(_softmax(zt / 4), _softmax(zs / 4)))
    np.testing.assert_allclose(
        float(distillation_loss(tf.constant(zt), tf.constant(zs), 4.0, 0.5)), expected, rtol=1e-4
    )
    assert abs(float(distillation_loss(tf.constant(zt), tf.constant(zt), 4.0, 0.5))) < 1e-6


@pytest.mark.parametrize("preprocessor", [None, SpatialSmoothing(window_size=3)])
def test_student_learns_from_teacher(mnist, preprocessor):
    x, y, xt, yt = mnist
    set_seed(0)
    student = wrap(get_model("simple_cnn", (28, 28, 1), 10))
    trainer = DistillationTrainer(
        student, preprocessor=preprocessor, temperature=5.0, nb_epochs=4, batch_size=32, learning_rate=3e-3, seed=0
    )
    trainer.fit(x, y)
    assert trainer.get_classifier() is student
    assert len(trainer.history_["teacher"]) == 4 and len(trainer.history_["student"]) == 4
    assert trainer.history_["teacher"][-1] < trainer.history_["teacher"][0]
    assert trainer.history_["student"][-1] < trainer.history_["student"][0]
    assert accuracy(student, xt, yt) > 0.5  # chance: 0.1
    agree = np.mean(student.predict(xt).argmax(1) == trainer.teacher.predict(xt, verbose=0).argmax(1))
    assert agree > 0.6


def test_bad_parameters_raise(mnist):
    student = wrap(get_model("simple_cnn", (28, 28, 1), 10))
    with pytest.raises(ValueError, match=r"temperature must be a finite number in \[1, inf\)"):
        DistillationTrainer(student, temperature=0.5)
    with pytest.raises(ValueError, match="lambda_"):
        DistillationTrainer(student, lambda_=-1.0)
    with pytest.raises(ValueError, match="teacher_epochs=0 needs a trained teacher"):
        DistillationTrainer(student, teacher_epochs=0)
    with pytest.raises(ValueError, match="labels"):
        DistillationTrainer(student, nb_epochs=1).fit(mnist[0][:10], mnist[1][:9])


def _tiny_student(seed=0):
    from art_ext.params import seeded

    with seeded(seed):
        return wrap(get_model("simple_mlp", (28, 28, 1), 10, units=(8,)))


def test_seed_is_local_deterministic_and_fit_returns_self(mnist):
    """Regression: seed= reseeded Python, NumPy and TensorFlow globally."""
    x, y = mnist[0][:64], mnist[1][:64]
    students = []
    for _ in range(2):
        student = _tiny_student()
        trainer = DistillationTrainer(student, nb_epochs=1, batch_size=16, seed=4)
        assert run_without_global_rng(lambda: trainer.fit(x, y)) is trainer  # noqa: B023
        students.append(student)
    for a, b in zip(students[0].model.get_weights(), students[1].model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_set_params_and_fit_kwargs_are_validated_atomically(mnist):
    trainer = DistillationTrainer(_tiny_student(), nb_epochs=2)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['nb_epoch'\]"):
        trainer.set_params(nb_epoch=3)
    with pytest.raises(ValueError, match="batch_size must be"):
        trainer.set_params(nb_epochs=5, batch_size=True)
    assert (trainer.nb_epochs, trainer.batch_size) == (2, 128)
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['epochs'\]"):
        trainer.fit(mnist[0][:8], mnist[1][:8], epochs=1)
    with pytest.raises(ValueError, match="nb_epochs must be"):
        trainer.fit(mnist[0][:8], mnist[1][:8], nb_epochs=0)
    assert trainer.nb_epochs == 2 and trainer.history_ == {"teacher": [], "student": []}
    with pytest.raises(ValueError, match="teacher_epochs=0 needs a trained teacher"):
        trainer.set_params(teacher_epochs=0)
    assert trainer.teacher_epochs == 2


def test_fit_generator_trains_from_an_art_data_generator(mnist):
    from art.data_generators import NumpyDataGenerator

    x, y = mnist[0][:96], mnist[1][:96]
    trainer = DistillationTrainer(_tiny_student(), nb_epochs=3, batch_size=32, learning_rate=3e-3, seed=0)
    generator = NumpyDataGenerator(x, np.eye(10)[y], batch_size=32, drop_remainder=False, shuffle=True)
    assert trainer.fit_generator(generator) is trainer
    assert len(trainer.history_["teacher"]) == 3 and len(trainer.history_["student"]) == 3
    assert trainer.history_["teacher"][-1] < trainer.history_["teacher"][0]
    with pytest.raises(ValueError, match="ART DataGenerator"):
        trainer.fit_generator((x, y))
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['epochs'\]"):
        trainer.fit_generator(generator, epochs=2)
    bad = NumpyDataGenerator(x * 2.0, y, batch_size=32, drop_remainder=False, shuffle=False)
    with pytest.raises(ValueError, match="generator batch x values must lie within clip_values"):
        trainer.fit_generator(bad)


def test_the_classifiers_own_optimizer_trains_the_student_and_a_copy_the_teacher(mnist):
    x, y = mnist[0][:64], mnist[1][:64]
    student = _tiny_student()
    trainer = DistillationTrainer(student, nb_epochs=1, teacher_epochs=2, batch_size=16, seed=0)
    trainer.fit(x, y)
    assert int(student.optimizer.iterations) == 4  # the student's steps, with the classifier's optimiser
    explicit = _tiny_student()
    DistillationTrainer(explicit, nb_epochs=1, batch_size=16, learning_rate=1e-2, seed=0).fit(x, y)
    assert int(explicit.optimizer.iterations) == 0  # learning_rate=...: Adam of its own


def test_a_classifier_without_optimizer_gets_adam_and_a_warning(mnist, caplog):
    from art.estimators.classification import TensorFlowV2Classifier

    x, y = mnist[0][:32], mnist[1][:32]
    model = _tiny_student().model
    clf = TensorFlowV2Classifier(model, nb_classes=10, input_shape=(28, 28, 1), clip_values=(0.0, 1.0))
    before = model.get_weights()[0].copy()
    with caplog.at_level("WARNING"):
        DistillationTrainer(clf, nb_epochs=1, batch_size=16, seed=0).fit(x, y)
    assert "no optimizer" in caplog.text
    assert not np.allclose(before, model.get_weights()[0])


def test_art_preprocessing_of_the_student_is_applied_to_teacher_and_student(mnist):
    """Behind ART's preprocessing=(0.5, 0.5) both models train exactly as with that standardisation as a layer."""
    import keras
    from art.estimators.classification import TensorFlowV2Classifier

    x, y = mnist[0][:32], mnist[1][:32]
    base = _tiny_student().model
    start = base.get_weights()
    inner = keras.models.clone_model(base)
    inner.set_weights(start)
    layered = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(2.0, -1.0), inner])
    teachers = []
    for model, kwargs in ((base, {"preprocessing": (0.5, 0.5)}), (layered, {})):
        teacher = keras.models.clone_model(model)
        teacher.set_weights(model.get_weights())
        teachers.append(teacher)
        clf = TensorFlowV2Classifier(
            model,
            nb_classes=10,
            input_shape=(28, 28, 1),
            optimizer=keras.optimizers.SGD(0.1),
            clip_values=(0.0, 1.0),
            **kwargs,
        )
        DistillationTrainer(clf, teacher=teacher, nb_epochs=1, batch_size=16, seed=0).fit(x, y)
    for a, b in zip(base.get_weights(), inner.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for a, b in zip(teachers[0].get_weights(), teachers[1].layers[-1].get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(start[0], base.get_weights()[0])


def test_fit_takes_a_tf_dataset_and_fit_generator_nb_epochs(mnist):
    from art.data_generators import NumpyDataGenerator

    x, y = mnist[0][:48], mnist[1][:48]
    trainer = DistillationTrainer(_tiny_student(), nb_epochs=1, batch_size=16, seed=0)
    assert trainer.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16)) is trainer
    assert len(trainer.history_["student"]) == 1
    generator = NumpyDataGenerator(x, y, batch_size=16, drop_remainder=False, shuffle=True)
    trainer.fit_generator(generator, nb_epochs=2)
    assert trainer.nb_epochs == 2 and len(trainer.history_["student"]) == 3
    with pytest.raises(ValueError, match="y must be None"):
        trainer.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), y)


def test_a_mirrored_strategy_over_two_cpus_distils_as_well_as_one_device(mnist, two_cpu_strategy):
    """Tolerance: the last epoch's teacher and student losses within 5 % of single-device training from the same
    weights (deterministic steps: the runs differ only by the order of floating-point sums)."""
    x, y = mnist[0][:96], mnist[1][:96]
    start = _tiny_student().model.get_weights()
    histories = []
    for strategy in (None, two_cpu_strategy):
        with (strategy or tf.distribute.get_strategy()).scope():
            student = _tiny_student()
            teacher = _tiny_student(seed=1).model
        student.model.set_weights(start)
        trainer = DistillationTrainer(student, teacher=teacher, nb_epochs=3, batch_size=32, seed=0, strategy=strategy)
        histories.append(trainer.fit(x, y).history_)
    one, mirrored = histories
    for name in ("teacher", "student"):
        assert mirrored[name][-1] < mirrored[name][0]
        np.testing.assert_allclose(mirrored[name], one[name], rtol=0.05)
    outside = DistillationTrainer(_tiny_student(), nb_epochs=1, strategy=two_cpu_strategy)
    with pytest.raises(ValueError, match=r"classifier.model was built outside strategy.scope\(\)"):
        outside.fit(x, y)


def test_teacher_and_student_end_with_batch_norm_statistics_of_their_final_weights(mnist):
    """A batch-norm layer on the inputs: after fit its moving mean is the training images' mean in the teacher (which
    the student learns from in inference mode) and in the student; Keras' moving average alone stays near 0."""
    import keras

    from art_ext.params import seeded

    x, y = mnist[0][:64], mnist[1][:64]
    for refresh in (True, False):
        with seeded(0):
            inputs = keras.Input((28, 28, 1))
            hidden = keras.layers.Flatten()(keras.layers.BatchNormalization(name="bn")(inputs))
            student = wrap(keras.Model(inputs, keras.layers.Dense(10)(hidden)))
        trainer = DistillationTrainer(student, nb_epochs=1, batch_size=16, seed=0, refresh_batch_norm=refresh)
        trainer.fit(x, y)
        for model in (trainer.teacher, student.model):
            moving = float(np.mean(model.get_layer("bn").moving_mean.numpy()))
            if refresh:
                assert moving == pytest.approx(float(x.mean()), abs=1e-4)
            else:
                assert moving < 0.1 * float(x.mean())
