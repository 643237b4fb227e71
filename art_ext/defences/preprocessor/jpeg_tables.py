"""JPEG quantisation tables: the standard's (Annex K, scaled by quality as libjpeg does), tables designed for a
network from the DCT statistics of its data (DeepN-JPEG), the two-level Feature Distillation table, and the size
of real JPEG files a table gives.

| DeepN-JPEG: https://arxiv.org/abs/1803.05788
| Feature Distillation: https://arxiv.org/abs/1803.05787
"""

from __future__ import annotations

import io

import numpy as np
import tensorflow as tf

from art_ext.defences.preprocessor.jpeg_codec import block_dct_coefficients, check_image_layout, luma_chroma_planes
from art_ext.params import UNIT_INTERVAL, Integral, Interval, Pair, Real, validate_params
from art_ext.utils import batches, check_clip_values, check_inputs

__all__ = [
    "QUALITY",
    "ANNEX_K_LUMINANCE",
    "ANNEX_K_CHROMINANCE",
    "PRESETS",
    "scale_quantization_table",
    "check_quantization_table",
    "standard_tables",
    "two_level_table",
    "dct_coefficient_std",
    "check_design_parameters",
    "design_quantization_table",
    "bits_per_pixel",
]

#: JPEG quality: an integer in [1, 100] (IJG scale).
QUALITY = Interval(Integral, 1, 100)

#: JPEG standard (ITU T.81) Annex K.1: luminance quantisation table, quality 50.
ANNEX_K_LUMINANCE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float32,
)

#: JPEG standard (ITU T.81) Annex K.2: chrominance quantisation table, quality 50.
ANNEX_K_CHROMINANCE = np.array(
    [
        [17, 18, 24, 47, 99, 99, 99, 99],
        [18, 21, 26, 66, 99, 99, 99, 99],
        [24, 26, 56, 99, 99, 99, 99, 99],
        [47, 66, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
    ],
    dtype=np.float32,
)


def scale_quantization_table(table: np.ndarray, quality: int) -> np.ndarray:
    """Scale a quality-50 table to ``quality`` with the IJG formula (libjpeg ``jpeg_quality_scaling``).

    ``scale = 5000 / q`` below 50, ``200 - 2 q`` from 50; entries ``floor((t * scale + 50) / 100)`` clipped to
    ``[1, 255]`` (baseline JPEG). Quality 100 gives all ones.

    :param table: An 8x8 table of positive steps.
    :param quality: Integer in ``[1, 100]``.
    :return: The scaled 8x8 float32 table.
    :raises ValueError: If ``quality`` is not an integer in ``[1, 100]``.
    """
    _check_quality(quality)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((np.asarray(table, dtype=np.float64) * scale + 50) / 100), 1, 255).astype(np.float32)


def _check_quality(quality) -> None:
    validate_params({"quality": [QUALITY]}, {"quality": quality})


def check_quantization_table(table, name: str = "quantization_table") -> np.ndarray:
    """Validate a quantisation table: one 8x8 table (used for every channel) or a luminance/chrominance pair.

    :return: The table as float32 of shape ``(2, 8, 8)`` (luminance, chrominance).
    :raises ValueError: Wrong shape, non-finite or non-positive steps.
    """
    try:
        table = np.array(table, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an 8x8 array of positive numbers (or a pair of them)") from err
    if table.shape == (8, 8):
        table = np.stack([table, table])
    if table.shape != (2, 8, 8):
        raise ValueError(f"{name} must have shape (8, 8) or (2, 8, 8) (luminance, chrominance), got {table.shape}")
    if not np.all(np.isfinite(table)) or np.any(table <= 0):
        raise ValueError(f"{name} must hold finite positive quantisation steps")
    return table


def standard_tables(quality: int) -> np.ndarray:
    """The IJG/Annex K luminance and chrominance tables at ``quality``, shape ``(2, 8, 8)``."""
    return np.stack(
        [scale_quantization_table(ANNEX_K_LUMINANCE, quality), scale_quantization_table(ANNEX_K_CHROMINANCE, quality)]
    )


#: Presets: name -> ``(low-frequency step, high-frequency step, size of the low band)``. The Feature Distillation
#: authors' released code uses one table for every channel with step 25 on the low 4x4 frequencies and 30 elsewhere.
PRESETS = {"feature_distillation": (25.0, 30.0, 4)}


def two_level_table(low_step: float = 25.0, high_step: float = 30.0, band: int = 4) -> np.ndarray:
    """The Feature Distillation two-level table: ``low_step`` on the ``band x band`` lowest frequencies, ``high_step``
    elsewhere (8x8, 0-255 scale)."""
    table = np.full((8, 8), float(high_step), dtype=np.float32)
    table[:band, :band] = low_step
    return table


def dct_coefficient_std(
    x: np.ndarray, clip_values: tuple[float, float] = (0.0, 1.0), channels_first: bool = False, batch_size: int = 1024
) -> np.ndarray:
    """Per-frequency standard deviation of the 8x8 DCT coefficients of images (0-255 scale), as DeepN-JPEG uses.

    :param x: Images ``NHWC`` (``NCHW`` if ``channels_first``) within ``clip_values``.
    :param clip_values: Input range.
    :param channels_first: Channel axis 1 instead of 3.
    :param batch_size: Images per TensorFlow call.
    :return: ``(2, 8, 8)``: luminance and chrominance (Cb and Cr pooled); for grey images both are the
             statistics of the grey channel.
    :raises ValueError: Not 4-D images, not 1 or 3 channels on the channel axis, NaN/inf, or values outside
            ``clip_values``.
    """
    clip_values = check_clip_values(clip_values)
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be images of rank 4, got shape {x.shape}")
    check_image_layout(x.shape, channels_first)
    x = check_inputs(x, "x", clip_values=clip_values)
    if channels_first:
        x = np.transpose(x, (0, 2, 3, 1))
    sums = np.zeros((2, 2, 64))  # (luma/chroma, sum/sum of squares, frequency)
    counts = np.zeros(2)
    for part in batches(len(x), batch_size):
        x255 = (tf.convert_to_tensor(x[part]) - clip_values[0]) * (255.0 / (clip_values[1] - clip_values[0]))
        luma, chroma = luma_chroma_planes(x255)
        for k, planes in enumerate((luma, chroma if chroma is not None else luma)):
            c = tf.cast(block_dct_coefficients(planes), tf.float64)
            sums[k] += np.stack([tf.reduce_sum(c, 0).numpy(), tf.reduce_sum(c * c, 0).numpy()])
            counts[k] += int(c.shape[0])
    mean = sums[:, 0] / counts[:, None]
    return np.sqrt(np.maximum(sums[:, 1] / counts[:, None] - mean**2, 0.0)).reshape(2, 8, 8).astype(np.float32)


#: A quantisation step on the 0-255 scale of baseline JPEG.
_STEP = Interval(Real, 1, 255)
#: A standard deviation threshold of the table design.
_STD = Interval(Real, 0, None, closed="neither")


def check_design_parameters(
    q_min: float, q_max: float, thresholds: tuple[float, float] | None, quantiles: tuple[float, float]
) -> None:
    """Check the parameters of :func:`~art_ext.defences.preprocessor.design_quantization_table` against each other.

    :raises ValueError: Unless ``1 <= q_min <= q_max <= 255``, ``thresholds`` is None or ``0 < low < high``, and
            ``0 <= low < high <= 1`` for ``quantiles``.
    """
    validate_params(
        {"q_min": [_STEP], "q_max": [_STEP], "quantiles": [Pair(UNIT_INTERVAL)], "thresholds": [None, Pair(_STD)]},
        {"q_min": q_min, "q_max": q_max, "quantiles": quantiles, "thresholds": thresholds},
        "design_quantization_table",
    )
    if not q_min <= q_max:
        raise ValueError(f"need 1 <= q_min <= q_max <= 255, got q_min={q_min}, q_max={q_max}")
    if not quantiles[0] < quantiles[1]:
        raise ValueError(f"quantiles must satisfy 0 <= low < high <= 1, got {quantiles}")
    if thresholds is not None and not thresholds[0] < thresholds[1]:
        raise ValueError(f"thresholds must satisfy 0 < low < high, got {thresholds}")


def design_quantization_table(
    std: np.ndarray,
    q_min: float = 5.0,
    q_max: float = 60.0,
    thresholds: tuple[float, float] | None = None,
    quantiles: tuple[float, float] = (0.25, 0.75),
) -> np.ndarray:
    """A quantisation table from per-frequency DCT statistics, as DeepN-JPEG: frequencies whose coefficients vary
    much across the data carry the features the network uses and get a fine step; those that hardly vary carry
    little but noise -- including adversarial perturbations -- and get a coarse step.

    DeepN-JPEG maps the standard deviation ``s`` of each frequency to a step by a piecewise-linear function with two
    thresholds; its constants are tuned to ImageNet. This implementation uses the same shape on ``log s``:
    ``q_min`` above the upper threshold, ``q_max`` below the lower one, linear in ``log s`` in between; the
    thresholds default to quantiles of ``s`` so the design transfers across data sets. Steps are rounded to
    integers in ``[1, 255]`` (baseline JPEG).

    :param std: Per-frequency standard deviations, ``(8, 8)`` or ``(2, 8, 8)`` (luminance, chrominance), e.g. from
           :func:`dct_coefficient_std`.
    :param q_min: Step of the most varying frequencies (0-255 scale).
    :param q_max: Step of the least varying frequencies.
    :param thresholds: ``(low, high)`` standard deviations; overrides ``quantiles``.
    :param quantiles: ``(low, high)`` quantiles of ``std`` (per table) used as thresholds when ``thresholds`` is None.
    :return: Table(s) of the shape of ``std``.
    :raises ValueError: Bad shapes, non-positive or non-finite statistics, or ``not 1 <= q_min <= q_max <= 255``.
    """
    std = np.asarray(std)
    if std.dtype.kind not in "biuf":
        raise ValueError(f"std must hold real numbers, got dtype {std.dtype}")
    std = std.astype(np.float64)
    if std.shape not in ((8, 8), (2, 8, 8)):
        raise ValueError(f"std must have shape (8, 8) or (2, 8, 8), got {std.shape}")
    if not np.all(np.isfinite(std)) or np.any(std < 0):
        raise ValueError("std must hold finite non-negative standard deviations")
    check_design_parameters(q_min, q_max, thresholds, quantiles)
    tables = []
    for s in std.reshape(-1, 8, 8):
        log_s = np.log(np.maximum(s, 1e-6))
        if thresholds is None:
            lo, hi = np.quantile(log_s, quantiles)
        else:
            lo, hi = np.log(thresholds)
        t = np.clip((log_s - lo) / max(hi - lo, 1e-12), 0.0, 1.0)  # 0: least varying, 1: most varying
        tables.append(np.clip(np.round(q_max + (q_min - q_max) * t), 1, 255))
    return np.asarray(tables, dtype=np.float32).reshape(std.shape)


def bits_per_pixel(
    x: np.ndarray, tables: np.ndarray, chroma_subsampling: bool = False, clip_values: tuple[float, float] = (0.0, 1.0)
) -> float:
    """Mean size of real JPEG files (Pillow/libjpeg, baseline Huffman) with these tables, in bits per pixel.

    A measurement helper for comparing tables at equal compression (NumPy/Pillow; not for hot paths).

    :param x: Images ``NHWC`` within ``clip_values`` (1 or 3 channels).
    :param tables: ``(2, 8, 8)`` or ``(8, 8)`` integer steps in ``[1, 255]``.
    :param chroma_subsampling: 4:2:0 instead of 4:4:4.
    :param clip_values: Input range.
    :return: Bits per pixel (per image position, all channels together).
    """
    from PIL import Image

    tables = check_quantization_table(tables, "tables")
    lo, hi = check_clip_values(clip_values)
    x = check_inputs(x, "x", clip_values=(lo, hi))
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"x must be NHWC images with 1 or 3 channels, got shape {x.shape}")
    qtables = [[int(v) for v in np.clip(np.round(t), 1, 255).ravel()] for t in tables]
    x8 = np.round((np.asarray(x, dtype=np.float32) - lo) * (255.0 / (hi - lo))).clip(0, 255).astype(np.uint8)
    total = 0
    for image in x8:
        buffer = io.BytesIO()
        if image.shape[-1] == 3:
            subsampling = 2 if chroma_subsampling else 0
            Image.fromarray(image).save(buffer, format="jpeg", qtables=qtables, subsampling=subsampling)
        else:
            Image.fromarray(image[..., 0]).save(buffer, format="jpeg", qtables=qtables[:1])
        total += len(buffer.getvalue())
    return 8.0 * total / (len(x8) * x8.shape[1] * x8.shape[2])
