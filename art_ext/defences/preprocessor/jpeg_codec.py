"""JPEG's lossy path as differentiable TensorFlow ops: colour conversion, DCT, quantisation, in one function.

:func:`jpeg_codec` runs baseline JPEG without its (lossless) entropy coding -- RGB to YCbCr (ITU-R BT.601 as in
libjpeg), optional 4:2:0 chroma subsampling, 8x8 orthonormal DCT-II, quantisation, rounding, dequantisation,
inverse DCT, back to RGB -- on a batch of images, like Kornia's ``diff_jpeg``. How it runs (chroma subsampling,
libjpeg emulation, the gradient of the rounding steps) is one :class:`JpegOptions` object;
:func:`compiled_codec` returns the codec compiled for one set of options. The ART preprocessors
(:class:`~art_ext.defences.preprocessor.JpegCompressionTensorFlowV2`,
:class:`~art_ext.defences.preprocessor.NNFavoredJpeg`) call it; the quantisation tables come from
:mod:`art_ext.defences.preprocessor.jpeg_tables`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
import threading
from collections.abc import Callable, Hashable, Iterable

import numpy as np
import tensorflow as tf

__all__ = [
    "GRADIENT_ESTIMATORS",
    "JpegOptions",
    "jpeg_codec",
    "compiled_codec",
    "check_image_layout",
    "luma_chroma_planes",
    "block_dct_coefficients",
    "BATCH_BUCKETS",
    "bucket_plan",
    "plan_cost",
    "CompiledBuckets",
    "trace_batch_polymorphic",
]

logger = logging.getLogger(__name__)

#: Gradients of the rounding steps: the identity (BPDA) or the cubic approximation of Shin & Song (2017).
GRADIENT_ESTIMATORS = ("straight_through", "cubic")

# ITU-R BT.601 full range, as libjpeg (jccolor.c / jdcolor.c).
_RGB_TO_YCBCR = np.array(
    [[0.299, 0.587, 0.114], [-0.168735892, -0.331264108, 0.5], [0.5, -0.418687589, -0.081312411]], dtype=np.float32
)
_YCBCR_TO_RGB = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136286, -0.714136286], [1.0, 1.772, 0.0]], dtype=np.float32)
# libjpeg's fixed-point colour conversion (SCALEBITS 16): FIX(c) = round(c * 2^16). Encode: rows Y, Cb, Cr of
# integer weights for R, G, B, plus the offsets (ONE_HALF; CBCR_OFFSET + ONE_HALF - 1). Decode: rows R, G, B of
# weights for the centred Cb, Cr, added to Y after a rounding shift.
_FIX_RGB_TO_YCBCR = np.array([[19595, 38470, 7471], [-11059, -21709, 32768], [32768, -27439, -5329]], np.float32)
_FIX_YCBCR_OFFSET = np.array([2**15, 128 * 2**16 + 2**15 - 1, 128 * 2**16 + 2**15 - 1], np.float32)
_FIX_CBCR_TO_RGB = np.array([[0, 91881], [-22554, -46802], [116130, 0]], np.float32)
#: Offset of the chroma planes (and the level shift of every plane before the DCT) on the 0-255 scale.
_CENTRE = 128.0


@dataclasses.dataclass(frozen=True)
class JpegOptions:
    """How :func:`jpeg_codec` runs.

    :param chroma_subsampling: ``True`` for 4:2:0 (2x2 averaged chroma, libjpeg's triangle upsampling on decode),
           ``False`` for 4:4:4.
    :param emulate_libjpeg: Compute the forward value with libjpeg's integer arithmetic (fixed-point colour
           conversions, 8-bit samples, integer DCT, integer chroma resampling); only the inverse DCT stays float.
    :param gradient_estimator: Gradient of every rounding step, one of :data:`GRADIENT_ESTIMATORS`; ``None`` for
           the value only: no gradient bookkeeping, and the formulation that XLA compiles best (the NumPy path).
    :param smooth: Return the estimator's own smooth value instead of the exact one (needs an estimator).
    :raises ValueError: An unknown ``gradient_estimator``, or ``smooth`` without one.
    """

    chroma_subsampling: bool = False
    emulate_libjpeg: bool = True
    gradient_estimator: str | None = "straight_through"
    smooth: bool = False

    def __post_init__(self) -> None:
        if self.gradient_estimator is not None and self.gradient_estimator not in GRADIENT_ESTIMATORS:
            raise ValueError(
                f"gradient_estimator must be None or one of {GRADIENT_ESTIMATORS}, got {self.gradient_estimator!r}"
            )
        if self.smooth and self.gradient_estimator is None:
            raise ValueError("smooth=True needs a gradient_estimator")

    @property
    def value_only(self) -> bool:
        """No gradient is needed: the exact value, computed the fastest way."""
        return self.gradient_estimator is None


class _ChannelMix(enum.Enum):
    """How :func:`_mix_channels` writes a 3x3 colour conversion for the compiler."""

    MATMUL = "matmul"  # a plain graph
    ELEMENTWISE = "elementwise"  # XLA: a sum of broadcast products, fused into each consumer
    REDUCE = "reduce"  # XLA: a broadcast product and a sum, written out once for consumers that read it often


def check_image_layout(shape: tuple[int | None, ...], channels_first: bool, name: str = "x") -> None:
    """Check that ``shape`` is a batch of images (rank 4) or videos (rank 5) with 1 (grey) or 3 (RGB) channels on
    the channel axis of the declared layout -- so that an ``NCHW`` batch is not coded as 28 grey channels.

    :param shape: The batch's shape (``None`` for an unknown size).
    :param channels_first: Channel axis 1 (``NCHW``, ``NCFHW``) instead of the last (``NHWC``, ``NFHWC``).
    :param name: Argument name used in error messages.
    :raises ValueError: Another rank, or a channel axis of another size, naming the layout that would fit.
    """
    shape = tuple(shape)
    if len(shape) not in (4, 5):
        raise ValueError(f"{name} must be images (rank 4) or videos (rank 5), got shape {shape}")
    axis = 1 if channels_first else len(shape) - 1
    if shape[axis] is None or shape[axis] in (1, 3):
        return
    layouts = {(False, 4): "NHWC", (True, 4): "NCHW", (False, 5): "NFHWC", (True, 5): "NCFHW"}
    other = shape[len(shape) - 1 if channels_first else 1]
    hint = (
        f"; for {layouts[not channels_first, len(shape)]} input set channels_first={not channels_first}"
        if other in (1, 3)
        else ""
    )
    raise ValueError(
        f"{name} must have 1 (grey) or 3 (RGB) channels on axis {axis} "
        f"({layouts[channels_first, len(shape)]}, channels_first={channels_first}), got shape {shape}"
        f"{hint}"
    )


# ---------------------------------------------------------------- DCT


def _dct_matrix() -> tf.Tensor:
    """``(8, 8)`` matrix ``d[i, u] = C_u(i)``: row ``i`` is the orthonormal 8-point DCT-II of ``e_i``."""
    return tf.signal.dct(tf.eye(8), type=2, norm="ortho")


def _dct_basis() -> tf.Tensor:
    """``(64, 64)`` matrix ``K`` with ``coefficients = block_flat @ K``: the orthonormal 2-D DCT-II of an 8x8 block."""
    d = _dct_matrix()
    return tf.reshape(tf.einsum("iu,jv->ijuv", d, d), (64, 64))


def _separable_idct(coefficients: tf.Tensor) -> tf.Tensor:
    """Inverse orthonormal DCT of blocks ``(..., 64)`` (row-major ``[u, v]``) as two 8-point passes, each a broadcast
    product and a sum: 16 multiply-adds per pixel instead of 64, and XLA fuses them with their neighbours."""
    d = _dct_matrix()
    q = tf.reshape(coefficients, (-1, 8, 8))  # [u, v]
    rows = tf.reduce_sum(d[None, :, :, None] * q[:, None], -2)  # [i, v]
    return tf.reshape(tf.reduce_sum(rows[:, :, None, :] * d[None, None], -1), tf.shape(coefficients))  # [i, j]


# libjpeg's accurate integer forward DCT (jfdctint.c, "islow"): CONST_BITS 13, PASS1_BITS 2; outputs scaled by 8.
# Each 1-D pass is an integer-linear map followed by a rounding right shift ("DESCALE") per output. Both run in
# float32 on integer values, exactly: pass 1's sums stay below 2^24 (checked in _islow_matrices); pass 2's reach
# 2^28, so its input is split as 64 * hi + lo and the shift is done in two exact parts.
def _islow_matrix(first_pass: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(A, shifts)``: one jfdctint pass is ``DESCALE(A @ d, shifts)`` for a vector ``d`` of 8 integers."""
    fix = {
        v: int(v * 8192 + 0.5)
        for v in (
            0.298631336,
            0.390180644,
            0.541196100,
            0.765366865,
            0.899976223,
            1.175875602,
            1.501321110,
            1.847759065,
            1.961570560,
            2.053119869,
            2.562915447,
            3.072711026,
        )
    }
    d = np.eye(8, dtype=np.int64)
    tmp0, tmp7, tmp1, tmp6 = d[0] + d[7], d[0] - d[7], d[1] + d[6], d[1] - d[6]
    tmp2, tmp5, tmp3, tmp4 = d[2] + d[5], d[2] - d[5], d[3] + d[4], d[3] - d[4]
    tmp10, tmp13, tmp11, tmp12 = tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2
    out = [None] * 8
    even_scale = 4 if first_pass else 1  # pass 1: << PASS1_BITS; pass 2: DESCALE(., PASS1_BITS)
    out[0], out[4] = (tmp10 + tmp11) * even_scale, (tmp10 - tmp11) * even_scale
    z1 = (tmp12 + tmp13) * fix[0.541196100]
    out[2], out[6] = z1 + tmp13 * fix[0.765366865], z1 - tmp12 * fix[1.847759065]
    z1, z2, z3, z4 = tmp4 + tmp7, tmp5 + tmp6, tmp4 + tmp6, tmp5 + tmp7
    z5 = (z3 + z4) * fix[1.175875602]
    tmp4, tmp5, tmp6, tmp7 = (
        tmp4 * fix[0.298631336],
        tmp5 * fix[2.053119869],
        tmp6 * fix[3.072711026],
        tmp7 * fix[1.501321110],
    )
    z1, z2 = z1 * -fix[0.899976223], z2 * -fix[2.562915447]
    z3, z4 = z3 * -fix[1.961570560] + z5, z4 * -fix[0.390180644] + z5
    out[7], out[5], out[3], out[1] = tmp4 + z1 + z3, tmp5 + z2 + z4, tmp6 + z2 + z3, tmp7 + z1 + z4
    odd = 13 - 2 if first_pass else 13 + 2
    even = 0 if first_pass else 2
    shifts = np.array([even, odd, odd, odd, even, odd, odd, odd])
    return np.stack(out).astype(np.float64), shifts


def _islow_matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both passes' ``(A, shifts)``, with the bounds that make the float32 arithmetic of :func:`_islow_fdct` exact."""
    a1, s1 = _islow_matrix(True)
    a2, s2 = _islow_matrix(False)
    sums1 = 128 * np.abs(a1).sum(1)  # inputs are integers in [-128, 127]
    out1 = np.floor((sums1 + 2.0 ** (s1 - 1)) / 2.0**s1)  # largest |pass-1 output|
    assert sums1.max() < 2**24 and out1.max() <= 64 * 64 and 64 * np.abs(a2).sum(1).max() < 2**23
    assert set(s2) == {2, 15}
    return a1.astype(np.float32), s1, a2.astype(np.float32), s2


def _descale_bias(shifts: np.ndarray) -> np.ndarray:
    """The rounding bias ``2^(s-1)`` that libjpeg's ``DESCALE`` adds before shifting by ``s`` (0 for ``s = 0``)."""
    return np.where(shifts > 0, 2.0 ** (shifts - 1.0), 0.0).astype(np.float32)


def _descale(x: tf.Tensor, shifts: np.ndarray) -> tf.Tensor:
    """libjpeg's ``DESCALE``: ``(x + 2^(s-1)) >> s`` per output (exact for integers below 2^24)."""
    return tf.floor((x + _descale_bias(shifts)) * (2.0**-shifts).astype(np.float32))  # exact: a power of two


def _islow_fdct(blocks: tf.Tensor, fused: bool = True) -> tf.Tensor:
    """libjpeg's integer DCT of integer-valued blocks ``(..., 64)`` (row-major 8x8, level-shifted to [-128, 127]),
    as float32: 8x the orthonormal DCT up to libjpeg's fixed-point rounding. Exact (see :func:`_islow_matrices`).

    ``fused``: each 8-point pass is a broadcast product and a sum, which XLA fuses into one loop without
    transposes; otherwise matrix products with transposes (faster in a plain graph).
    """
    a1, s1, a2, s2 = _islow_matrices()
    b = tf.reshape(tf.cast(blocks, tf.float32), (-1, 8, 8))  # [i, j]
    if fused:
        rows = _descale(tf.reduce_sum(b[:, :, None] * a1, -1), s1)  # [i, v]
    else:
        rows = tf.transpose(_descale(tf.matmul(b, a1.T), s1), (0, 2, 1))  # [v, i]
    hi = tf.floor(rows * (1 / 64))  # rows = 64 hi + lo, |hi| <= 64, 0 <= lo < 64
    lo = rows - 64 * hi
    half = _descale_bias(s2)
    odd_out = s2 == 15
    if fused:  # [u, v]: exact, < 2^23
        p = tf.reduce_sum(a2[:, :, None] * hi[:, None], -2)
        q = tf.reduce_sum(a2[:, :, None] * lo[:, None], -2)
        half, odd_out = half[:, None], odd_out[:, None]
    else:  # [v, u]
        p, q = tf.matmul(hi, a2.T), tf.matmul(lo, a2.T)
    # DESCALE(64 p + q, s): s = 2: 16 p + DESCALE(q, 2); s = 15: p = 512 p1 + p0 and p1 + DESCALE(64 p0 + q, 15)
    p1 = tf.floor(p * (1 / 512))
    out = tf.where(
        odd_out, p1 + tf.floor((64 * (p - 512 * p1) + q + half) * 2.0**-15), 16 * p + tf.floor((q + half) * 0.25)
    )
    if not fused:
        out = tf.transpose(out, (0, 2, 1))
    return tf.reshape(out, tf.shape(blocks))


def _round_half_up(x: tf.Tensor) -> tf.Tensor:
    return tf.floor(x + 0.5)


def _round_away(x: tf.Tensor) -> tf.Tensor:
    """Round half away from zero, as libjpeg's quantiser."""
    return tf.sign(x) * tf.floor(tf.abs(x) + 0.5)


def _differentiable(exact_fn: Callable[[tf.Tensor], tf.Tensor], x: tf.Tensor, options: JpegOptions) -> tf.Tensor:
    """Rounding with a usable gradient.

    Exact value (``options.smooth`` False) with the gradient of ``options.gradient_estimator`` (BPDA), or the
    estimator's own approximate value (``smooth``). ``straight_through`` is the identity; ``cubic`` is
    ``r + (x - r)^3`` with ``r = round(x)`` held constant (Shin & Song, 2017). Value-only options: the exact value.
    """
    exact = exact_fn(x)
    if options.value_only:  # no gradient bookkeeping
        return exact
    if options.gradient_estimator == "cubic":
        approx = tf.stop_gradient(exact) + (x - tf.stop_gradient(exact)) ** 3
    else:
        approx = x
    return approx if options.smooth else approx + tf.stop_gradient(exact - approx)


# ---------------------------------------------------------------- blocks and planes


def _pad_to(x: tf.Tensor, multiple: int) -> tf.Tensor:
    """Edge-replicate ``x`` (n, H, W, c) on the bottom/right to multiples of ``multiple`` (no copy when not needed)."""
    for axis in (1, 2):
        size = x.shape[axis]
        if size is not None and size % multiple == 0:
            continue
        size = tf.shape(x)[axis]
        x = tf.gather(x, tf.minimum(tf.range(size + (-size) % multiple), size - 1), axis=axis)
    return x


def _quantize_blocks(x: tf.Tensor, tables: tf.Tensor, options: JpegOptions) -> tf.Tensor:
    """DCT, quantise, dequantise, inverse DCT of level-shifted planes ``x`` (n, H, W, c), H and W multiples of 8.

    ``tables``: ``(c, 64)`` quantisation steps per plane. With ``options.emulate_libjpeg`` the coefficients' value
    comes from libjpeg's integer DCT (inputs must be integers), so rounding ties break exactly as in libjpeg.
    """
    shape = tf.shape(x)
    n, h, w, c = shape[0], shape[1], shape[2], shape[3]
    blocks = tf.reshape(x, (n, h // 8, 8, w // 8, 8, c))
    blocks = tf.reshape(tf.transpose(blocks, (0, 1, 3, 5, 2, 4)), (n, h // 8, w // 8, c, 64))
    basis = _dct_basis()
    if options.emulate_libjpeg and options.value_only:
        coefficients = _islow_fdct(tf.round(blocks)) / 8.0
    elif options.emulate_libjpeg and not options.smooth:  # libjpeg's exact value, the float DCT's gradient
        coefficients = tf.matmul(blocks, basis)
        exact = _islow_fdct(tf.round(blocks), fused=False) / 8.0
        coefficients = coefficients + tf.stop_gradient(exact - coefficients)
    else:
        coefficients = tf.matmul(blocks, basis)
    quantized = _differentiable(_round_away, coefficients / tables, options) * tables
    if options.value_only:
        blocks = _separable_idct(quantized)
    else:
        blocks = tf.matmul(quantized, basis, transpose_b=True)
    blocks = tf.transpose(tf.reshape(blocks, (n, h // 8, w // 8, c, 8, 8)), (0, 1, 4, 2, 5, 3))
    return tf.reshape(blocks, (n, h, w, c))


def _code_planes(x: tf.Tensor, tables: tf.Tensor, options: JpegOptions) -> tf.Tensor:
    """Pad planes (0-255 scale) to 8, level-shift, quantise in the DCT domain, and crop back."""
    h, w = tf.shape(x)[1], tf.shape(x)[2]
    coded = _quantize_blocks(_pad_to(x, 8) - _CENTRE, tables, options) + _CENTRE
    return coded[:, :h, :w]


def luma_chroma_planes(x255: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Luminance ``(n, H, W, 1)`` and chrominance ``(n, H, W, 2)`` planes (0-255, float conversion) of RGB images;
    for other channel counts the channels themselves as luminance and ``None``."""
    if x255.shape[-1] == 3:
        ycc = tf.tensordot(x255, tf.constant(_RGB_TO_YCBCR.T), 1)
        return ycc[..., :1], ycc[..., 1:]
    return x255, None


def block_dct_coefficients(planes: tf.Tensor) -> tf.Tensor:
    """Orthonormal DCT coefficients of every 8x8 block of every plane ``(n, H, W, c)``, as ``(blocks, 64)``."""
    padded = _pad_to(planes, 8)
    shape = tf.shape(padded)
    n, h, w, c = shape[0], shape[1], shape[2], shape[3]
    blocks = tf.reshape(tf.transpose(tf.reshape(padded, (n, h // 8, 8, w // 8, 8, c)), (0, 1, 3, 5, 2, 4)), (-1, 64))
    return tf.matmul(blocks, _dct_basis())


# ---------------------------------------------------------------- colour


def _mix_channels(x: tf.Tensor, matrix: np.ndarray, mix: _ChannelMix) -> tf.Tensor:
    """``out[..., k] = sum_c matrix[k, c] x[..., c]``, written as ``mix`` says (see :func:`_channel_mixes`)."""
    if mix is _ChannelMix.ELEMENTWISE:
        return sum(x[..., c : c + 1] * matrix[:, c] for c in range(matrix.shape[1]))
    if mix is _ChannelMix.REDUCE:
        return tf.reduce_sum(x[..., None, :] * matrix, -1)
    return tf.tensordot(x, tf.constant(matrix.T), 1)


def _channel_mixes(options: JpegOptions) -> tuple[_ChannelMix, _ChannelMix]:
    """How the encoding and decoding colour conversions are written.

    The value-only path is compiled by XLA, and written so that it writes out few intermediate planes: the colour
    conversions are elementwise, fused into their consumers, except before the 4:4:4 row DCT, which reads each
    value 8 times; there they are written out once. The differentiable path is a plain graph: matrix products.
    """
    if not options.value_only:
        return _ChannelMix.MATMUL, _ChannelMix.MATMUL
    return (_ChannelMix.ELEMENTWISE if options.chroma_subsampling else _ChannelMix.REDUCE), _ChannelMix.ELEMENTWISE


def _libjpeg_rgb_to_ycc(x255: tf.Tensor, mix: _ChannelMix) -> tf.Tensor:
    """libjpeg's ``rgb_ycc_convert`` of RGB (rounded to 8 bits) in fixed point: integers, exact in float32."""
    return tf.floor((_mix_channels(tf.round(x255), _FIX_RGB_TO_YCBCR, mix) + _FIX_YCBCR_OFFSET) * 2.0**-16)


def _libjpeg_ycc_to_rgb(ycc: tf.Tensor, mix: _ChannelMix) -> tf.Tensor:
    """libjpeg's ``ycc_rgb_convert`` in fixed point, of decoded planes range-limited to 8 bits as libjpeg's inverse
    DCT leaves them: ``R = Y + (FIX(1.402) Cr + 2^15) >> 16`` and so on, clipped to 0-255."""
    ycc = _range_limit(ycc)
    shifts = tf.floor((_mix_channels(ycc[..., 1:] - _CENTRE, _FIX_CBCR_TO_RGB, mix) + 2.0**15) * 2.0**-16)
    return tf.clip_by_value(ycc[..., :1] + shifts, 0.0, 255.0)


# ---------------------------------------------------------------- chroma subsampling


def _range_limit(x: tf.Tensor) -> tf.Tensor:
    """Round to the 8-bit samples that libjpeg's inverse DCT leaves: integers in 0-255."""
    return tf.clip_by_value(_round_half_up(x), 0.0, 255.0)


def _floor_with_column_bias(x: tf.Tensor, even: float, odd: float) -> tf.Tensor:
    """``floor(x + bias)`` with ``bias`` alternating by column (axis 2), as libjpeg's resamplers round."""
    return tf.floor(x + tf.where(tf.range(tf.shape(x)[2]) % 2 == 0, even, odd)[:, None])


def _downsample(x: tf.Tensor) -> tf.Tensor:
    """2x2 box average (libjpeg ``h2v2_downsample``) of planes with even H, W."""
    return tf.nn.avg_pool2d(x, 2, 2, "VALID")


def _upsample_axis(x: tf.Tensor, axis: int) -> tf.Tensor:
    """libjpeg 'fancy' (triangle) 2x upsampling along ``axis``: 3/4 nearest + 1/4 next-nearest, edges replicated."""
    first = tf.gather(x, [0], axis=axis)
    last = tf.gather(x, [tf.shape(x)[axis] - 1], axis=axis)
    size = tf.shape(x)[axis]
    prev = tf.concat([first, tf.gather(x, tf.range(size - 1), axis=axis)], axis=axis)
    nxt = tf.concat([tf.gather(x, tf.range(1, size), axis=axis), last], axis=axis)
    even, odd = 0.75 * x + 0.25 * prev, 0.75 * x + 0.25 * nxt
    stacked = tf.stack([even, odd], axis=axis + 1)
    shape = tf.shape(x)
    new_shape = tf.tensor_scatter_nd_update(shape, [[axis]], [2 * shape[axis]])
    return tf.reshape(stacked, new_shape)


def _code_chroma_420(chroma: tf.Tensor, table: tf.Tensor, options: JpegOptions) -> tf.Tensor:
    """Chroma planes ``(n, H, W, 2)`` (0-255) through 4:2:0 JPEG, as libjpeg: padded by edge replication to whole
    16x16 MCUs, 2x2 averaged, coded, cropped to ``ceil(H/2) x ceil(W/2)``, upsampled by the triangle filter,
    cropped to ``H x W``. ``options.emulate_libjpeg``: with libjpeg's integer rounding at each step."""
    h, w = tf.shape(chroma)[1], tf.shape(chroma)[2]
    small = _downsample(_pad_to(chroma, 16))
    if options.emulate_libjpeg:  # h2v2_downsample: (sum + bias) >> 2, bias 1, 2, 1, 2, ... by column
        small = _differentiable(lambda c: _floor_with_column_bias(c, 1 / 4, 2 / 4), small, options)
    small = _code_planes(small, tf.stack([table, table]), options)
    if options.emulate_libjpeg:
        small = _differentiable(_range_limit, small, options)
    large = _upsample_axis(_upsample_axis(small[:, : (h + 1) // 2, : (w + 1) // 2], 1), 2)
    if options.emulate_libjpeg:  # h2v2_fancy_upsample: (sum of 16ths + 8) >> 4 in even columns, + 7 in odd ones
        large = _differentiable(lambda c: _floor_with_column_bias(c, 8 / 16, 7 / 16), large, options)
    return large[:, :h, :w]


# ---------------------------------------------------------------- the codec


def _jpeg_255(x: tf.Tensor, tables: tf.Tensor, options: JpegOptions) -> tf.Tensor:
    """JPEG's lossy path on images ``x`` (n, H, W, c) in 0-255. 3 channels: YCbCr; otherwise each channel as grey.

    ``tables``: ``(2, 64)`` luminance and chrominance steps.
    """
    channels = x.shape[-1]
    encode, decode = _channel_mixes(options)
    if channels == 3:
        ycc = _mix_channels(x, _RGB_TO_YCBCR, encode) + tf.constant([0.0, _CENTRE, _CENTRE])
        if options.emulate_libjpeg:  # libjpeg's 8-bit integer YCbCr
            ycc = _differentiable(lambda _: _libjpeg_rgb_to_ycc(x, encode), ycc, options)
        if options.chroma_subsampling:
            luma = _code_planes(ycc[..., :1], tables[:1], options)
            chroma = _code_chroma_420(ycc[..., 1:], tables[1], options)
            ycc = tf.concat([luma, chroma], axis=-1)
        else:
            ycc = _code_planes(ycc, tf.stack([tables[0], tables[1], tables[1]]), options)
        out = _mix_channels(ycc - tf.constant([0.0, _CENTRE, _CENTRE]), _YCBCR_TO_RGB, decode)
        to_8_bits = lambda _: _libjpeg_ycc_to_rgb(ycc, decode)  # noqa: E731
    else:
        out = _code_planes(x, tf.repeat(tables[:1], channels, axis=0), options)
        to_8_bits = _round_half_up
    out = tf.clip_by_value(out, 0.0, 255.0)
    if options.emulate_libjpeg:
        out = _differentiable(to_8_bits, out, options)
    return out


def jpeg_codec(
    x: tf.Tensor, tables: tf.Tensor, clip_values: tuple[float, float] = (0.0, 1.0), options: JpegOptions = JpegOptions()
) -> tf.Tensor:
    """JPEG compression and decompression of images, as TensorFlow ops (differentiable unless value-only).

    Images with 3 channels are coded as YCbCr; any other channel count channel by channel as grey (luminance).
    Any height and width: planes are padded by edge replication to whole blocks (16x16 with 4:2:0) and cropped
    back. The output is clipped to ``clip_values``; with ``options.emulate_libjpeg`` its values are 8-bit levels.

    :param x: Images ``(n, H, W, c)``, float32, within ``clip_values``.
    :param tables: ``(2, 64)`` luminance and chrominance quantisation steps on the 0-255 scale (row-major 8x8).
    :param clip_values: ``(min, max)`` of the input range, mapped to 0-255.
    :param options: How the codec runs (subsampling, libjpeg emulation, gradient).
    :return: The decoded images, same shape and range.
    """
    lo, hi = clip_values
    out = _codec_255(options)(x * (255.0 / (hi - lo)) - lo * (255.0 / (hi - lo)), tables)
    return out * ((hi - lo) / 255.0) + lo


@functools.cache
def _codec_255(options: JpegOptions) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """:func:`_jpeg_255` for ``options`` as its own ``tf.function``: inside :func:`compiled_codec` it is a function
    call whose gradient is computed as one unit (the gradients' summation order, hence their last bits, depend on
    this structure)."""
    return tf.function(functools.partial(_jpeg_255, options=options))


@functools.cache
def compiled_codec(options: JpegOptions) -> Callable[[tf.Tensor, tf.Tensor, tuple[float, float]], tf.Tensor]:
    """:func:`jpeg_codec` for ``options`` as a ``tf.function`` ``(x, tables, clip_values) -> images``, one per options.

    Value-only options are compiled by XLA, which fuses the elementwise steps and the 8-point passes into a few
    loops (about 3-4x faster than the graph on CPU), once per input shape (see :data:`BATCH_BUCKETS`); the
    differentiable codec is a graph, traced once per image size for any batch size (:func:`trace_batch_polymorphic`).
    """
    return tf.function(functools.partial(jpeg_codec, options=options), jit_compile=options.value_only)


@functools.cache
def trace_batch_polymorphic(
    options: JpegOptions, image_shape: tuple[int | None, ...], clip_values: tuple[float, float]
) -> None:
    """Trace the graph codec of ``options`` once for images of ``image_shape`` and any batch size.

    ``tf.function`` traces a new graph for every new input shape (seconds for this graph); after a trace whose
    batch dimension is unknown, calls of ``compiled_codec(options)`` on that image size reuse it, so the
    differentiable path -- which ART's attacks call with another batch size for the last batch of every loop --
    never retraces for a batch size. The XLA path cannot (XLA compiles static shapes): see :data:`BATCH_BUCKETS`.
    """
    if options.value_only:
        raise ValueError("the value-only codec is compiled by XLA for static shapes: use bucket_plan")
    spec = tf.TensorSpec((None, *image_shape), tf.float32)
    compiled_codec(options).get_concrete_function(spec, tf.TensorSpec((2, 64), tf.float32), clip_values)


# ---------------------------------------------------------------- batch buckets of the XLA path

#: Batch sizes the value-only (XLA) codec is compiled for. XLA compiles once per input shape (about 1 s on CPU,
#: several under load), so a batch runs as chunks of these sizes, the last one padded: a new batch size never
#: needs a compilation of its own, and five compilations per image size cover every batch size. Steps of 4x keep
#: the padding of a small batch and the number of calls of a large one low: every call costs dispatch, host
#: staging and, for several chunks, joining their outputs (one call on 2,048 CIFAR-10 images is faster than four
#: on 512).
BATCH_BUCKETS = (8, 32, 128, 512, 2048)
#: The cost of one call of the compiled codec, in pixels coded: its dispatch and host staging take about 0.5 ms,
#: the time XLA takes to code 32 images of 32x32 on CPU (about 14 us each).
CALL_OVERHEAD_PIXELS = 32 * 32 * 32
#: A batch runs at once on the buckets already compiled; when their plan would cost more than this factor times
#: the best plan, the missing buckets are compiled in a background thread for the batches that follow.
PLAN_SLACK = 1.25


def plan_cost(plan: Iterable[int], pixels: int) -> int:
    """Estimated cost of running chunks of the sizes in ``plan`` (images of ``pixels`` pixels), in pixels coded."""
    return sum(size * pixels + CALL_OVERHEAD_PIXELS for size in plan)


def bucket_plan(n: int, buckets: Iterable[int], pixels: int) -> tuple[int, ...]:
    """The chunk sizes, from ``buckets`` and largest first, that code ``n`` images of ``pixels`` pixels at least
    estimated cost (:func:`plan_cost`): full chunks of the largest bucket, then the cheapest cover of the rest,
    whose last chunk is padded.

    :param n: Number of images (>= 0).
    :param buckets: Compiled batch sizes to choose from (non-empty, positive).
    :param pixels: Pixels per image (height x width x frames).
    :return: Chunk sizes whose sum is at least ``n``; ``()`` for ``n = 0``.
    """
    buckets = tuple(sorted({int(b) for b in buckets}))
    full, rest = divmod(int(n), buckets[-1])
    return (buckets[-1],) * full + _cheapest_cover(rest, buckets, int(pixels))


@functools.lru_cache(maxsize=4096)
def _cheapest_cover(n: int, buckets: tuple[int, ...], pixels: int) -> tuple[int, ...]:
    """The cheapest chunk sizes, largest first, covering ``n`` (less than the largest bucket) images."""
    if n <= 0:
        return ()
    plans = ((size, *_cheapest_cover(n - size, buckets, pixels)) for size in buckets)
    return tuple(sorted(min(plans, key=lambda plan: plan_cost(plan, pixels)), reverse=True))


class CompiledBuckets:
    """Which batch buckets the XLA codec is compiled for, per input kind, and compiling the missing ones in a
    background thread, so that after the first call on an image size no call waits for XLA.

    * The first call on a kind (``key``: options, clip values, image shape) compiles what its best plan needs,
      synchronously -- there is nothing compiled to run on.
    * Later calls run at once on the compiled buckets. When that plan costs more than ``PLAN_SLACK`` times the
      best one, the missing buckets of the best plan are compiled in the background; the second call on a kind
      (a loop) also starts the compilation of all its remaining buckets. A kind called once (a test, a one-off
      call) costs one compilation per bucket it used.

    Compilations run one at a time in a non-daemon thread (the interpreter waits for it at exit); a failed one is
    logged and not retried.
    """

    def __init__(self) -> None:
        self._compiled: dict[Hashable, set[int]] = {}
        self._pending: dict[Hashable, set[int]] = {}
        self._calls: dict[Hashable, int] = {}
        self._lock = threading.Lock()
        self._compiling = threading.Lock()  # one compilation at a time (the CPU cores are the running call's)
        self._threads: list[threading.Thread] = []

    def plan(
        self, key: Hashable, n: int, buckets: Iterable[int], pixels: int, compile_bucket: Callable[[int], None]
    ) -> tuple[int, ...]:
        """The chunk sizes to run ``n`` images of kind ``key`` on now (call :meth:`ran` after each chunk), starting
        background compilations as described above; ``compile_bucket(size)`` compiles one batch size."""
        buckets = set(buckets)
        best = bucket_plan(n, buckets, pixels)
        with self._lock:
            compiled = self._compiled.setdefault(key, set()) & buckets
            calls = self._calls[key] = self._calls.get(key, 0) + 1
            if not compiled:
                return best
            plan = bucket_plan(n, compiled, pixels)
            wanted = set(best) if plan_cost(plan, pixels) > PLAN_SLACK * plan_cost(best, pixels) else set()
            if calls == 2:
                wanted |= buckets
            pending = self._pending.setdefault(key, set())
            missing = wanted - compiled - pending
            if missing:
                pending |= missing
                thread = threading.Thread(
                    target=self._compile, args=(key, sorted(missing), compile_bucket), name="art-ext-jpeg-compile"
                )
                self._threads.append(thread)
                thread.start()
        return plan

    def ran(self, key: Hashable, size: int) -> None:
        """Record that the codec of kind ``key`` ran (so is compiled) for batch size ``size``."""
        with self._lock:
            self._compiled.setdefault(key, set()).add(size)

    def compiled(self, key: Hashable) -> frozenset[int]:
        """The batch sizes compiled for kind ``key``."""
        with self._lock:
            return frozenset(self._compiled.get(key, ()))

    def wait(self) -> None:
        """Wait for the background compilations started so far."""
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join()

    def _compile(self, key: Hashable, sizes: list[int], compile_bucket: Callable[[int], None]) -> None:
        for size in sizes:
            try:
                with self._compiling:
                    compile_bucket(size)
                self.ran(key, size)
            except Exception as err:  # a background thread has no caller to raise to
                logger.warning("JPEG: background XLA compilation for batch size %d failed: %s", size, err)
            finally:
                with self._lock:
                    self._pending.get(key, set()).discard(size)
