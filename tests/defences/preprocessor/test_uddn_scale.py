"""UDDN across input scales, output types and ART preprocessing (issue 19), its ensemble preset, attacks per image,
data sources (tf.data, ART DataGenerator) and tf.distribute (issue 21). Tiny widths, the session's tiny classifier."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from art.data_generators import NumpyDataGenerator
from art.estimators.classification import TensorFlowV2Classifier

from art_ext.defences.preprocessor import UDDN
from art_ext.estimators import wrap
from art_ext.models import get_model
from art_ext.params import seeded

TINY = (4, 4, 4, 4, 4)


def _as_255_softmax_standardised(classifier) -> TensorFlowV2Classifier:
    """The same network as ``classifier``, for inputs in [0, 255] with ART ``preprocessing=(mean, std)`` and a
    softmax head: a layer undoes ART's standardisation, so it computes the same function of the image."""
    mean, std = 0.1, 0.3
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Softmax()(classifier.model(keras.layers.Rescaling(std, offset=mean)(inputs)))
    return TensorFlowV2Classifier(
        keras.Model(inputs, outputs),
        nb_classes=10,
        input_shape=(28, 28, 1),
        loss_object=keras.losses.SparseCategoricalCrossentropy(),
        clip_values=(0.0, 255.0),
        preprocessing=(255 * mean, 255 * std),
    )


def test_default_eps_is_a_fraction_of_the_clip_range():
    assert UDDN(guide="pixels", channels=1, widths=TINY).eps_levels == (0.0, 0.3)
    wide = UDDN(guide="pixels", channels=1, widths=TINY, clip_values=(0, 255))
    assert wide.eps_levels == pytest.approx((0.0, 76.5)) and wide.eps_range is None
    # explicit values are in input units, as ART's eps
    assert UDDN(guide="pixels", channels=1, widths=TINY, clip_values=(0, 255), eps_range=(0, 8)).eps_levels == (0, 8)


def test_the_network_is_scale_equivariant():
    """The same seed gives the same denoiser at (0, 1) and (0, 255): outputs 255 times apart."""
    x = np.random.default_rng(0).random((3, 12, 12, 1), dtype=np.float32)
    unit = UDDN(guide="pixels", channels=1, widths=TINY, seed=0)
    wide = UDDN(guide="pixels", channels=1, widths=TINY, seed=0, clip_values=(0, 255))
    np.testing.assert_allclose(wide(255 * x)[0], 255 * unit(x)[0], rtol=1e-4, atol=1e-3)


def test_pairs_and_guides_see_the_classifier_as_art_does(tiny_classifier, mnist_small):
    """Regression (issue 19): at clip_values=(0, 255) the default pairs were noise-free (eps_range (0, 0.3) absolute)
    and the guide called the Keras model on raw inputs, skipping ART's preprocessing; a softmax head gave no
    usable logits. The same network behind (0, 255) inputs, ART standardisation and a softmax head must give the
    (0, 1) logits classifier's pairs scaled by 255, and the guide must predict as ART's predict."""
    x = mnist_small[0][0][:16]
    wide = _as_255_softmax_standardised(tiny_classifier)
    options = {"widths": TINY, "attacks": ("fgsm",), "include_clean": False, "seed": 0}
    unit_pairs, _ = UDDN(tiny_classifier, **options).make_pairs(x)
    wide_uddn = UDDN(wide, **options)  # clip_values and the default eps follow the classifier's (0, 255)
    assert wide_uddn.clip_values == (0.0, 255.0) and wide_uddn.eps_levels == pytest.approx((0.0, 76.5))
    wide_pairs, clean = wide_uddn.make_pairs(255 * x)
    linf = np.abs(wide_pairs - clean).reshape(len(x), -1).max(axis=1)
    assert linf.max() <= 76.5 + 1e-3 and linf.mean() > 10  # noise at the scale of the inputs
    same = np.isclose(wide_pairs, 255 * unit_pairs, atol=0.05)
    assert same.mean() > 0.99  # (signs of near-zero gradients may differ in float32)
    guide_argmax = np.argmax(wide_uddn._guide_models[0](tf.constant(255 * x)).numpy(), axis=1)
    np.testing.assert_array_equal(guide_argmax, np.argmax(wide.predict(255 * x), axis=1))


def test_ensemble_preset(tiny_classifier, mnist_small):
    other = wrap(get_model("simple_mlp", (28, 28, 1), 10))
    uddn = UDDN.ensemble(tiny_classifier, [other], widths=TINY, seed=0)
    assert uddn.extra_guides == [other] and uddn.attack_sources == [tiny_classifier, other]
    assert uddn.source_weights == [0.5, 0.5] and uddn.eps_levels == pytest.approx((0.2, 0.3))
    assert UDDN.ensemble(tiny_classifier, [other], widths=TINY, clip_values=(0, 255)).eps_levels == pytest.approx(
        (51.0, 76.5)
    )
    wide = _as_255_softmax_standardised(tiny_classifier)
    assert UDDN.ensemble(wide, [wide], widths=TINY).eps_levels == pytest.approx((51.0, 76.5))
    # the preset's pairs are those of the sources it names
    x = mnist_small[0][0][:16]
    plain = UDDN(tiny_classifier, widths=TINY, seed=0, eps_range=(0.2, 0.3))
    np.testing.assert_array_equal(
        uddn.make_pairs(x)[0], plain.make_pairs(x, sources=[tiny_classifier, other], source_weights=[0.5, 0.5])[0]
    )
    with pytest.raises(ValueError, match="local_classifiers"):
        UDDN.ensemble(tiny_classifier, [], widths=TINY)
    with pytest.raises(ValueError, match="set by the preset"):
        UDDN.ensemble(tiny_classifier, [other], extra_guides=[other])
    with pytest.raises(ValueError, match="target_weight"):
        UDDN.ensemble(tiny_classifier, [other], target_weight=0.0)
    with pytest.raises(ValueError, match="source_weights"):
        UDDN(tiny_classifier, widths=TINY, attack_sources=[tiny_classifier], source_weights=[0.5, 0.5])


@pytest.mark.parametrize("per_image", [1, 2, None])
def test_attacks_per_image(tiny_classifier, mnist_small, per_image):
    x = mnist_small[0][0][:12]
    attacks = ("fgsm", "ifgsm2", "ifgsm4")
    uddn = UDDN(tiny_classifier, widths=TINY, attacks=attacks, attacks_per_image=per_image, seed=0)
    noisy, clean = uddn.make_pairs(x)
    k = len(attacks) if per_image is None else per_image
    assert noisy.shape == ((k + 1) * len(x), 28, 28, 1)
    np.testing.assert_array_equal(noisy[k * len(x) :], x)  # the clean pairs
    # every image has exactly k attacked pairs
    counts = [sum(np.array_equal(c, image) for c in clean[: k * len(x)]) for image in x]
    assert counts == [k] * len(x)


def test_fit_on_a_dataset_and_a_data_generator(tiny_classifier, mnist_small):
    (x, y), _ = mnist_small
    x, y = x[:48], y[:48]
    options = {"widths": TINY, "seed": 0, "batch_size": 16}
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(24)
    from_dataset = UDDN(tiny_classifier, **options).fit(dataset, nb_epochs=2)
    assert from_dataset.is_fitted and len(from_dataset.history_) == 2
    generator = NumpyDataGenerator(x, y, batch_size=24, shuffle=False)
    from_generator = UDDN(tiny_classifier, **options).fit_generator(generator, nb_epochs=2)
    # the same batches in the same order: the same training
    for a, b in zip(from_dataset.denoiser_.get_weights(), from_generator.denoiser_.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="x_adversarial"):
        UDDN(tiny_classifier, **options).fit(dataset, x_adversarial=x)
    with pytest.raises(ValueError, match="must lie within|clip_values|range"):
        UDDN(tiny_classifier, **options).fit(tf.data.Dataset.from_tensor_slices((x * 2 + 1, y)).batch(24))
    with pytest.raises(ValueError, match="DataGenerator"):
        UDDN(tiny_classifier, **options).fit_generator(x)


def test_fit_under_mirrored_strategy_matches_one_device(two_cpu_strategy, mnist_small):
    """Tolerance: the epoch losses within 8% (relative) of single-device training. Batch normalisation of the
    denoiser takes its statistics per replica (half the batch), so the two are close, not equal (measured: 1.1%,
    2.1% and 4.5% over the three epochs)."""
    x = mnist_small[0][0][:64]
    with two_cpu_strategy.scope(), seeded(0):
        guide = wrap(get_model("simple_mlp", (28, 28, 1), 10))
    losses = []
    for strategy in (None, two_cpu_strategy):
        uddn = UDDN(guide, widths=TINY, seed=0, batch_size=32, attacks=("fgsm",), strategy=strategy)
        losses.append([h["loss"] for h in uddn.fit(x, nb_epochs=3).history_])
    np.testing.assert_allclose(losses[1], losses[0], rtol=0.08)
    assert losses[1][-1] < losses[1][0]
    outside = wrap(get_model("simple_mlp", (28, 28, 1), 10))
    with pytest.raises(ValueError, match="outside strategy.scope"):
        UDDN(outside, widths=TINY, strategy=two_cpu_strategy).fit(x, nb_epochs=1)
    with pytest.raises(ValueError, match="strategy"):
        UDDN(guide, widths=TINY, strategy="mirrored")
