"""Tests of the quantisation tables: Annex K scaling, the DeepN-JPEG design, presets and file sizes."""

import numpy as np
import pytest

from art_ext.defences.preprocessor.jpeg_tables import (
    ANNEX_K_LUMINANCE,
    PRESETS,
    bits_per_pixel,
    check_quantization_table,
    dct_coefficient_std,
    design_quantization_table,
    scale_quantization_table,
    standard_tables,
    two_level_table,
)


@pytest.fixture(scope="module")
def images():
    """Smooth random RGB images (a random field, box-blurred), 3 x 20 x 20 x 3 in [0, 1]."""
    noise = np.random.default_rng(0).random((3, 24, 24, 3))
    blurred = sum(noise[:, i : i + 20, j : j + 20] for i in range(5) for j in range(5)) / 25
    return blurred.astype(np.float32)


def test_ijg_table_scaling():
    assert np.array_equal(scale_quantization_table(ANNEX_K_LUMINANCE, 50), ANNEX_K_LUMINANCE)
    assert np.all(scale_quantization_table(ANNEX_K_LUMINANCE, 100) == 1)
    assert scale_quantization_table(ANNEX_K_LUMINANCE, 10)[0, 0] == 80  # 16 * 500 / 100
    assert standard_tables(25).shape == (2, 8, 8)
    for quality in (0, 101, 50.5, True):
        with pytest.raises(ValueError, match="quality"):
            scale_quantization_table(ANNEX_K_LUMINANCE, quality)


def test_check_table_and_presets():
    assert check_quantization_table(np.full((8, 8), 3)).shape == (2, 8, 8)
    for bad in (np.ones((4, 4)), np.zeros((8, 8)), np.full((8, 8), np.inf), "table"):
        with pytest.raises(ValueError, match="quantization_table"):
            check_quantization_table(bad)
    table = two_level_table(*PRESETS["feature_distillation"])
    assert table[0, 0] == 25 and table[3, 3] == 25 and table[4, 0] == 30 and table[7, 7] == 30


def test_design_function_and_bits_per_pixel(images):
    std = np.outer(np.geomspace(100, 1, 8), np.geomspace(1, 0.1, 8))
    table = design_quantization_table(std, q_min=2, q_max=50)
    assert table.shape == (8, 8) and table[0, 0] == 2 and table[7, 7] == 50
    assert np.all(np.diff(table[0]) >= 0)  # monotone in the spread
    with pytest.raises(ValueError, match="q_min"):
        design_quantization_table(std, q_min=60, q_max=50)
    with pytest.raises(ValueError, match="shape"):
        design_quantization_table(std[:4])
    fine, coarse = bits_per_pixel(images, standard_tables(90)), bits_per_pixel(images, standard_tables(20))
    assert fine > coarse > 0


def test_dct_statistics_layouts(images):
    std = dct_coefficient_std(images, batch_size=2)
    assert std.shape == (2, 8, 8) and std[0, 0, 0] > std[0, 7, 7]
    np.testing.assert_allclose(
        dct_coefficient_std(np.transpose(images, (0, 3, 1, 2)), channels_first=True), std, rtol=1e-5
    )
    with pytest.raises(ValueError, match="clip_values"):
        dct_coefficient_std(images * 2)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((2, 8, 8)), "x must be NHWC images"),
        (np.zeros((1, 8, 8, 2)), "x must be NHWC images"),
        (np.full((1, 8, 8, 1), 255, np.uint8), "x values must lie within clip_values"),
        (np.full((1, 8, 8, 1), np.nan), "x contains NaN"),
        (np.array([[["a"]]]), "x must be a real numeric array"),
    ],
)
def test_bits_per_pixel_refuses_bad_images(x, match):
    from art_ext.defences.preprocessor import bits_per_pixel, standard_tables

    with pytest.raises(ValueError, match=match):
        bits_per_pixel(x, standard_tables(50))


def test_bits_per_pixel_names_its_tables_argument():
    from art_ext.defences.preprocessor import bits_per_pixel

    with pytest.raises(ValueError, match="tables must have shape"):
        bits_per_pixel(np.zeros((1, 8, 8, 1)), np.ones((3, 3)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"std": np.array([["a"] * 8] * 8)}, "std must hold real numbers"),
        ({"q_min": True}, "q_min must be"),
        ({"quantiles": ("a", "b")}, "quantiles must be"),
        ({"thresholds": ("a", 1.0)}, "thresholds must be"),
    ],
)
def test_design_quantization_table_refuses_bad_arguments(kwargs, match):
    from art_ext.defences.preprocessor import design_quantization_table

    with pytest.raises(ValueError, match=match):
        design_quantization_table(**{"std": np.ones((8, 8)), **kwargs})
