"""Tests of the UDDN preprocessor and the GNR noise generator (tiny widths, embedded MNIST)."""

import numpy as np
import pytest
import tensorflow as tf

from art_ext.data import load_dataset
from art_ext.defences.preprocessor import GNR, UDDN
from art_ext.estimators import wrap
from art_ext.experiments.harness import set_seed, train_model
from art_ext.models import get_model
from tests.global_rng import run_without_global_rng

TINY = (4, 4, 4, 4, 4)


@pytest.fixture(scope="module")
def mnist():
    x, y = load_dataset("mnist", "train", source="embedded")
    return x[:600], y[:600]


@pytest.fixture(scope="module")
def classifier(mnist):
    set_seed(0)
    x, y = mnist
    return wrap(train_model(get_model("simple_cnn", (28, 28, 1), 10), x, y, epochs=2, batch_size=64))


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (13, 21, 1), (5, 7, 3)])
def test_shape_and_range_preserved(shape):
    uddn = UDDN(guide="pixels", channels=shape[-1], widths=TINY, seed=0)
    x = np.random.default_rng(0).random((3, *shape), dtype=np.float32)
    x_copy = x.copy()
    out, y = uddn(x, np.arange(3))
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(y, np.arange(3))
    np.testing.assert_array_equal(x, x_copy)  # input not modified


def test_forward_chunks_match_one_pass():
    uddn = UDDN(guide="pixels", channels=1, widths=TINY, seed=0, forward_batch_size=4)
    x = np.random.default_rng(1).random((10, 12, 12, 1), dtype=np.float32)
    chunked = uddn.forward(tf.constant(x))[0].numpy()
    one_pass = uddn._denoise(tf.constant(x)).numpy()
    np.testing.assert_allclose(chunked, one_pass, atol=1e-5)


def test_gradient_flows_through_denoiser(classifier, mnist):
    uddn = UDDN(classifier, widths=TINY, seed=0)
    x = tf.constant(mnist[0][:4])
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(uddn.forward(x)[0] ** 2)
    grad = tape.gradient(out, x).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0
    # ...and ART's white-box machinery goes through it (exact gradient, differs from the identity's).
    defended = wrap(classifier.model, preprocessing_defences=uddn)
    y = np.eye(10)[mnist[1][:4]]
    g_def, g_plain = defended.loss_gradient(mnist[0][:4], y), classifier.loss_gradient(mnist[0][:4], y)
    assert g_def.shape == (4, 28, 28, 1) and np.abs(g_def).sum() > 0
    assert not np.allclose(g_def, g_plain)


def test_make_pairs_respects_eps_and_seed(classifier, mnist):
    x = mnist[0][:32]
    uddn = UDDN(
        classifier, widths=TINY, eps_range=(0.05, 0.1), attacks=("fgsm", "ifgsm2"), attacks_per_image=None, seed=3
    )
    noisy, clean = uddn.make_pairs(x)
    assert noisy.shape == (3 * 32, 28, 28, 1) and clean.shape == noisy.shape
    linf = np.abs(noisy - clean).reshape(len(noisy), -1).max(axis=1)
    assert linf[:64].max() <= 0.1 + 1e-5 and linf[:64].mean() > 0.04
    np.testing.assert_array_equal(noisy[64:], x)  # include_clean pairs
    np.testing.assert_array_equal(uddn.make_pairs(x)[0], noisy)  # deterministic under the seed


def test_make_pairs_on_several_sources(classifier, mnist):
    """Each image's attacks come from one source drawn at random: here a second, untrained model, whose gradient
    differs, so the pairs differ from the guide's exactly on the images drawn for it."""
    x = mnist[0][:32]
    set_seed(1)
    other = wrap(get_model("simple_mlp", (28, 28, 1), 10))
    uddn = UDDN(classifier, widths=TINY, eps_range=(0.1, 0.1), attacks=("fgsm",), include_clean=False, seed=3)
    own, _ = uddn.make_pairs(x)
    same, _ = uddn.make_pairs(x, sources=[classifier, other], source_weights=[1.0, 0.0])
    np.testing.assert_array_equal(same, own)
    mixed, clean = uddn.make_pairs(x, sources=[classifier, other])
    differs = np.any(mixed != own, axis=(1, 2, 3))
    assert 0 < differs.sum() < len(x)  # some images from each source
    assert np.abs(mixed - clean).max() <= 0.1 + 1e-5
    with pytest.raises(ValueError, match="source_weights"):
        uddn.make_pairs(x, sources=[classifier, other], source_weights=[0.7, 0.7])


def test_fit_lowers_guided_loss(classifier, mnist):
    x = mnist[0][:96]
    uddn = UDDN(
        classifier,
        guide="logits",
        widths=(4, 8, 8, 8, 8),
        attacks=("fgsm",),
        eps_range=(0.2, 0.3),
        seed=0,
        batch_size=16,
    )
    noisy, clean = uddn.make_pairs(x)
    before = uddn.guided_loss(noisy, clean)
    uddn.fit(x, nb_epochs=4)
    assert uddn.is_fitted and len(uddn.history_) == 4
    assert uddn.history_[-1]["loss"] < uddn.history_[0]["loss"]
    assert uddn.guided_loss(noisy, clean) < before


def test_extra_guides_average_the_guided_distances(classifier, mnist):
    x = mnist[0][:32]
    set_seed(1)
    other = wrap(train_model(get_model("simple_mlp", (28, 28, 1), 10), *map(lambda a: a[:200], mnist), epochs=1))
    main_only, other_only = UDDN(classifier, widths=TINY, seed=0), UDDN(other, widths=TINY, seed=0)
    both = UDDN(classifier, widths=TINY, seed=0, extra_guides=[other])
    noisy = np.clip(x + 0.3 * np.sign(np.random.default_rng(0).standard_normal(x.shape)), 0, 1).astype(np.float32)
    # same seed, same weights: the loss is the mean of the two guides' distances
    expected = (main_only.guided_loss(noisy, x) + other_only.guided_loss(noisy, x)) / 2
    assert both.guided_loss(noisy, x) == pytest.approx(expected, rel=1e-5)
    both.fit(x, x_adversarial=noisy, nb_epochs=3, batch_size=8)
    assert both.history_[-1]["loss"] < both.history_[0]["loss"]
    with pytest.raises(ValueError, match="input shape"):
        UDDN(classifier, widths=TINY, extra_guides=[wrap(get_model("simple_mlp", (32, 32, 3), 10))])
    with pytest.raises(ValueError, match="extra_guides must be ART"):
        UDDN(classifier, widths=TINY, extra_guides=[object()])


def test_features_guide_uses_last_feature_layer(classifier, mnist):
    uddn = UDDN(classifier, guide="features", widths=TINY)
    x = mnist[0][:8]
    assert uddn._guide_models[0](tf.constant(x)).shape == (8, 32)  # simple_cnn: Dense(32) before the logits
    assert uddn.guided_loss(x, x) >= 0.0 and uddn.guided_loss(np.clip(x + 0.3, 0, 1), x) > 0.0


def test_dae_architecture_has_no_lateral_connections():
    unet = UDDN(guide="pixels", channels=1, widths=TINY).denoiser_
    dae = UDDN(guide="pixels", channels=1, widths=TINY, lateral=False, residual=False).denoiser_
    assert any(layer.name.startswith("fuse") for layer in unet.layers)
    assert not any(layer.name.startswith("fuse") for layer in dae.layers)
    assert dae.count_params() < unet.count_params()


def test_dae_learns_from_below_the_clip_range(mnist):
    # regression: when the pixel loss took the clipped output, pixels outside clip_values passed no gradient, and the
    # image-output DAE, once below zero, stayed on the all-black image for good
    x = mnist[0][:64]
    dae = UDDN(guide="pixels", channels=1, widths=TINY, lateral=False, residual=False, seed=0, batch_size=16)
    image = dae.denoiser_.get_layer("image")
    image.bias.assign(image.bias - 10.0)  # every output pixel far below 0
    before = image.kernel.numpy().copy()
    dae.fit(x, x_adversarial=x, nb_epochs=1)
    assert np.abs(image.kernel.numpy() - before).max() > 1e-4  # a plain clip leaves it exactly unchanged


def test_save_load_round_trip(tmp_path, classifier, mnist):
    uddn = UDDN(classifier, widths=TINY, seed=1)
    uddn.history_ = [{"epoch": 0, "loss": 1.0, "learning_rate": 1e-3}]
    path = str(tmp_path / "uddn.keras")
    uddn.save(path)
    loaded = UDDN.load(path)
    assert loaded.get_config() == uddn.get_config() and loaded.history_ == uddn.history_
    x = mnist[0][:8]
    np.testing.assert_array_equal(loaded(x)[0], uddn(x)[0])
    with pytest.raises(ValueError, match="needs a classifier"):
        loaded.fit(x, nb_epochs=1)  # a logits-guided denoiser loaded without its guide cannot train
    assert [p.name for p in tmp_path.iterdir()] == ["uddn.keras"]  # no temp file left


def test_bad_inputs_raise_clear_errors(classifier, mnist):
    with pytest.raises(ValueError, match="needs a classifier"):
        UDDN(guide="logits", channels=1)
    with pytest.raises(ValueError, match="guide must be one of"):
        UDDN(classifier, guide="pixel")
    with pytest.raises(ValueError, match="channels=3 but the classifier takes 1"):
        UDDN(classifier, channels=3)
    with pytest.raises(ValueError, match="attacks"):
        UDDN(classifier, attacks=("pgd",))
    uddn = UDDN(classifier, widths=TINY)
    with pytest.raises(ValueError, match=r"x must have shape \(n, H, W, 1\)"):
        uddn(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="clip_values"):
        uddn(np.full((2, 8, 8, 1), 1.5, np.float32))
    with pytest.raises(ValueError, match="one image per x"):
        uddn.fit(mnist[0][:4], x_adversarial=mnist[0][:3])
    with pytest.raises(ValueError, match="path must end in .keras"):
        uddn.save("/tmp/uddn.h5")


def test_gnr_learns_noise_and_augments_fit(classifier, mnist):
    rng = np.random.default_rng(0)
    noise = (0.2 * np.sign(rng.standard_normal((64, 28, 28, 1)))).astype(np.float32)
    gnr = GNR(latent_dim=8, generator_widths=(8, 8, 8), critic_widths=(8, 8, 8), batch_size=16, seed=0)
    with pytest.raises(ValueError, match="not fitted"):
        gnr.sample(2)
    gnr.fit(noise, nb_epochs=2)
    sample = gnr.sample(5, seed=1)
    assert sample.shape == (5, 28, 28, 1) and np.abs(sample).max() <= gnr.scale_ + 1e-6
    np.testing.assert_array_equal(gnr.sample(5, seed=1), sample)
    assert len(gnr.history_) == 2 and np.isfinite(gnr.history_[-1]["wasserstein"])
    uddn = UDDN(classifier, guide="pixels", widths=TINY, attacks=("fgsm",), seed=0)
    uddn.fit(mnist[0][:16], nb_epochs=1, gnr=gnr, gnr_ratio=1.0)
    assert uddn.is_fitted
    with pytest.raises(ValueError, match="gnr_ratio"):
        uddn.fit(mnist[0][:16], nb_epochs=1, gnr_ratio=1.0)


# ---------------------------------------------------------------- issue 18: parameters, state, persistence


@pytest.fixture(scope="module")
def tiny_fitted():
    """A pixel-guided UDDN on NCHW images fitted for one epoch; construction and fit leave the global RNGs alone
    (regression: seed= reseeded Python, NumPy and TensorFlow globally)."""
    x = np.random.default_rng(2).random((8, 1, 8, 8), dtype=np.float32)

    def build_and_fit():
        uddn = UDDN(guide="pixels", channels=1, widths=TINY, seed=0, batch_size=4, channels_first=True)
        assert uddn.fit(x, x_adversarial=x, nb_epochs=1) is uddn  # fit returns self
        return uddn

    return run_without_global_rng(build_and_fit)


def test_set_params_clip_values_reaches_the_compiled_pass():
    """Regression: the compiled inference pass kept the clip_values of construction."""
    x = np.random.default_rng(0).uniform(0.0, 0.5, (4, 8, 8, 1)).astype(np.float32)
    uddn = UDDN(guide="pixels", channels=1, widths=TINY, seed=0)
    uddn(x)
    uddn.set_params(clip_values=(0.0, 0.5))
    fresh = UDDN(guide="pixels", channels=1, widths=TINY, seed=0, clip_values=(0.0, 0.5))
    out = uddn(x)[0]
    assert out.max() <= 0.5
    np.testing.assert_array_equal(out, fresh(x)[0])
    np.testing.assert_array_equal(uddn.forward(tf.constant(x))[0].numpy(), out)


@pytest.mark.parametrize(
    "change", [{"widths": (2, 2, 2, 2, 2)}, {"channels": 3}, {"lateral": False}, {"residual": False}, {"seed": 5}]
)
def test_set_params_rebuilds_the_network_before_fit_and_refuses_after(change, tiny_fitted):
    """Regression: widths/channels/lateral/residual changed the attribute but not the network."""
    uddn = UDDN(guide="pixels", channels=1, widths=TINY, seed=0)
    uddn.set_params(**change)
    fresh = UDDN(**{"guide": "pixels", "channels": 1, "widths": TINY, "seed": 0, **change})
    assert uddn.denoiser_.count_params() == fresh.denoiser_.count_params()
    for a, b in zip(uddn.denoiser_.get_weights(), fresh.denoiser_.get_weights()):
        np.testing.assert_array_equal(a, b)
    fitted = tiny_fitted
    weights = fitted.denoiser_.get_weights()
    if "seed" in change:  # not structural: accepted, the fitted weights are kept
        fitted.set_params(**change)
        assert fitted.seed == 5
        fitted.set_params(seed=0)
    else:
        with pytest.raises(ValueError, match="cannot change .* of a fitted denoiser"):
            fitted.set_params(**change)
        assert fitted.get_params()["widths"] == TINY and fitted.channels == 1
    for a, b in zip(fitted.denoiser_.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_set_params_unknown_keys_and_atomic():
    uddn = UDDN(guide="pixels", channels=1, widths=TINY)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['widht'\]"):
        uddn.set_params(widht=(2, 2, 2, 2, 2))
    with pytest.raises(ValueError, match="batch_size must be"):
        uddn.set_params(patience=5, batch_size=0)
    assert (uddn.patience, uddn.batch_size) == (2, 32)
    for bad in (
        {"lateral": 1},
        {"verbose": "yes"},
        {"seed": -1},
        {"eps_range": (0.3, 0.1)},
        {"widths": (4, 4)},
        {"clip_values": (0, float("inf"))},
        {"attacks": ("fgsm", 3)},
    ):
        with pytest.raises(ValueError, match=list(bad)[0]):
            UDDN(**{"guide": "pixels", "channels": 1, "widths": TINY, **bad})


def test_nan_raises_on_the_tensorflow_path(classifier, mnist):
    """Regression: a classifier with UDDN in preprocessing_defences gave finite predictions for a NaN input."""
    uddn = UDDN(classifier, widths=TINY, seed=0)
    defended = wrap(classifier.model, preprocessing_defences=uddn)
    x = mnist[0][:2].copy()
    x[1, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        defended.predict(x)
    with pytest.raises(ValueError, match="NaN or inf"):
        uddn.forward(tf.constant(np.where(x == x, x, np.inf)))
    graph = tf.function(lambda t: uddn.forward(t)[0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
        graph(tf.constant(x))
    assert np.isfinite(defended.predict(mnist[0][:2])).all()
    # out of range (e.g. 0-255 images into a [0, 1] denoiser) too
    with pytest.raises(ValueError, match=r"within clip_values \(0.0, 1.0\)"):
        defended.predict(255.0 * mnist[0][:2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="within clip_values"):
        graph(tf.constant(mnist[0][:2] + 0.5))


def test_same_seed_same_network():
    a, b = (UDDN(guide="pixels", channels=1, widths=TINY, seed=0) for _ in range(2))
    for u, v in zip(a.denoiser_.get_weights(), b.denoiser_.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_persistence_is_tagged_and_refuses_foreign_files(tmp_path, tiny_fitted):
    fitted = tiny_fitted
    path = str(tmp_path / "uddn.keras")
    fitted.save(path)
    loaded = UDDN.load(path)
    x = np.random.default_rng(3).random((2, 1, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(loaded(x)[0], fitted(x)[0])
    assert loaded.is_fitted and loaded.history_ == fitted.history_ and loaded.get_config() == fitted.get_config()
    plain = str(tmp_path / "plain.keras")
    fitted.denoiser_.save(plain)
    with pytest.raises(ValueError, match="not an art-ext UDDN file"):
        UDDN.load(plain)
    with pytest.raises(ValueError, match="no UDDN file"):
        UDDN.load(str(tmp_path / "missing.keras"))


def test_deepcopy_after_use():
    """Regression: a UDDN that had been called could not be deep-copied (traced tf.function)."""
    import copy

    uddn = UDDN(guide="pixels", channels=1, widths=TINY, seed=0)
    x = np.random.default_rng(4).random((2, 8, 8, 1), dtype=np.float32)
    before = uddn(x)[0]
    clone = copy.deepcopy(uddn)
    np.testing.assert_array_equal(clone(x)[0], before)
    clone.denoiser_.get_layer("neg_noise").bias.assign_add(np.ones(1, np.float32))  # independent weights
    np.testing.assert_array_equal(uddn(x)[0], before)


def test_channels_first_transposes_in_and_out():
    x = np.random.default_rng(5).random((3, 9, 7, 2), dtype=np.float32)
    nhwc = UDDN(guide="pixels", channels=2, widths=TINY, seed=0)
    nchw = UDDN(guide="pixels", channels=2, widths=TINY, seed=0, channels_first=True)
    out = nchw(x.transpose(0, 3, 1, 2))[0]
    assert out.shape == (3, 2, 9, 7)
    np.testing.assert_allclose(out.transpose(0, 2, 3, 1), nhwc(x)[0], atol=1e-6)
    with pytest.raises(ValueError, match=r"\(n, 2, H, W\) \(NCHW\)"):
        nchw(x)
    assert nchw.guided_loss(x.transpose(0, 3, 1, 2), x.transpose(0, 3, 1, 2)) == pytest.approx(
        nhwc.guided_loss(x, x), rel=1e-5
    )  # fit on NCHW: the tiny_fitted fixture


def test_misspelt_arguments_and_bad_sources_are_errors(classifier, mnist):
    uddn = UDDN(classifier, widths=TINY)
    x = mnist[0][:4]
    with pytest.raises(ValueError, match=r"unexpected argument\(s\) \['nb_epoch'\]"):
        uddn.fit(x, x_adversarial=x, nb_epoch=3)
    with pytest.raises(ValueError, match="needs a fitted GNR"):
        uddn.fit(x, x_adversarial=x, gnr=object(), gnr_ratio=1.0)
    with pytest.raises(ValueError, match=r"sources\[1\] must be an ART estimator"):
        uddn.make_pairs(x, sources=[classifier, classifier.model])


def test_save_after_set_params_writes_the_network_it_describes(tmp_path):
    """Regression: after set_params(widths=...) save() wrote the new widths with the old network."""
    uddn = UDDN(guide="pixels", channels=1, widths=TINY, seed=0)
    uddn.set_params(widths=(2, 3, 3, 3, 3))
    path = str(tmp_path / "uddn.keras")
    uddn.save(path)
    loaded = UDDN.load(path)
    assert loaded.widths == (2, 3, 3, 3, 3)
    fresh = UDDN(guide="pixels", channels=1, widths=(2, 3, 3, 3, 3))
    assert loaded.denoiser_.count_params() == fresh.denoiser_.count_params()
    x = np.random.default_rng(6).random((2, 8, 8, 1), dtype=np.float32)
    np.testing.assert_array_equal(loaded(x)[0], uddn(x)[0])


def test_deepcopy_shares_the_guide_classifier(classifier, mnist):
    """A UDDN guided by a classifier whose training step was traced (ART's fit) deep-copies; the guide is shared."""
    import copy

    classifier.fit(mnist[0][:8], mnist[1][:8], nb_epochs=1, batch_size=8, verbose=False)
    uddn = UDDN(classifier, widths=TINY, seed=0)
    clone = copy.deepcopy(uddn)
    assert clone.classifier is classifier and clone.denoiser_ is not uddn.denoiser_
    np.testing.assert_array_equal(clone(mnist[0][:2])[0], uddn(mnist[0][:2])[0])
