"""Tests of the TensorFlow JPEG codec function and its options object."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from art_ext.defences.preprocessor import JpegCompressionTensorFlowV2
from art_ext.defences.preprocessor.jpeg_codec import JpegOptions, compiled_codec, jpeg_codec
from art_ext.defences.preprocessor.jpeg_tables import standard_tables


@pytest.fixture(scope="module")
def images():
    return (np.round(np.random.default_rng(1).random((2, 12, 10, 3)) * 255) / 255).astype(np.float32)


def test_options_are_frozen_validated_and_hashable():
    options = JpegOptions(chroma_subsampling=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.smooth = True
    assert JpegOptions(gradient_estimator=None).value_only and not options.value_only
    with pytest.raises(ValueError, match="gradient_estimator"):
        JpegOptions(gradient_estimator="none")
    with pytest.raises(ValueError, match="smooth"):
        JpegOptions(gradient_estimator=None, smooth=True)
    assert compiled_codec(JpegOptions(chroma_subsampling=True)) is compiled_codec(options)  # one per options


@pytest.mark.parametrize("subsampling", [False, True])
def test_codec_function_is_the_preprocessor(images, subsampling):
    tables = tf.constant(standard_tables(40).reshape(2, 64))
    jpeg = JpegCompressionTensorFlowV2(quality=40, chroma_subsampling=subsampling)
    exact = jpeg_codec(tf.constant(images), tables, options=JpegOptions(chroma_subsampling=subsampling))
    np.testing.assert_array_equal(exact.numpy(), jpeg.forward(tf.constant(images))[0].numpy())
    value = compiled_codec(JpegOptions(chroma_subsampling=subsampling, gradient_estimator=None))
    np.testing.assert_allclose(value(tf.constant(images), tables, (0.0, 1.0)).numpy(), exact.numpy(), atol=1e-6)


def test_smooth_value_differs_and_is_differentiable(images):
    tables = tf.constant(standard_tables(20).reshape(2, 64))
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        smooth = jpeg_codec(x, tables, options=JpegOptions(gradient_estimator="cubic", smooth=True))
        loss = tf.reduce_sum(smooth)
    exact = jpeg_codec(x, tables, options=JpegOptions(gradient_estimator="cubic"))
    assert np.abs(smooth.numpy() - exact.numpy()).max() > 0
    grad = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).mean() > 1e-3
