import keras
import numpy as np
import pytest
import tensorflow as tf

from art_ext.data import load_dataset
from art_ext.defences.trainer import NullLabelingTrainer, TwoNLabelingTrainer, extend_classes
from art_ext.defences.trainer.two_n_labeling import smoothed_targets
from art_ext.estimators import NClassView, wrap
from art_ext.models import get_model
from art_ext.params import seeded


@pytest.fixture(scope="module")
def data():
    x, y = load_dataset("mnist", "train", source="embedded")
    return x[:600], y[:600]


def _model(nb_classes=10, kind=None, seed=0):
    keras.utils.set_random_seed(seed)
    model = get_model("simple_cnn", (28, 28, 1), nb_classes)
    return extend_classes(model, kind) if kind else model


def test_extend_classes_shapes_and_weights():
    base = _model()
    assert extend_classes(base, "2n").output_shape == (None, 20)
    null = extend_classes(base, "null")
    assert null.output_shape == (None, 11)
    kernel = null.layers[-1].get_weights()[0]
    np.testing.assert_allclose(kernel[:, :10], base.layers[-1].get_weights()[0])
    with pytest.raises(ValueError, match="kind"):
        extend_classes(base, "3n")
    no_dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Softmax()])
    with pytest.raises(ValueError, match="Dense"):
        extend_classes(no_dense)


def test_smoothed_targets_2n_and_null():
    y = tf.constant([0, 2], tf.int64)
    perturbed = tf.constant([False, True])
    eps = tf.constant([0.0, 0.15])
    t2n = smoothed_targets(y, perturbed, eps, 3, "2n", 0.8, 0.3).numpy()
    np.testing.assert_allclose(t2n.sum(1), 1, atol=1e-6)
    assert t2n[0].argmax() == 0 and t2n[1].argmax() == 5 and t2n[1, 5] == pytest.approx(0.8)
    tnull = smoothed_targets(y, perturbed, eps, 3, "null", 0.8, 0.3).numpy()
    np.testing.assert_allclose(tnull.sum(1), 1, atol=1e-6)
    assert tnull[0, 3] == 0 and tnull[1, 3] == pytest.approx(0.5)  # f(eps) = eps / eps_max
    assert tnull[1, 2] == pytest.approx(0.5 * 0.8)


def test_trainer_fits_and_is_deterministic(data):
    x, y = data
    histories, weights = [], []
    for _ in range(2):
        clf = wrap(_model(kind="2n"))
        trainer = TwoNLabelingTrainer(clf, seed=3, validation_split=0.2, learning_rate=0.05)
        trainer.fit(x, y, nb_epochs=2, batch_size=64)
        histories.append(trainer.history_)
        weights.append(clf.model.get_weights()[0])
    assert len(histories[0]["loss"]) == 2 and len(histories[0]["val_loss"]) == 2
    assert histories[0]["loss"][1] < histories[0]["loss"][0]
    assert histories[0] == histories[1]
    np.testing.assert_array_equal(weights[0], weights[1])
    assert trainer.get_classifier() is clf


def test_trainer_with_substitute_and_null_labeling(data):
    x, y = data
    substitute = wrap(_model(seed=1))
    substitute.fit(x, y, nb_epochs=1, batch_size=64)
    clf = wrap(_model(kind="null"))
    before = clf.model.get_weights()[-1].copy()
    trainer = NullLabelingTrainer(clf, substitute=substitute, eps_max=0.3, seed=0)
    trainer.fit(x, y, nb_epochs=1, batch_size=128)
    assert not np.allclose(before, clf.model.get_weights()[-1])
    assert np.isfinite(trainer.history_["loss"]).all()
    assert NClassView(clf, kind="null").predict(x[:5]).shape == (5, 10)


def test_trainer_errors(data):
    x, y = data
    clf2n = wrap(_model(kind="2n"))
    with pytest.raises(ValueError, match="even number"):
        TwoNLabelingTrainer(wrap(_model(nb_classes=5)))
    with pytest.raises(ValueError, match="substitute must have"):
        TwoNLabelingTrainer(clf2n, substitute=wrap(_model(nb_classes=5)))
    with pytest.raises(ValueError, match="eps_max"):
        TwoNLabelingTrainer(clf2n, eps_max=-0.1)
    with pytest.raises(ValueError, match="eps_max"):
        TwoNLabelingTrainer(clf2n, eps_max=1.5)
    with pytest.raises(ValueError, match="perturbed_fraction"):
        TwoNLabelingTrainer(clf2n, perturbed_fraction=0)
    with pytest.raises(ValueError, match="smoothing"):
        TwoNLabelingTrainer(clf2n, smoothing=1.2)
    trainer = TwoNLabelingTrainer(clf2n)
    with pytest.raises(ValueError, match="y must lie in"):
        trainer.fit(x[:10], y[:10] + 10)  # labels are over the N original classes
    with pytest.raises(ValueError, match="clip_values"):
        trainer.fit(x[:10] * 2, y[:10])
    with pytest.raises(ValueError, match="nb_epochs"):
        trainer.fit(x[:10], y[:10], nb_epochs=0)


def _tiny(nb_outputs, kind=None, learning_rate=1e-3, units=8):
    model = get_model("simple_mlp", (8, 8, 1), nb_outputs, units=(units,))
    return wrap(extend_classes(model, kind) if kind else model, learning_rate=learning_rate)


def test_an_n_class_classifier_with_an_even_number_of_outputs_is_pointed_to_extend_classes():
    x = np.random.default_rng(0).uniform(size=(20, 8, 8, 1)).astype(np.float32)
    y = np.arange(20) % 10
    trainer = TwoNLabelingTrainer(_tiny(10))  # ten ordinary classes: taken as 2N = 10, i.e. N = 5
    for labels in (y, np.eye(10)[y]):
        with pytest.raises(ValueError, match=r"needs 2N outputs: extend it with extend_classes\(model, '2n'\)"):
            trainer.fit(x, labels, nb_epochs=1)
    with pytest.raises(ValueError, match=r"N \+ 1 outputs: extend it with extend_classes\(model, 'null'\)"):
        NullLabelingTrainer(_tiny(10)).fit(x, y, nb_epochs=1)
    with pytest.raises(ValueError, match=r"even number .*extend_classes\(model, '2n'\)"):
        TwoNLabelingTrainer(_tiny(5))
    with pytest.raises(ValueError, match="y must lie in"):  # labels beyond every reading keep the plain error
        trainer.fit(x, y + 20, nb_epochs=1)


def test_trainer_parameters_are_declarative_and_set_params_is_atomic():
    trainer = TwoNLabelingTrainer(_tiny(3, "2n"))
    for kwargs in (
        dict(patience=True),
        dict(verbose=1),
        dict(seed=-1),
        dict(momentum=1.0),
        dict(eps_max=np.nan),
        dict(cosine_annealing="yes"),
        dict(learning_rate=0),
        dict(optimizer="sgd"),
        dict(validation_split=1.0),
    ):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            TwoNLabelingTrainer(_tiny(3, "2n"), **kwargs)
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            trainer.set_params(**kwargs)
    assert trainer.get_params()["patience"] == 5 and trainer.momentum == 0.9
    with pytest.raises(ValueError, match="unknown parameter"):
        trainer.set_params(epsmax=0.1)
    with pytest.raises(ValueError, match="eps_max"):
        trainer.set_params(eps_max=2.0, smoothing=0.5)  # beyond the clip range: nothing is changed
    assert trainer.eps_max is None and trainer.eps_limit == pytest.approx(0.3) and trainer.smoothing == 0.8
    trainer.set_params(eps_max=0.1, seed=4)
    assert (trainer.eps_max, trainer.seed) == (0.1, 4)


def test_fit_returns_self_and_leaves_global_rng_alone():
    import random

    x = np.random.default_rng(1).uniform(size=(16, 8, 8, 1)).astype(np.float32)
    y = np.arange(16) % 3
    trainer = TwoNLabelingTrainer(_tiny(3, "2n"), seed=1)  # building a Keras model draws from Python's random
    states = random.getstate(), np.random.get_state()[1].copy()
    assert trainer.fit(x, y, nb_epochs=1, batch_size=8) is trainer
    assert random.getstate() == states[0]
    np.testing.assert_array_equal(np.random.get_state()[1], states[1])
    with pytest.raises(ValueError, match="one-hot"):
        trainer.fit(x, np.eye(3)[y] * (np.arange(16) != 3)[:, None], nb_epochs=1)  # an all-zero row
    with pytest.raises(ValueError, match="batch_size"):
        trainer.fit(x, y, batch_size=0)


def test_extend_classes_refuses_a_non_bool_keep_weights():
    base = get_model("simple_mlp", (8, 8, 1), 10)
    with pytest.raises(ValueError, match="extend_classes: keep_weights must be a bool"):
        extend_classes(base, "2n", keep_weights="yes")


def _tiny_data(n=32, nb_classes=3):
    x = np.random.default_rng(2).uniform(size=(n, 8, 8, 1)).astype(np.float32)
    return x, np.arange(n) % nb_classes


def test_the_classifiers_own_optimizer_trains_by_default_and_paper_is_one_argument_away():
    x, y = _tiny_data()
    clf = _tiny(3, "2n")
    TwoNLabelingTrainer(clf, seed=0).fit(x, y, nb_epochs=2, batch_size=8)
    assert int(clf.optimizer.iterations) == 8  # ART's convention: the classifier's optimiser took every step
    paper = TwoNLabelingTrainer(clf, optimizer="paper", learning_rate=0.05, seed=0)
    before = [w.copy() for w in clf.model.get_weights()]
    paper.fit(x, y, nb_epochs=1, batch_size=8)
    assert int(clf.optimizer.iterations) == 8  # SGD + cosine of the paper, not the classifier's optimiser
    assert not np.allclose(before[0], clf.model.get_weights()[0])
    sgd = keras.optimizers.SGD(0.1)
    TwoNLabelingTrainer(clf, optimizer=sgd, seed=0).fit(x, y, nb_epochs=1, batch_size=8)
    assert int(sgd.iterations) == 4


def test_a_classifier_without_optimizer_falls_back_to_adam_with_a_warning(caplog):
    from art.estimators.classification import TensorFlowV2Classifier

    x, y = _tiny_data()
    model = extend_classes(get_model("simple_mlp", (8, 8, 1), 3, units=(8,)), "2n")
    clf = TensorFlowV2Classifier(model, nb_classes=6, input_shape=(8, 8, 1), clip_values=(0.0, 1.0))
    before = model.get_weights()[0].copy()
    trainer = TwoNLabelingTrainer(clf, seed=0)
    with caplog.at_level("WARNING"):
        trainer.fit(x, y, nb_epochs=1, batch_size=8)
    assert "no optimizer" in caplog.text and "Adam" in caplog.text
    assert not np.allclose(before, model.get_weights()[0])
    assert int(trainer._fallback_optimizer.iterations) == 4


def test_the_compiled_steps_are_traced_once_across_fit_calls_and_rebuilt_after_set_params():
    x, y = _tiny_data()
    trainer = TwoNLabelingTrainer(_tiny(3, "2n"), seed=0)
    trainer.fit(x, y, nb_epochs=1, batch_size=8)
    step = trainer._step_fns["train"]
    trainer.fit(x, y, nb_epochs=1, batch_size=8)
    assert trainer._step_fns["train"] is step and step.experimental_get_tracing_count() == 1
    trainer.set_params(eps_max=0.1)
    trainer.fit(x, y, nb_epochs=1, batch_size=8)
    assert trainer._step_fns["train"] is not step


def test_a_fit_call_repeats_exactly_from_the_same_weights_and_seed():
    x, y = _tiny_data()
    clf = _tiny(3, "2n")
    start = clf.model.get_weights()
    trainer = TwoNLabelingTrainer(clf, optimizer=keras.optimizers.SGD(0.1), seed=5)  # stateless: repeatable
    trainer.fit(x, y, nb_epochs=1, batch_size=8)
    first = clf.model.get_weights()
    clf.model.set_weights(start)
    trainer.fit(x, y, nb_epochs=1, batch_size=8)  # cached steps: the generators restart from the seed
    assert trainer._step_fns["train"].experimental_get_tracing_count() == 1
    for a, b in zip(first, clf.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def _sgd_classifier(model, **kwargs):
    """ART's classifier of a tiny 2N model (3 original classes on 8x8 inputs) trained by SGD 0.5."""
    from art.estimators.classification import TensorFlowV2Classifier

    kwargs.setdefault("clip_values", (0.0, 1.0))
    return TensorFlowV2Classifier(
        model,
        nb_classes=6,
        input_shape=(8, 8, 1),
        loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.SGD(0.5),
        **kwargs,
    )


def test_the_classifiers_art_preprocessing_is_applied_as_art_applies_it():
    """A model behind ART's preprocessing=(0.5, 0.5) trains exactly as the same model with that standardisation as its
    first layer: the training forward pass and the simulated attacker both see standardised inputs."""
    x, y = _tiny_data()
    base = extend_classes(get_model("simple_mlp", (8, 8, 1), 3, units=(8,)), "2n")
    start = base.get_weights()
    inner = keras.models.clone_model(base)
    inner.set_weights(start)
    layered = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(2.0, -1.0), inner])

    for model, kwargs in ((base, {"preprocessing": (0.5, 0.5)}), (layered, {})):
        TwoNLabelingTrainer(_sgd_classifier(model, **kwargs), seed=0).fit(x, y, nb_epochs=2, batch_size=8)
    for a, b in zip(base.get_weights(), inner.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(start[0], base.get_weights()[0])


def test_the_default_eps_max_follows_clip_values_so_0_255_inputs_train_as_0_1_inputs():
    """eps_max=None is 0.3 of the clip range: a model on [0, 255] images (a Rescaling(1/255) first layer) trains
    exactly as the same model on [0, 1] images; without clip_values the default is refused by name."""
    x, y = _tiny_data()
    base = extend_classes(get_model("simple_mlp", (8, 8, 1), 3, units=(8,)), "2n")
    start = base.get_weights()
    inner = keras.models.clone_model(base)
    inner.set_weights(start)
    scaled = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255), inner])

    unit = TwoNLabelingTrainer(_sgd_classifier(base), seed=0)
    wide = TwoNLabelingTrainer(_sgd_classifier(scaled, clip_values=(0.0, 255.0)), seed=0)
    assert unit.eps_limit == pytest.approx(0.3) and wide.eps_limit == pytest.approx(76.5)
    unit.fit(x, y, nb_epochs=2, batch_size=8)
    wide.fit(x * 255, y, nb_epochs=2, batch_size=8)
    for a, b in zip(base.get_weights(), inner.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert not np.allclose(start[0], base.get_weights()[0])
    with pytest.raises(ValueError, match="eps_max=None .* clip_values"):
        TwoNLabelingTrainer(_sgd_classifier(base, clip_values=None))
    assert TwoNLabelingTrainer(_sgd_classifier(base, clip_values=None), eps_max=0.2).eps_limit == pytest.approx(0.2)


@pytest.mark.parametrize("distributed", [False, True])
def test_fit_ends_with_batch_norm_statistics_of_the_final_weights(distributed, request):
    """With a batch-norm layer on the inputs and a negligible eps_max, the refreshed moving mean is the mean of the
    training inputs (4 equal batches); Keras' own moving average after 4 steps is still near its start, 0. Under a
    MirroredStrategy the refresh updates the mirrored statistics alike."""
    strategy = request.getfixturevalue("two_cpu_strategy") if distributed else None

    def bn_classifier():
        with seeded(0):
            inputs = keras.Input((8, 8, 1))
            x = keras.layers.Flatten()(keras.layers.BatchNormalization(name="bn")(inputs))
            return _sgd_classifier(keras.Model(inputs, keras.layers.Dense(6)(x)))

    x, y = _tiny_data()
    for refresh in (True, False):
        with (strategy or tf.distribute.get_strategy()).scope():
            clf = bn_classifier()
        trainer = TwoNLabelingTrainer(clf, eps_max=1e-6, refresh_batch_norm=refresh, seed=0, strategy=strategy)
        trainer.fit(x, y, nb_epochs=1, batch_size=8)
        moving = float(clf.model.get_layer("bn").moving_mean.numpy()[0])
        if refresh:
            assert moving == pytest.approx(float(x.mean()), abs=1e-4)
        else:
            assert abs(moving) < 0.1 * float(x.mean())


def test_fit_takes_a_tf_dataset_and_fit_generator_an_art_data_generator():
    from art.data_generators import NumpyDataGenerator

    x, y = _tiny_data()
    clf = _tiny(3, "2n")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    trainer = TwoNLabelingTrainer(clf, seed=0)
    assert trainer.fit(dataset, nb_epochs=2) is trainer
    assert len(trainer.history_["loss"]) == 2 and int(clf.optimizer.iterations) == 8
    generator = NumpyDataGenerator(x, y, batch_size=8, drop_remainder=False, shuffle=True)
    assert trainer.fit_generator(generator, nb_epochs=1) is trainer
    assert int(clf.optimizer.iterations) == 12
    with pytest.raises(ValueError, match="y must be None"):
        trainer.fit(dataset, y)
    with pytest.raises(ValueError, match="validation_split"):
        TwoNLabelingTrainer(clf, validation_split=0.2).fit(dataset)
    with pytest.raises(ValueError, match=r"generator batch y must lie in|over those N"):
        trainer.fit_generator(NumpyDataGenerator(x, y + 3, batch_size=8, shuffle=False))
    unknown = dataset.filter(lambda a, b: True)  # cardinality unknown: the paper's cosine needs the number of steps
    with pytest.raises(ValueError, match="assert_cardinality"):
        TwoNLabelingTrainer(clf, optimizer="paper").fit(unknown)
    TwoNLabelingTrainer(clf, optimizer="paper", cosine_annealing=False).fit(unknown, nb_epochs=1)


def test_a_mirrored_strategy_over_two_cpus_trains_as_well_as_one_device(two_cpu_strategy):
    """Tolerance: the training and validation losses of the last epoch within 0.05 of single-device training, from the
    same weights on a learnable problem (the replicas draw their own perturbations, so the runs agree statistically,
    not bitwise)."""
    y = np.arange(96) % 3
    x = (np.random.default_rng(3).uniform(0, 0.4, (96, 8, 8, 1)) + 0.3 * y[:, None, None, None]).astype(np.float32)
    start = _tiny(3, "2n", units=32).model.get_weights()
    results = {}
    for name, strategy in (("one", None), ("mirrored", two_cpu_strategy)):
        with (strategy or tf.distribute.get_strategy()).scope():
            clf = _tiny(3, "2n", learning_rate=5e-3, units=32)
        clf.model.set_weights(start)
        trainer = TwoNLabelingTrainer(clf, seed=0, strategy=strategy, validation_split=0.25)
        trainer.fit(x, y, nb_epochs=8, batch_size=16)
        results[name] = trainer.history_
    one, mirrored = results["one"], results["mirrored"]
    assert mirrored["loss"][-1] < mirrored["loss"][0] - 0.1
    assert abs(mirrored["loss"][-1] - one["loss"][-1]) < 0.05, (one, mirrored)
    assert abs(mirrored["val_loss"][-1] - one["val_loss"][-1]) < 0.05, (one, mirrored)


def test_a_model_built_outside_the_strategys_scope_gets_a_clear_error(two_cpu_strategy):
    x, y = _tiny_data()
    trainer = TwoNLabelingTrainer(_tiny(3, "2n"), strategy=two_cpu_strategy)
    with pytest.raises(ValueError, match=r"classifier.model was built outside strategy.scope\(\)"):
        trainer.fit(x, y, nb_epochs=1)
    with pytest.raises(ValueError, match="strategy"):
        TwoNLabelingTrainer(_tiny(3, "2n"), strategy="mirrored")
