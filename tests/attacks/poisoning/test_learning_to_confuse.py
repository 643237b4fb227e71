"""Tests of LearningToConfuse on a tiny synthetic problem (no data files needed)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from art_ext.attacks.poisoning import LearningToConfuse
from art_ext.estimators import wrap
from art_ext.models import get_model
from art_ext.models.generators import conv_autoencoder
from art_ext.params import seeded
from tests.global_rng import run_without_global_rng

SHAPE, CLASSES = (8, 8, 1), 4


def quadrant_data(n: int, seed: int):
    """Class k: a bright k-th 4x4 quadrant on a noisy dark background."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    x = rng.uniform(0.0, 0.3, (n, *SHAPE)).astype(np.float32)
    for k, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        x[y == k, r : r + 4, c : c + 4] += 0.6
    return np.clip(x, 0, 1).astype(np.float32), y


def tiny_mlp(input_shape, nb_classes):
    return get_model("simple_mlp", input_shape, nb_classes, units=(16,))


def tiny_generator():
    return conv_autoencoder(SHAPE, widths=(4, 8))


def toy_attack(**kwargs) -> LearningToConfuse:
    """The toy problem's attack: a tiny MLP as imaginary victim (unless ``surrogate`` is given), a tiny generator,
    fast learning rates."""
    kwargs.setdefault("surrogate", tiny_mlp)
    return LearningToConfuse(
        eps=0.5,
        generator=tiny_generator(),
        nb_classes=CLASSES,
        victim_learning_rate=0.1,
        generator_learning_rate=1e-2,
        seed=0,
        verbose=False,
        **kwargs,
    )


def train_victim(x, y, epochs=15, seed=1):
    keras.utils.set_random_seed(seed)
    classifier = wrap(tiny_mlp(SHAPE, CLASSES), learning_rate=1e-2)
    classifier.fit(x, y, nb_epochs=epochs, batch_size=32, verbose=False)
    return classifier


@pytest.fixture(scope="module")
def data():
    return quadrant_data(512, 0), quadrant_data(256, 1)


@pytest.fixture(scope="module")
def fitted(data):
    (x, y), (x_val, y_val) = data
    return toy_attack().fit(x, y, nb_epochs=4, batch_size=32, x_val=x_val, y_val=y_val)


def test_fit_records_history_and_poison_respects_budget(fitted, data):
    (x, y), _ = data
    # The staged schedule's 4 rounds: 1 of the authors' procedure, 3 with the independent batch (the middle stage
    # rounds to none, so the stages run are numbered 1 and 2); each stage ends with one more fresh victim on its
    # final generator.
    rounds = [(h["round"], h["stage"], h.get("final", False)) for h in fitted.history_]
    assert rounds == [(1, 1, False), (1, 1, True), (2, 2, False), (3, 2, False), (4, 2, False), (4, 2, True)]
    assert all(0.0 <= h["fresh_victim_val_accuracy"] <= 1.0 for h in fitted.history_[1:])
    x_copy = x.copy()
    x_poison, y_poison = fitted.poison(x, y)
    np.testing.assert_array_equal(x, x_copy)  # input not modified
    np.testing.assert_array_equal(y_poison, y)
    assert x_poison.dtype == np.float32 and x_poison.shape == x.shape
    assert np.abs(x_poison.astype(np.float64) - x).max() <= 0.5
    assert x_poison.min() >= 0.0 and x_poison.max() <= 1.0
    assert np.abs(x_poison - x).max() > 0.05  # the generator does perturb


def test_perturb_rescales_the_fitted_noise_to_another_budget_exactly(fitted, data):
    (x, _), _ = data
    noise = fitted.noise(x)
    for eps in (0.0, 0.1, 0.5):
        x_eps = fitted.perturb(x, eps=eps)
        assert x_eps.dtype == np.float32 and np.abs(x_eps.astype(np.float64) - x).max() <= eps
        assert x_eps.min() >= 0.0 and x_eps.max() <= 1.0
        np.testing.assert_allclose(x_eps, np.clip(x + eps * noise, 0.0, 1.0), atol=1e-6)
    np.testing.assert_array_equal(fitted.perturb(x[:8]), fitted.perturb(x[:8], eps=fitted.eps))
    np.testing.assert_array_equal(fitted.perturb(x[:8], eps=np.float32(0.1)), fitted.perturb(x[:8], eps=0.1))
    huge = fitted.perturb(x[:8], eps=1e300)  # beyond the range of clip_values: the whole range, no inf * 0
    assert np.isfinite(huge).all() and np.array_equal(huge, fitted.perturb(x[:8], eps=1.0))
    for bad in (-0.1, float("nan"), float("inf"), True, "0.1"):
        with pytest.raises(ValueError, match="LearningToConfuse.perturb: eps must be"):
            fitted.perturb(x[:8], eps=bad)


def test_poison_budget_is_exact_with_other_clip_values():
    """A generator saturating at +-1 on inputs at the box edges: the budget and range still hold exactly."""
    x = np.concatenate(
        [np.full((4, *SHAPE), -1.0), np.full((4, *SHAPE), 1.0), np.random.default_rng(0).uniform(-1, 1, (8, *SHAPE))]
    ).astype(np.float32)
    attack = LearningToConfuse(eps=0.25, clip_values=(-1.0, 1.0), verbose=False)
    inputs = keras.Input(SHAPE)
    attack.generator_ = keras.Model(
        inputs, keras.layers.Lambda(lambda t: 10.0 * keras.ops.sign(t - 0.1) + 0 * t)(inputs)
    )
    x_poison, _ = attack.poison(x, np.zeros(len(x), dtype=int))
    assert np.abs(x_poison.astype(np.float64) - x).max() <= 0.25
    assert x_poison.min() >= -1.0 and x_poison.max() <= 1.0


def test_save_load_roundtrip(fitted, data, tmp_path):
    (x, y), _ = data
    path = str(tmp_path / "generator.keras")
    fitted.save(path)
    loaded = LearningToConfuse.load(path, verbose=False)
    np.testing.assert_array_equal(loaded.poison(x[:64], y[:64])[0], fitted.poison(x[:64], y[:64])[0])
    assert loaded.get_config() == fitted.get_config()
    assert repr(loaded.history_) == repr(fitted.history_)  # NaN marks the rounds without a running accuracy
    assert LearningToConfuse.load(path, eps=0.1, verbose=False).eps == 0.1  # parameters override the saved ones
    assert [p.name for p in tmp_path.iterdir()] == ["generator.keras"]  # no temporary file left


def test_load_is_a_classmethod_that_refuses_other_keras_files(tmp_path):
    """Regression: a classifier's .keras file loaded as an LTC generator (and load was an instance method)."""
    path = str(tmp_path / "classifier.keras")
    tiny_mlp(SHAPE, CLASSES).save(path)
    with pytest.raises(ValueError, match="not an art-ext LearningToConfuse file"):
        LearningToConfuse.load(path)
    with pytest.raises(ValueError, match="no LearningToConfuse file"):
        LearningToConfuse.load(str(tmp_path / "missing.keras"))
    with pytest.raises(ValueError, match="not fitted"):
        LearningToConfuse().save(str(tmp_path / "unfitted.keras"))


def test_surrogate_classifier_and_deterministic_under_seed(data):
    """Same seed, same poison; the global random state is neither reset nor advanced by fit (regression: seed=
    reseeded Python, NumPy and TensorFlow globally)."""
    (x, y), _ = data
    surrogate = wrap(tiny_mlp(SHAPE, CLASSES))
    outputs = []
    for _ in range(2):
        keras.utils.set_random_seed(123)
        attack = LearningToConfuse(eps=0.3, surrogate=surrogate, generator=tiny_generator(), seed=7, verbose=False)
        run_without_global_rng(lambda: attack.fit(x[:128], y[:128], nb_epochs=1, batch_size=32))  # noqa: B023
        outputs.append(attack.poison(x[:16], y[:16])[0])
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_set_params_validates_atomically():
    attack = LearningToConfuse(eps=0.3, verbose=False)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['epsilon'\]"):
        attack.set_params(epsilon=0.1)
    with pytest.raises(ValueError, match="eps must be a number in"):
        attack.set_params(unroll_steps=3, eps=2.0)
    assert (attack.eps, attack.unroll_steps) == (0.3, 1)
    with pytest.raises(ValueError, match="keep_best must be"):
        attack.set_params(keep_best=1)
    attack.set_params(clip_values=[0, 2], eps=1.5)
    assert attack.clip_values == (0.0, 2.0) and attack.eps == 1.5


def test_label_specific_moves_predictions_towards_targets(data):
    (x, y), (x_val, y_val) = data
    target_fn = lambda labels: (labels + 1) % CLASSES  # noqa: E731
    attack = toy_attack(target_fn=target_fn)
    attack.fit(x, y, nb_epochs=6, batch_size=32)
    x_poison, _ = attack.poison(x, y)
    clean = train_victim(x, y).predict(x_val).argmax(1)
    poisoned = train_victim(x_poison, y).predict(x_val).argmax(1)
    success_clean, success_poisoned = np.mean(clean == target_fn(y_val)), np.mean(poisoned == target_fn(y_val))
    assert success_poisoned > success_clean + 0.2, (success_clean, success_poisoned)


def test_independent_clean_batch_confuses_the_toy_problem(data):
    """The clean loss on an independently drawn batch: victims trained on the poison lose most of their accuracy
    (1.0 -> 0.0 with this seed; the toy problem is volatile across generator initialisations, 0.0-0.77)."""
    (x, y), (x_val, y_val) = data
    keras.utils.set_random_seed(0)  # the generator's initial weights (fit seeds everything after them)
    attack = toy_attack(clean_batch="independent", schedule="constant")
    attack.fit(x, y, nb_epochs=4, batch_size=32)
    x_poison, _ = attack.poison(x, y)
    clean = np.mean(train_victim(x, y).predict(x_val).argmax(1) == y_val)
    poisoned = np.mean(train_victim(x_poison, y).predict(x_val).argmax(1) == y_val)
    assert clean > 0.9 and poisoned < 0.3, (clean, poisoned)


def test_schedule_stages_and_validation_split(data):
    """A custom schedule shares the rounds by its stages; without x_val the fit holds out validation_split of x to
    score its fresh victims (and scores none with validation_split=0)."""
    (x, y), _ = data
    attack = toy_attack(schedule=((1, "same", 1.0), (3, "independent", 0.5)))
    assert attack._stages(8) == [(2, "same", 1e-2), (6, "independent", 5e-3)]
    assert LearningToConfuse(generator_learning_rate=1e-3)._stages(100) == [
        (18, "same", 1e-3),
        (12, "independent", 1e-3),
        (70, "independent", pytest.approx(3e-4)),
    ]
    attack.fit(x[:256], y[:256], nb_epochs=4, batch_size=32)
    scored = [h for h in attack.history_ if "fresh_victim_val_accuracy" in h]
    assert [h["stage"] for h in attack.history_ if not h.get("final")] == [1, 2, 2, 2] and len(scored) == 5
    attack.fit(x[:256], y[:256], nb_epochs=2, batch_size=32, validation_split=0)
    assert not any("fresh_victim_val_accuracy" in h for h in attack.history_)
    with pytest.raises(ValueError, match="validation_split"):
        attack.fit(x, y, validation_split=1.0)


def test_checkpoint_resumes_an_interrupted_fit(data, tmp_path, monkeypatch):
    """A fit interrupted after its second round resumes from the checkpoint and ends with every round recorded; a
    checkpoint of another fit is refused."""
    from art_ext.attacks.poisoning import learning_to_confuse as module

    (x, y), (x_val, y_val) = data
    x, y = x[:256], y[:256]
    path = str(tmp_path / "fit.npz")
    save = module._save_checkpoint
    calls = []

    def interrupt_after_two_rounds(*args):
        save(*args)
        calls.append(args[2]["round"])
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(module, "_save_checkpoint", interrupt_after_two_rounds)
    kwargs = dict(nb_epochs=4, batch_size=32, x_val=x_val, y_val=y_val, checkpoint=path)
    with pytest.raises(KeyboardInterrupt):
        toy_attack(schedule="constant").fit(x, y, **kwargs)
    monkeypatch.setattr(module, "_save_checkpoint", save)
    resumed = toy_attack(schedule="constant").fit(x, y, **kwargs)
    assert [h["round"] for h in resumed.history_] == [1, 2, 3, 4, 4]
    assert all("fresh_victim_val_accuracy" in h for h in resumed.history_[1:])
    again = toy_attack(schedule="constant").fit(x, y, **kwargs)  # the finished fit's checkpoint: nothing left to do
    np.testing.assert_array_equal(again.poison(x[:8], y[:8])[0], resumed.poison(x[:8], y[:8])[0])
    with pytest.raises(ValueError, match="belongs to a fit with other parameters or data"):
        toy_attack(schedule="constant").fit(x, y, **{**kwargs, "nb_epochs": 5})
    with pytest.raises(ValueError, match="checkpoint must be a path ending in .npz"):
        toy_attack().fit(x, y, checkpoint=str(tmp_path / "fit.keras"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps": 0.0}, "eps"),
        ({"schedule": "fast"}, "schedule"),
        ({"schedule": ()}, "schedule"),
        ({"schedule": ((1, "same"),)}, "schedule"),
        ({"schedule": ((0, "same", 1.0),)}, "share"),
        ({"schedule": ((1, "other", 1.0),)}, "clean_batch"),
        ({"eps": -0.1}, "eps"),
        ({"eps": 1.5}, "eps"),
        ({"eps": 0.3, "clip_values": (1, 0)}, "clip_values"),
        ({"victim_learning_rate": 0}, "victim_learning_rate"),
        ({"unroll_steps": 0}, "unroll_steps"),
        ({"victim_epochs": 1.5}, "victim_epochs"),
        ({"clean_batch": "other"}, "clean_batch"),
        ({"target_fn": 3}, "target_fn"),
        ({"surrogate": "no_such_model"}, "surrogate"),
        ({"surrogate": ()}, "surrogate must hold at least one"),
        ({"surrogate": ("deepconfuse_victim", "no_such_model")}, r"unknown surrogate\[1\] model 'no_such_model'"),
        ({"surrogate": ("deepconfuse_victim", 3)}, r"surrogate\[1\] must be a model name"),
        ({"surrogate": keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])}, r"surrogate must be .*wrap"),
        ({"generator": "ae"}, "generator"),
        ({"nb_classes": 1}, "nb_classes"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LearningToConfuse(**kwargs)


def test_bad_inputs(data):
    (x, y), _ = data
    attack = LearningToConfuse(
        eps=0.3, surrogate=tiny_mlp, generator=tiny_generator(), nb_classes=CLASSES, verbose=False
    )
    with pytest.raises(ValueError, match="labels but there are"):
        attack.fit(x, y[:-1])
    with pytest.raises(ValueError, match=r"y must lie in \[0, 4\)"):
        attack.fit(x, np.full(len(x), 7))
    with pytest.raises(ValueError, match="clip_values"):
        attack.fit(x + 2.0, y)
    with pytest.raises(ValueError, match="target_fn"):
        LearningToConfuse(target_fn=lambda t: t + 10, surrogate=tiny_mlp, nb_classes=CLASSES).fit(x, y)
    with pytest.raises(ValueError, match="nb_epochs"):
        attack.fit(x, y, nb_epochs=0)
    with pytest.raises(ValueError, match="not fitted"):
        attack.poison(x, y)
    with pytest.raises(ValueError, match="the generator.s input"):
        LearningToConfuse(surrogate=tiny_mlp, nb_classes=CLASSES, generator=conv_autoencoder((12, 12, 1))).fit(x, y)


@pytest.mark.parametrize(
    "shape, name",
    [
        ((28, 28, 1), "deepconfuse_mnist_autoencoder"),
        ((30, 26, 1), "deepconfuse_autoencoder"),
        ((32, 32, 3), "deepconfuse_unet"),
        ((36, 36, 3), "deepconfuse_unet"),
    ],
)
def test_default_generators_keep_the_input_shape(shape, name):
    from art_ext.models.generators import default_generator

    generator = default_generator(shape)
    assert generator.name == name
    out = generator(np.random.default_rng(0).uniform(0, 1, (2, *shape)).astype(np.float32), training=False)
    assert tuple(out.shape) == (2, *shape) and float(np.abs(out).max()) <= 1.0


def test_inputs_checked_before_work_and_deepcopy(fitted, data):
    import copy

    (x, y), _ = data
    with pytest.raises(ValueError, match=r"x must be a batch of images \(n, H, W, C\)"):
        toy_attack().fit(x[:, :, :, 0], y)
    with pytest.raises(ValueError, match=r"x must have samples of shape \(8, 8, 1\) \(the generator's input\)"):
        toy_attack().fit(np.zeros((8, 6, 6, 1), np.float32), y[:8])
    for bad, match in (
        (np.full(8, 7), r"y must lie in \[0, 4\)"),
        (np.zeros((8, 4)), "one-hot"),
        (np.array(["a"] * 8), "y"),
        (np.full(8, 0.5), "integer"),
    ):
        with pytest.raises(ValueError, match=match):
            fitted.poison(x[:8], bad)
    with pytest.raises(ValueError, match="x must be"):
        fitted.poison(None, y[:8])
    clone = copy.deepcopy(fitted)
    np.testing.assert_array_equal(clone.poison(x[:8], y[:8])[0], fitted.poison(x[:8], y[:8])[0])
    assert clone.generator_ is not fitted.generator_


def test_deepcopy_shares_the_surrogate_classifier():
    import copy

    surrogate = wrap(tiny_mlp(SHAPE, CLASSES))
    surrogate.fit(np.zeros((4, *SHAPE), np.float32), np.arange(4), nb_epochs=1, verbose=False)  # traces its step
    attack = LearningToConfuse(eps=0.3, surrogate=surrogate, verbose=False)
    assert copy.deepcopy(attack).surrogate is surrogate


def tiny_cnn(input_shape, nb_classes):
    """A second imaginary-victim family for the toy problem: a small conv net with batch normalisation."""
    inputs = keras.Input(input_shape)
    hidden = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    hidden = keras.layers.ReLU()(keras.layers.BatchNormalization()(hidden))
    features = keras.layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(nb_classes)(features))


def test_a_sequence_of_surrogates_takes_turns_one_per_round(data, tmp_path):
    """Round i (from 0) trains an imaginary victim of surrogate i % k (recorded in the history); each round's fresh
    victim is scored, the stage's final one on the first surrogate (keep_best compares that architecture's scores);
    a classifier in the sequence is honoured, the fitted attack saves and loads, and deepcopy shares the
    classifiers."""
    import copy

    (x, y), (x_val, y_val) = data
    surrogates = (tiny_mlp, wrap(tiny_cnn(SHAPE, CLASSES)))
    attack = toy_attack(surrogate=list(surrogates), schedule="constant")
    assert attack.surrogate == surrogates  # a list is kept as a tuple
    attack.fit(x[:256], y[:256], nb_epochs=3, batch_size=32, x_val=x_val, y_val=y_val)
    rounds = [(h["round"], h["surrogate"], h.get("final", False)) for h in attack.history_]
    assert rounds == [(1, 0, False), (2, 1, False), (3, 0, False), (3, 0, True)]
    assert all(0.0 <= h["fresh_victim_val_accuracy"] <= 1.0 for h in attack.history_[1:])
    x_poison, _ = attack.poison(x[:64], y[:64])
    assert np.abs(x_poison - x[:64]).max() <= 0.5 + 1e-6
    assert copy.deepcopy(attack).surrogate[1] is surrogates[1]
    assert attack.get_config()["surrogate"] is None  # a factory and a classifier are not serialisable

    named = LearningToConfuse(eps=0.3, surrogate=["simple_mlp", "deepconfuse_victim"], verbose=False)
    assert named.get_config()["surrogate"] == ["simple_mlp", "deepconfuse_victim"]
    named.generator_, named.nb_classes_ = attack.generator_, CLASSES
    path = str(tmp_path / "ltc.keras")
    named.save(path)
    assert LearningToConfuse.load(path, verbose=False).surrogate == ("simple_mlp", "deepconfuse_victim")
    named.set_params(surrogate=["simple_mlp"])  # a sequence of one is that surrogate
    assert named.surrogate == "simple_mlp" and named.get_config()["surrogate"] == "simple_mlp"


def test_a_sequence_of_surrogates_checks_every_surrogate_before_work(data, tmp_path):
    (x, y), _ = data
    five_classes = wrap(tiny_mlp(SHAPE, CLASSES + 1))
    with pytest.raises(ValueError, match=r"numbers of classes disagree: .*'surrogate\[0\]': 4, 'surrogate\[1\]': 5"):
        LearningToConfuse(surrogate=(wrap(tiny_mlp(SHAPE, CLASSES)), five_classes))
    with pytest.raises(ValueError, match=r"numbers of classes disagree: \{'nb_classes': 4, 'surrogate': 5\}"):
        LearningToConfuse(surrogate=five_classes, nb_classes=CLASSES)
    wide = wrap(tiny_mlp((12, 12, 1), CLASSES))
    attack = LearningToConfuse(surrogate=(tiny_mlp, wide), generator=tiny_generator(), verbose=False)
    with pytest.raises(ValueError, match=r"x must have samples of shape \(12, 12, 1\) \(the surrogate's input\)"):
        attack.fit(x, y)
    wrong_classes = LearningToConfuse(
        surrogate=(tiny_mlp, lambda shape, n: tiny_mlp(shape, n + 1)), nb_classes=CLASSES, verbose=False
    )
    with pytest.raises(ValueError, match=r"the surrogate\[1\] maps"):
        wrong_classes.fit(x[:64], y[:64], nb_epochs=1)
    # a checkpoint belongs to its surrogates: another ensemble (here, the same two in the other order) is refused
    path = str(tmp_path / "fit.npz")
    toy_attack(surrogate=(tiny_mlp, tiny_cnn)).fit(x[:64], y[:64], nb_epochs=1, batch_size=32, checkpoint=path)
    with pytest.raises(ValueError, match="belongs to a fit with other parameters or data"):
        toy_attack(surrogate=(tiny_cnn, tiny_mlp)).fit(x[:64], y[:64], nb_epochs=1, batch_size=32, checkpoint=path)


def bn_free_generator():
    """A generator without batch normalisation, so per-replica batch statistics cannot differ from one device's."""
    inputs = keras.Input(SHAPE)
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same", activation="tanh")(hidden))


def test_mirrored_strategy_matches_one_device(data, two_cpu_strategy):
    """Two rounds under a MirroredStrategy over two logical CPUs give the poison of single-device training within
    1e-4 (the replicas' float sums differ in order only): the unrolled step uses the global batch's gradient."""
    (x, y), _ = data
    x, y = x[:128], y[:128]
    poisons = []
    for strategy in (None, two_cpu_strategy):
        with (strategy or tf.distribute.get_strategy()).scope(), seeded(3):
            generator = bn_free_generator()
        attack = toy_attack(schedule="constant", strategy=strategy)
        attack.set_params(generator=generator)
        attack.fit(x, y, nb_epochs=2, batch_size=32, validation_split=0)
        poisons.append(attack.perturb(x[:32]))
    assert np.abs(poisons[0] - x[:32]).max() > 1e-3  # the generators did train
    np.testing.assert_allclose(poisons[1], poisons[0], atol=1e-4)
    with pytest.raises(ValueError, match=r"generator was built outside strategy.scope\(\)"):
        toy_attack(strategy=two_cpu_strategy).fit(x, y, nb_epochs=1, batch_size=32)


@pytest.mark.parametrize("distributed", [False, True], ids=["one-device", "mirrored"])
def test_fused_generator_and_victim_step_equals_the_two_steps_in_turn(data, two_cpu_strategy, distributed):
    """The fit runs the victim's own step inside the generator step's function: the same updates as the generator
    step followed by the victim step -- the unrolled update reads the victim's weights and batch-norm statistics
    before the victim's step changes them -- on one device and under a MirroredStrategy."""
    from art_ext.attacks.poisoning.learning_to_confuse import _shard

    (x, y), _ = data
    strategy = two_cpu_strategy if distributed else tf.distribute.get_strategy()
    attack = toy_attack(strategy=strategy if distributed else None)
    batches = [_shard(strategy, x[i : i + 32], y[i : i + 32].astype(np.int32)) for i in (0, 32, 64)]
    weights = []
    for fused in (False, True):
        with strategy.scope(), seeded(0):
            inputs = keras.Input(SHAPE)
            hidden = keras.layers.BatchNormalization()(keras.layers.Dense(16)(keras.layers.Flatten()(inputs)))
            victim = keras.Model(inputs, keras.layers.Dense(CLASSES)(keras.layers.ReLU()(hidden)))
            generator, frozen = tiny_generator(), tiny_generator()
            optimizer, victim_optimizer = keras.optimizers.Adam(1e-2), keras.optimizers.SGD(0.1)
            optimizer.build(generator.trainable_variables)
            victim_optimizer.build(victim.trainable_variables)
        logits_fn = attack._logits_fn(attack.surrogate)
        victim_step, victim_replica, _ = attack._build_steps(strategy, victim, logits_fn, frozen, victim_optimizer, 32)
        then = victim_replica if fused else None
        generator_step = attack._build_generator_step(strategy, victim, logits_fn, generator, optimizer, 32, then=then)
        for xb, yb in batches:
            generator_step(xb, yb, xb, yb, yb)
            if not fused:
                victim_step(xb, yb)
        weights.append([v.numpy() for v in victim.variables + generator.variables])
    assert any(np.abs(w).max() > 0 for w in weights[0])
    for unfused, fused in zip(*weights):
        np.testing.assert_allclose(fused, unfused, atol=1e-5)


def test_surrogate_classifier_preprocessing_and_probabilities_are_honoured(data):
    """A surrogate ART classifier with a softmax head and preprocessing=(mean, std): the imaginary victim sees the
    standardised inputs and trains on log-probabilities (regression: its clone was called on raw inputs and its
    probabilities taken for logits)."""
    from art.defences.preprocessor import SpatialSmoothing
    from art.estimators.classification import TensorFlowV2Classifier

    (x, y), _ = data
    inputs = keras.Input(SHAPE)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(keras.layers.Flatten()(inputs)))

    def classifier(**options):
        return TensorFlowV2Classifier(
            model,
            CLASSES,
            SHAPE,
            loss_object=keras.losses.SparseCategoricalCrossentropy(),
            clip_values=(0, 1),
            **options,
        )

    surrogate = classifier(preprocessing=(0.5, 0.25))
    attack = LearningToConfuse(eps=0.5, surrogate=surrogate, generator=tiny_generator(), seed=0, verbose=False)
    expected = np.log(model((x[:8] - 0.5) / 0.25, training=False).numpy())
    got = attack._logits_fn(surrogate)(model, tf.constant(x[:8]), False, False).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    attack.fit(x[:128], y[:128], nb_epochs=1, batch_size=32, validation_split=0)
    assert np.abs(attack.perturb(x[:8]) - x[:8]).max() <= 0.5
    numpy_defence = classifier(preprocessing_defences=[SpatialSmoothing()])
    with pytest.raises(ValueError, match="surrogate: .*must run in TensorFlow"):
        LearningToConfuse(surrogate=numpy_defence)
