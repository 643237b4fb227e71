"""Tests of the differentiable TensorFlow JPEG and the NN-favoured table (fidelity against Pillow/libjpeg)."""

import io

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from art_ext.data import load_dataset
from art_ext.defences.preprocessor import (
    JpegCompressionTensorFlowV2,
    NNFavoredJpeg,
    dct_coefficient_std,
    two_level_table,
)
from art_ext.defences.preprocessor.jpeg import _COMPILED
from art_ext.defences.preprocessor.jpeg_codec import BATCH_BUCKETS, bucket_plan, compiled_codec, plan_cost


@pytest.fixture(scope="module")
def digits():
    x, _ = load_dataset("mnist", "test", source="embedded")
    return x[:16]


@pytest.fixture(scope="module")
def photos():
    """Natural-looking 8-bit RGB images (smooth colour fields, edges and texture), 36x44 (not multiples of 8)."""
    rng = np.random.default_rng(0)
    h, w = 36, 44
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    images = []
    for _ in range(6):
        base = (
            np.stack(
                [np.sin(rng.uniform(1, 6) * xx + rng.uniform(0, 3) * yy + rng.uniform(0, 6)) for _ in range(3)], -1
            )
            * 0.3
            + 0.5
        )
        blob = ((xx - rng.uniform(0.2, 0.8)) ** 2 + (yy - rng.uniform(0.2, 0.8)) ** 2) < rng.uniform(0.02, 0.1)
        noise = tf.nn.avg_pool2d(rng.normal(0, 0.15, (1, h, w, 3)), 3, 1, "SAME")[0].numpy()
        images.append(np.clip(base + 0.3 * blob[..., None] * rng.uniform(-1, 1, 3) + noise, 0, 1))
    return (np.round(np.stack(images) * 255) / 255).astype(np.float32)


def pillow_jpeg(x, quality, subsampling=0):
    out = []
    for image in np.round(x * 255).astype(np.uint8):
        buffer = io.BytesIO()
        pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        pil.save(buffer, format="jpeg", quality=quality, subsampling=subsampling)
        out.append(np.asarray(Image.open(buffer)).reshape(image.shape))
    return np.stack(out).astype(np.float32) / 255


@pytest.mark.parametrize("quality", [10, 50, 90])
def test_matches_pillow_rgb_444(photos, quality):
    ours, _ = JpegCompressionTensorFlowV2(quality=quality)(photos)
    diff = np.abs(ours - pillow_jpeg(photos, quality)) * 255
    assert diff.mean() <= 0.1  # the goal is 1.0; libjpeg's integer colour conversion is emulated exactly
    assert (diff < 0.5).mean() >= 0.95  # all but a few pixels bit-exact (the inverse DCT is float)


def test_matches_pillow_rgb_420_and_grey(photos, digits):
    ours, _ = JpegCompressionTensorFlowV2(quality=50, chroma_subsampling=True)(photos)
    assert np.abs(ours - pillow_jpeg(photos, 50, subsampling=2)).mean() * 255 <= 0.5
    ours, _ = JpegCompressionTensorFlowV2(quality=30)(digits)
    assert np.abs(ours - pillow_jpeg(digits, 30)).mean() * 255 <= 0.1


def test_quality_100_is_near_identity_and_low_quality_is_not(photos):
    near, _ = JpegCompressionTensorFlowV2(quality=100)(photos)
    far, _ = JpegCompressionTensorFlowV2(quality=5)(photos)
    assert np.abs(near - photos).mean() * 255 < 1.0
    assert np.abs(far - photos).mean() * 255 > 3.0


def test_shapes_dtypes_layouts_and_range(photos):
    x = photos[:2]
    out, y = JpegCompressionTensorFlowV2(quality=40)(x, np.array([1, 2]))
    assert out.shape == x.shape and out.dtype == np.float32 and list(y) == [1, 2]
    assert out.min() >= 0 and out.max() <= 1
    cf, _ = JpegCompressionTensorFlowV2(quality=40, channels_first=True)(np.transpose(x, (0, 3, 1, 2)))
    np.testing.assert_allclose(np.transpose(cf, (0, 2, 3, 1)), out, atol=1e-6)
    scaled, _ = JpegCompressionTensorFlowV2(clip_values=(0, 255), quality=40)(x * 255)
    np.testing.assert_allclose(scaled / 255, out, atol=1e-5)
    video, _ = JpegCompressionTensorFlowV2(quality=40)(np.stack([x, x], 1))
    np.testing.assert_allclose(video[:, 1], out, atol=1e-6)
    assert not np.shares_memory(out, x) and np.array_equal(x, photos[:2])  # input untouched


def test_batches_padded_for_xla_give_the_same_images(photos):
    x = np.concatenate([photos, photos[::-1]])  # 12 images: chunks of 5, 5 and 2 (padded to 5) vs 8 and 4 (to 8)
    out, _ = JpegCompressionTensorFlowV2(quality=30, batch_size=5)(x)
    one_call, _ = JpegCompressionTensorFlowV2(quality=30, batch_size=16)(x)
    np.testing.assert_array_equal(out, one_call)
    np.testing.assert_array_equal(out[:1], JpegCompressionTensorFlowV2(quality=30)(x[:1])[0])


def test_forward_exact_and_gradients_finite_nonzero(photos):
    x = tf.constant(photos[:3])
    for estimator in ("straight_through", "cubic"):
        jpeg = JpegCompressionTensorFlowV2(quality=30, gradient_estimator=estimator)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            exact = jpeg.forward(x)[0]
            smooth = jpeg.estimate_forward(x)
            weights = tf.random.stateless_normal(x.shape, (1, 2))
            losses = [tf.reduce_sum(exact * weights), tf.reduce_sum(smooth * weights)]
        np.testing.assert_allclose(exact.numpy(), jpeg(photos[:3])[0], atol=1e-6)
        for loss in losses:
            grad = tape.gradient(loss, x).numpy()
            assert np.all(np.isfinite(grad)) and np.abs(grad).mean() > 1e-3


def test_art_classifier_gradient_goes_through_defence(digits):
    import keras

    from art_ext.estimators import wrap

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    classifier = wrap(model, preprocessing_defences=JpegCompressionTensorFlowV2(quality=20))
    grad = classifier.loss_gradient(digits[:4], np.eye(10)[:4])
    assert grad.shape == digits[:4].shape and np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"quality": 0}, "quality"),
        ({"quality": 101}, "quality"),
        ({"quality": 50.5}, "quality"),
        ({"quantization_table": np.ones((4, 4))}, "quantization_table"),
        ({"quantization_table": -np.ones((8, 8))}, "positive"),
        ({"clip_values": (1, 0)}, "clip_values"),
        ({"gradient_estimator": "sigmoid"}, "gradient_estimator"),
        ({"chroma_subsampling": "yes"}, "chroma"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"quality": True}, "quality"),
        ({"clip_values": (0, np.inf)}, "clip_values"),
        ({"clip_values": (np.nan, 1)}, "clip_values"),
        ({"verbose": 1}, "verbose"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        JpegCompressionTensorFlowV2(**kwargs)


def test_bad_inputs(photos):
    jpeg = JpegCompressionTensorFlowV2()
    with pytest.raises(ValueError, match="clip_values"):
        jpeg(photos * 2)
    with pytest.raises(ValueError, match="clip_values"):
        jpeg.forward(tf.constant(photos - 0.5))
    with pytest.raises(ValueError, match="rank"):
        jpeg(photos[0])
    with pytest.raises(ValueError, match="NaN"):
        jpeg(np.full((1, 8, 8, 3), np.nan, np.float32))


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 3),
    h=st.integers(1, 20),
    w=st.integers(1, 20),
    c=st.sampled_from([1, 3]),
    quality=st.integers(1, 100),
    subsample=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_property_shapes_range_and_idempotence_of_range(n, h, w, c, quality, subsample, seed):
    x = np.random.default_rng(seed).random((n, h, w, c)).astype(np.float32)
    out, _ = JpegCompressionTensorFlowV2(quality=quality, chroma_subsampling=subsample)(x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1
    assert np.allclose(out * 255, np.round(out * 255), atol=1e-3)  # a decoder's 8-bit output


@settings(max_examples=10, deadline=None)
@given(value=st.integers(0, 255), h=st.integers(1, 17), w=st.integers(1, 17), quality=st.integers(1, 100))
def test_property_flat_grey_images_match_libjpeg(value, h, w, quality):
    x = np.full((1, h, w, 1), value / 255, np.float32)
    out, _ = JpegCompressionTensorFlowV2(quality=quality)(x)
    assert np.abs(out - pillow_jpeg(x, quality)).max() * 255 <= 1.0 + 1e-4  # only the DC step rounds


def test_nn_favoured_table_fit_presets_and_setter(photos, digits):
    std = dct_coefficient_std(photos)
    assert std.shape == (2, 8, 8) and std[0, 0, 0] > std[0, 7, 7]
    nn = NNFavoredJpeg(q_min=4, q_max=80)
    assert not nn.is_fitted
    with pytest.raises(ValueError, match="fit"):
        nn(photos)
    nn.fit(photos)
    assert nn.is_fitted and nn.frequency_std_.shape == (2, 8, 8)
    table = nn.quantization_table
    assert table.shape == (2, 8, 8) and table.min() >= 4 and table.max() <= 80
    assert table[0, 0, 0] < table[0, 7, 7]  # fine steps where the data vary, coarse where they do not
    out, _ = nn(photos)
    assert out.shape == photos.shape
    fd = NNFavoredJpeg(preset="feature_distillation")
    assert np.array_equal(fd.quantization_table[0], two_level_table(25, 30, 4))
    fd.quantization_table = np.full((8, 8), 7.0)
    assert np.all(fd.tables == 7)
    with pytest.raises(ValueError, match="preset"):
        NNFavoredJpeg(preset="unknown")
    grey = NNFavoredJpeg()
    grey.fit(digits)
    assert grey(digits)[0].shape == digits.shape


# ---------------------------------------------------------------- contracts (issue 18)


def test_set_params_is_atomic_rejects_unknown_keys_and_takes_effect(photos):
    jpeg = JpegCompressionTensorFlowV2(quality=30)
    with pytest.raises(ValueError, match="quality"):
        jpeg.set_params(quality=0)
    assert jpeg.quality == 30  # the rejected value is not kept
    with pytest.raises(ValueError, match="unknown parameter"):
        jpeg.set_params(qualty=10)
    with pytest.raises(ValueError, match="batch_size"):
        jpeg.set_params(quality=10, batch_size=0)
    assert jpeg.quality == 30 and jpeg.batch_size == 1024
    jpeg.set_params(quality=10)
    np.testing.assert_array_equal(jpeg(photos[:2])[0], JpegCompressionTensorFlowV2(quality=10)(photos[:2])[0])


def test_non_finite_clip_values_are_rejected():
    for clip_values in ((0, np.inf), (-np.inf, 1)):
        with pytest.raises(ValueError, match="clip_values"):
            JpegCompressionTensorFlowV2(clip_values=clip_values)
        with pytest.raises(ValueError, match="clip_values"):
            NNFavoredJpeg(clip_values=clip_values)
    jpeg = JpegCompressionTensorFlowV2()
    with pytest.raises(ValueError, match="clip_values"):
        jpeg.set_params(clip_values=(0, np.inf))
    assert jpeg.clip_values == (0.0, 1.0)


def test_channel_axis_must_match_the_layout(digits, photos):
    nchw = np.transpose(digits[:2], (0, 3, 1, 2))  # (2, 1, 28, 28)
    jpeg = JpegCompressionTensorFlowV2()
    with pytest.raises(ValueError, match="channels_first=True"):
        jpeg(nchw)  # not 28 grey channels
    with pytest.raises(ValueError, match="channels_first=True"):
        jpeg.forward(tf.constant(nchw))
    first = JpegCompressionTensorFlowV2(channels_first=True)
    with pytest.raises(ValueError, match="channels_first=False"):
        first(digits[:2])
    with pytest.raises(ValueError, match="channels_first=False"):
        first.estimate_forward(tf.constant(photos[:2]))
    with pytest.raises(ValueError, match="channels"):
        jpeg(photos[:2, ..., :2])  # two channels: neither grey nor RGB
    with pytest.raises(ValueError, match="channels_first=True"):
        NNFavoredJpeg().fit(nchw)
    np.testing.assert_array_equal(np.transpose(first(nchw)[0], (0, 2, 3, 1)), jpeg(digits[:2])[0])


def test_non_finite_input_raises_on_the_tensorflow_path(photos):
    jpeg = JpegCompressionTensorFlowV2()
    for bad in (np.nan, np.inf):
        x = photos[:1].copy()
        x[0, 3, 4, 1] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            jpeg.forward(tf.constant(x))
        with pytest.raises(ValueError, match="NaN or inf"):
            jpeg.estimate_forward(tf.constant(x))
        in_graph = tf.function(lambda t: jpeg.forward(t)[0])  # e.g. inside an ensemble's compiled function
        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
            in_graph(tf.constant(x))
    with pytest.raises(tf.errors.InvalidArgumentError, match="clip_values"):
        tf.function(lambda t: jpeg.forward(t)[0])(tf.constant(photos[:1] + 0.5))
    assert np.all(np.isfinite(tf.function(lambda t: jpeg.forward(t)[0])(tf.constant(photos[:1])).numpy()))


def test_nn_favoured_set_params_takes_effect(photos):
    jpeg = NNFavoredJpeg()
    jpeg.set_params(preset="feature_distillation")
    assert jpeg.is_fitted and np.array_equal(jpeg.tables[0], two_level_table(25, 30, 4))
    jpeg.set_params(preset=None)
    assert not jpeg.is_fitted
    with pytest.raises(ValueError, match="preset"):
        jpeg.set_params(preset="unknown")
    jpeg.fit(photos)
    before = jpeg.tables
    jpeg.set_params(q_min=2, q_max=200)  # redesigned from the stored statistics
    assert jpeg.tables.min() == 2 and jpeg.tables.max() == 200 and not np.array_equal(before, jpeg.tables)
    with pytest.raises(ValueError, match="q_min"):
        jpeg.set_params(q_min=250)
    assert jpeg.q_min == 2 and jpeg.tables.min() == 2
    jpeg.set_params(preset="feature_distillation", quantization_table=np.full((8, 8), 9.0))  # explicit table wins
    assert np.all(jpeg.tables == 9)
    refitted = NNFavoredJpeg().fit(photos)
    table = refitted.tables
    refitted.set_params(**refitted.get_params())  # a round trip changes nothing: still a table fitted to data
    assert np.array_equal(refitted.tables, table)
    refitted.set_params(q_max=100)
    assert refitted.tables.max() == 100
    for kwargs in ({"thresholds": (5.0, 1.0)}, {"quantiles": (0.9, 0.1)}, {"q_max": np.nan}):
        with pytest.raises(ValueError):
            NNFavoredJpeg(**kwargs)


def test_nn_favoured_save_load_round_trip(photos, tmp_path):
    jpeg = NNFavoredJpeg(q_min=4, q_max=80, chroma_subsampling=True, quantiles=(0.1, 0.9)).fit(photos)
    path = tmp_path / "table.json"
    jpeg.save(str(path))
    loaded = NNFavoredJpeg.load(str(path))
    assert np.array_equal(loaded.tables, jpeg.tables) and np.array_equal(loaded.frequency_std_, jpeg.frequency_std_)
    assert loaded.chroma_subsampling and loaded.quantiles == (0.1, 0.9) and loaded.is_fitted
    np.testing.assert_array_equal(loaded(photos)[0], jpeg(photos)[0])
    loaded.set_params(q_max=120)  # still a fitted table: redesigned from the loaded statistics
    jpeg.set_params(q_max=120)
    assert np.array_equal(loaded.tables, jpeg.tables)
    preset = NNFavoredJpeg(preset="feature_distillation")
    preset.save(str(tmp_path / "preset.json"))
    assert np.array_equal(NNFavoredJpeg.load(str(tmp_path / "preset.json")).tables, preset.tables)
    path.write_text(path.read_text().replace('"table":', '"tabel":'))
    with pytest.raises(ValueError, match="not an art-ext NNFavoredJpeg file"):
        NNFavoredJpeg.load(str(path))
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ValueError, match="not an art-ext NNFavoredJpeg file"):
        NNFavoredJpeg.load(str(tmp_path / "other.json"))


def test_bucket_plan_covers_every_batch_with_few_padded_chunks():
    for n in range(1, 1200, 7):
        plan = bucket_plan(n, BATCH_BUCKETS, pixels=32 * 32)
        assert set(plan) <= set(BATCH_BUCKETS) and list(plan) == sorted(plan, reverse=True)
        assert 0 <= sum(plan) - n < min(plan)  # only the last (smallest) chunk is padded
        assert plan_cost(plan, 1024) <= min(plan_cost((b,) * -(-n // b), 1024) for b in BATCH_BUCKETS)
        assert plan.count(512) >= n // 512  # full chunks of the largest bucket
    assert bucket_plan(0, BATCH_BUCKETS, 1024) == () and bucket_plan(5, [5], 1024) == (5,)
    assert bucket_plan(2048, BATCH_BUCKETS, 1024) == (2048,) and bucket_plan(4096, BATCH_BUCKETS, 1024) == (2048,) * 2
    assert bucket_plan(128, BATCH_BUCKETS, 1024) == (128,) and bucket_plan(32, BATCH_BUCKETS, 1024) == (32,)
    assert bucket_plan(3, BATCH_BUCKETS, 1024) == (8,) and bucket_plan(3, [64, 512], 1024) == (64,)


def test_new_batch_sizes_reuse_the_compiled_buckets_and_the_rest_compile_in_the_background():
    x = np.random.default_rng(3).random((40, 9, 7, 3)).astype(np.float32)  # an image size no other test uses
    jpeg = JpegCompressionTensorFlowV2(quality=35, batch_size=16)  # buckets 8 and 16
    codec = compiled_codec(jpeg._options(value_only=True))
    key = jpeg._xla_kind(x.shape[1:])[0]
    first = jpeg(x[:3])[0]  # compiles batch size 8 only
    _COMPILED.wait()  # an earlier test's background compilation of this codec must not count as this test's
    traces = codec.experimental_get_tracing_count()
    assert _COMPILED.compiled(key) == {8}
    for n in (1, 5, 7, 8, 20):  # new batch sizes (20: chunks of 8, the second call starts compiling 16)
        np.testing.assert_array_equal(jpeg(x[:n])[0][:3], first[: min(n, 3)])
    _COMPILED.wait()
    assert _COMPILED.compiled(key) == {8, 16}
    assert codec.experimental_get_tracing_count() == traces + 1  # only the background compilation of 16
    whole = jpeg(x)[0]  # 16 + 16 + 8
    np.testing.assert_array_equal(whole[:20], jpeg(x[:20])[0])
    assert codec.experimental_get_tracing_count() == traces + 1


def test_precompile_compiles_every_bucket_and_validates_the_shape():
    jpeg = JpegCompressionTensorFlowV2(quality=35, batch_size=8, channels_first=True)
    codec = compiled_codec(jpeg._options(value_only=True))
    jpeg.precompile((1, 5, 6))
    traces = codec.experimental_get_tracing_count()
    x = np.random.default_rng(4).random((11, 1, 5, 6)).astype(np.float32)
    assert jpeg(x)[0].shape == x.shape and codec.experimental_get_tracing_count() == traces
    for bad in [(5, 6, 1), (1, 5), (1, 0, 6), (1.0, 5, 6), "156", None]:
        with pytest.raises(ValueError, match="image_shape"):
            jpeg.precompile(bad)


def test_forward_traces_once_per_image_size_for_any_batch_size(photos):
    jpeg = JpegCompressionTensorFlowV2(quality=45, gradient_estimator="cubic")
    codec = compiled_codec(jpeg._options())
    jpeg.forward(tf.constant(photos[:2]))
    traces = codec.experimental_get_tracing_count()
    for n in (1, 3, 6):
        with tf.GradientTape() as tape:
            x = tf.constant(photos[:n])
            tape.watch(x)
            out = jpeg.forward(x)[0]
            loss = tf.reduce_sum(out)
        assert out.shape == x.shape and tape.gradient(loss, x).shape == x.shape
    assert codec.experimental_get_tracing_count() == traces
