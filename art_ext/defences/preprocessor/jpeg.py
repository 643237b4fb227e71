"""Differentiable JPEG compression as ART preprocessors, and JPEG with a quantisation table designed for the network.

:class:`JpegCompressionTensorFlowV2` runs the lossy path of baseline JPEG (:func:`~art_ext.defences.preprocessor.
jpeg_codec.jpeg_codec`) as batched TensorFlow ops: a drop-in, faster and differentiable replacement for ART's
:class:`~art.defences.preprocessor.JpegCompression` (which round-trips every image through Pillow in a Python loop
and has no gradient).

:class:`NNFavoredJpeg` is the same pipeline with a quantisation table designed for the classifier instead of
the human eye: derived from the per-frequency spread of the data's DCT coefficients (DeepN-JPEG), or the
two-level Feature Distillation table (:mod:`art_ext.defences.preprocessor.jpeg_tables`).

| Paper link (NN-favoured JPEG, multi-level fine-tuning and majority vote): see :doc:`/methods/nn_jpeg`
| DeepN-JPEG: https://arxiv.org/abs/1803.05788
| Feature Distillation: https://arxiv.org/abs/1803.05787
| SHIELD: https://arxiv.org/abs/1802.06816

| Please keep in mind the limitations of defences. For more information on the limitations of this defence,
    see https://arxiv.org/abs/1802.00420 . For details on how to evaluate classifier security in general, see
    https://arxiv.org/abs/1902.06705
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import tensorflow as tf
from art.defences.preprocessor.preprocessor import PreprocessorTensorFlowV2

from art_ext.defences.preprocessor.jpeg_codec import (
    BATCH_BUCKETS,
    GRADIENT_ESTIMATORS,
    CompiledBuckets,
    JpegOptions,
    check_image_layout,
    compiled_codec,
    trace_batch_polymorphic,
)
from art_ext.defences.preprocessor.jpeg_tables import (
    PRESETS,
    QUALITY,
    check_design_parameters,
    check_quantization_table,
    dct_coefficient_std,
    design_quantization_table,
    standard_tables,
    two_level_table,
)
from art_ext.params import BOOL, POSITIVE_INT, ClipValues, Interval, Options, Pair, Real, ValidatedParams
from art_ext.persistence import load_json, save_json
from art_ext.utils import HostStaging, check_finite_tensor, check_inputs

__all__ = ["JpegCompressionTensorFlowV2", "NNFavoredJpeg"]

logger = logging.getLogger(__name__)

#: The parameters of the table design: changing them redesigns a table fitted to data.
_DESIGN_PARAMS = frozenset({"q_min", "q_max", "thresholds", "quantiles"})
#: Kind tag of the files written by :meth:`NNFavoredJpeg.save`.
_FILE_KIND = "NNFavoredJpeg"
#: The batch sizes the NumPy path's XLA codec is compiled for, per kind of input, in this process.
_COMPILED = CompiledBuckets()


class JpegCompressionTensorFlowV2(ValidatedParams, PreprocessorTensorFlowV2):
    """
    JPEG compression in TensorFlow: a drop-in, faster and differentiable replacement for ART's
    :class:`~art.defences.preprocessor.JpegCompression`.

    Runs JPEG's lossy path as batched TensorFlow ops: RGB to YCbCr (ITU-R BT.601, as libjpeg), optional 4:2:0
    chroma subsampling (2x2 average, libjpeg's triangle upsampling on decode), 8x8 orthonormal DCT-II,
    quantisation by the IJG-scaled Annex K tables (or given tables), rounding, dequantisation, inverse DCT,
    back to RGB, rounding to 8 bits and clipping. Images have 3 (RGB) or 1 (grey: the luminance path) channels
    on the channel axis that ``channels_first`` declares; any other count is refused, so that a batch in the other
    layout is not coded as many grey channels. Any height and width: images are padded to a
    multiple of 8 (16 with subsampling) by edge replication and cropped back. The entropy coding is lossless
    and therefore skipped. At the same quality the output matches Pillow/libjpeg encode-decode to 0.03 grey
    levels on average, 97-99 % of pixels exactly (:doc:`/methods/nn_jpeg`, fidelity).

    Fast and exact: libjpeg's integer DCT runs in float32 on integers below 2^24, so it is exact, and the NumPy
    ``__call__`` path is compiled by XLA, which fuses the whole pipeline into a few loops. XLA compiles for fixed
    shapes, so every batch runs as chunks of a few fixed sizes (8, 32, 128, 512 and 2,048 images, at most
    ``batch_size``; the last chunk padded): a new batch size needs no compilation of its own. The first call on an
    image size compiles the sizes it needs; when that image size comes back, the other sizes are compiled in a
    background thread while calls run on the compiled ones (:meth:`precompile` does it all at once). The
    differentiable path (:meth:`forward`) is traced once per image size for every batch size.

    ``forward`` returns the exact JPEG output; its gradient is that of ``gradient_estimator`` applied to every
    rounding (BPDA), so white-box attacks and ART's ``loss_gradient`` go through it. ``estimate_forward``
    returns the estimator's own smooth value.

    Unlike ART's version, the default is 4:4:4 (no chroma subsampling); ART's (Pillow's default) is 4:2:0, so
    use ``chroma_subsampling=True`` to reproduce it.

    | Paper link: https://arxiv.org/abs/1705.02900, https://arxiv.org/abs/1608.00853 (JPEG as a defence);
      https://arxiv.org/abs/1802.00420 (BPDA)

    | Please keep in mind the limitations of defences. For more information on the limitations of this defence,
        see https://arxiv.org/abs/1802.00420 . For details on how to evaluate classifier security in general, see
        https://arxiv.org/abs/1902.06705
    """

    params = [
        "clip_values",
        "quality",
        "quantization_table",
        "chroma_subsampling",
        "channels_first",
        "gradient_estimator",
        "emulate_libjpeg",
        "batch_size",
        "verbose",
    ]
    _parameter_constraints = {
        "clip_values": [ClipValues()],
        "quality": [QUALITY],
        "chroma_subsampling": [BOOL],
        "channels_first": [BOOL],
        "gradient_estimator": [Options(GRADIENT_ESTIMATORS)],
        "emulate_libjpeg": [BOOL],
        "batch_size": [POSITIVE_INT],
        "verbose": [BOOL],
    }  # quantization_table is checked by its setter

    def __init__(
        self,
        clip_values: tuple[float, float] = (0.0, 1.0),
        quality: int = 50,
        quantization_table: np.ndarray | None = None,
        chroma_subsampling: bool = False,
        channels_first: bool = False,
        gradient_estimator: str = "straight_through",
        emulate_libjpeg: bool = True,
        batch_size: int = 1024,
        apply_fit: bool = True,
        apply_predict: bool = True,
        verbose: bool = False,
    ) -> None:
        """
        Create an instance of differentiable JPEG compression.

        :param clip_values: Tuple ``(min, max)`` of finite numbers, the input range; mapped to 0-255 internally.
        :param quality: JPEG quality in ``[1, 100]`` scaling the Annex K tables (IJG formula); ignored when
               ``quantization_table`` is given.
        :param quantization_table: An 8x8 table of positive steps on the 0-255 scale used for every channel, or
               a ``(2, 8, 8)`` luminance/chrominance pair. ``None``: the Annex K tables at ``quality``.
        :param chroma_subsampling: ``True`` for 4:2:0 (Pillow's and ART's default), ``False`` for 4:4:4.
        :param channels_first: Inputs are ``NCHW`` (``NCFHW`` for video) instead of ``NHWC`` (``NFHWC``).
        :param gradient_estimator: Gradient of the rounding steps: ``"straight_through"`` (identity, BPDA) or
               ``"cubic"`` (``r + (x - r)^3``, Shin & Song 2017).
        :param emulate_libjpeg: Emulate libjpeg's integer arithmetic for the forward value: its fixed-point
               colour conversions, 8-bit samples, integer DCT (so that rounding ties break as in libjpeg) and, for
               4:2:0, its chroma resampling; only the inverse DCT stays float. 97-99 % of the pixels are then
               bit-identical to Pillow's (gradients still come from the float pipeline). ``False``: a pure float
               pipeline, further from libjpeg (0.6-4 grey levels): quantisation is a step function, so coefficients
               near a rounding boundary -- common in images that were JPEG-compressed before -- go the other way.
        :param batch_size: Most images per TensorFlow call in ``__call__`` (NumPy path): bounds its memory. Batches
               run as chunks of 8, 32, 128, 512 and 2,048 images (those above ``batch_size`` replaced by it).
        :param apply_fit: True if applied during fitting/training.
        :param apply_predict: True if applied during predicting.
        :param verbose: Show a progress bar in ``__call__``.
        """
        super().__init__(is_fitted=True, apply_fit=apply_fit, apply_predict=apply_predict)
        self._table: np.ndarray | None = None
        self.clip_values = clip_values
        self.quality = quality
        self.chroma_subsampling = chroma_subsampling
        self.channels_first = channels_first
        self.gradient_estimator = gradient_estimator
        self.emulate_libjpeg = emulate_libjpeg
        self.batch_size = batch_size
        self.verbose = verbose
        self._check_params()
        self._staging = HostStaging()
        if quantization_table is not None:
            self.quantization_table = quantization_table

    # ------------------------------------------------------------ the table
    @property
    def quantization_table(self) -> np.ndarray | None:
        """The explicit ``(2, 8, 8)`` luminance/chrominance table, or ``None`` (Annex K tables at ``quality``).

        Settable: assign an 8x8 table (used for both) or a ``(2, 8, 8)`` pair.
        """
        return None if self._table is None else self._table.copy()

    @quantization_table.setter
    def quantization_table(self, table) -> None:
        self._table = None if table is None else check_quantization_table(table)

    @property
    def tables(self) -> np.ndarray:
        """The luminance and chrominance tables in use, ``(2, 8, 8)`` on the 0-255 scale."""
        return standard_tables(self.quality) if self._table is None else self._table.copy()

    def mean_quantization_step(self) -> float:
        """Mean luminance step of the table in use: a simple measure of how strongly it compresses."""
        return float(self.tables[0].mean())

    # ------------------------------------------------------------ TensorFlow path
    def _options(self, smooth: bool = False, value_only: bool = False) -> JpegOptions:
        """The codec options of this preprocessor: exact value with its gradient (``forward``), the estimator's
        smooth value (``estimate_forward``) or the value only (the NumPy path)."""
        return JpegOptions(
            chroma_subsampling=bool(self.chroma_subsampling),
            emulate_libjpeg=bool(self.emulate_libjpeg),
            gradient_estimator=None if value_only else self.gradient_estimator,
            smooth=smooth,
        )

    def _compress(self, x: tf.Tensor, options: JpegOptions) -> tf.Tensor:
        if x.shape.rank is None:
            raise ValueError("x must be images (rank 4) or videos (rank 5), got a tensor of unknown rank")
        check_image_layout(x.shape.as_list(), self.channels_first)
        x = tf.cast(x, tf.float32)
        x = check_finite_tensor(x, "x", self.clip_values)  # eagerly a ValueError; in a graph, assertions
        return _code(x, options, self._tables_tensor(), self.clip_values, self.channels_first)

    def _tables_tensor(self) -> tf.Tensor:
        """The tables in use as a ``(2, 64)`` constant, made once per table."""
        return _tables_constant(self.tables.astype(np.float32).tobytes())

    def forward(self, x: tf.Tensor, y: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor | None]:
        """
        Compress and decompress ``x`` exactly; gradients follow ``gradient_estimator`` (BPDA).

        :param x: Images ``NHWC`` (``NCHW`` if ``channels_first``) or videos ``NFHWC`` (``NCFHW``) in ``clip_values``.
        :param y: Labels; returned unchanged.
        :return: The JPEG-compressed images (float32, same shape) and ``y``.
        :raises ValueError: Wrong rank or channel axis, NaN/inf, or values outside ``clip_values`` (in a graph: an
                assertion that fails when it runs).
        """
        return self._compress(x, self._options()), y

    def estimate_forward(self, x: tf.Tensor, y: tf.Tensor | None = None) -> tf.Tensor:
        """
        Smooth approximation of :meth:`forward`: every rounding replaced by ``gradient_estimator``.

        :param x: Images as in :meth:`forward`.
        :param y: Unused.
        :return: The approximately compressed images.
        """
        return self._compress(x, self._options(smooth=True))

    def __call__(self, x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """
        Apply JPEG compression to NumPy images, in chunks of at most ``batch_size`` (see :meth:`precompile`).

        :param x: Images ``NHWC`` (``NCHW`` if ``channels_first``) or videos, values within ``clip_values``.
        :param y: Labels; returned unchanged.
        :return: Compressed images (float32, same shape) and ``y``.
        :raises ValueError: Not 4-D/5-D, not 1 or 3 channels on the channel axis, non-finite, or values outside
                ``clip_values``.
        """
        from tqdm.auto import tqdm

        x = np.asarray(x)
        check_image_layout(x.shape, self.channels_first)
        x = check_inputs(x, "x", clip_values=self.clip_values, min_samples=0)
        if len(x) == 0:
            return np.empty(x.shape, dtype=np.float32), y
        key, pixels, compile_bucket, tables = self._xla_kind(x.shape[1:])
        plan = _COMPILED.plan(key, len(x), self._buckets(), pixels, compile_bucket)
        code = functools.partial(_code_value, key=key, tables=tables)
        parts, start = [], 0
        for size in tqdm(plan, desc="JPEG compression", disable=not self.verbose):
            chunk = x[start : start + size]
            start += len(chunk)
            parts.append(self._staging.run(code, chunk, rows=size)[: len(chunk)])
            _COMPILED.ran(key, size)
        return (parts[0] if len(parts) == 1 else np.concatenate(parts)), y

    def precompile(self, image_shape: tuple[int, ...]) -> None:
        """
        Compile the XLA codec of ``__call__`` for every batch size it uses on images of one size (8, 32, 128, 512
        and 2,048, at most ``batch_size``), and wait for the compilations running in the background: afterwards no
        call on images of this size waits for XLA, whatever its batch size (e.g. before timing, or before serving).

        :param image_shape: The shape of one image (or video) in this preprocessor's layout, e.g. ``(32, 32, 3)``.
        :raises ValueError: Not the shape of an image or video with 1 or 3 channels in this layout.
        """
        shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else None
        if shape is None or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
            raise ValueError(f"image_shape must be a tuple of positive integers, got {image_shape!r}")
        if min(shape, default=0) < 1:
            raise ValueError(f"image_shape must be a tuple of positive integers, got {image_shape!r}")
        check_image_layout((1, *shape), self.channels_first, name="image_shape (with a batch axis)")
        key, _, compile_bucket, _ = self._xla_kind(tuple(int(s) for s in shape))
        _COMPILED.wait()
        for size in sorted(set(self._buckets()) - _COMPILED.compiled(key)):
            compile_bucket(size)
            _COMPILED.ran(key, size)

    def _buckets(self) -> list[int]:
        """The batch sizes of the XLA path: :data:`~art_ext.defences.preprocessor.jpeg_codec.BATCH_BUCKETS`,
        at most ``batch_size`` (which bounds the memory of one call)."""
        return sorted({min(size, self.batch_size) for size in BATCH_BUCKETS})

    def _xla_kind(self, image_shape: tuple[int, ...]):
        """``(key, pixels, compile_bucket, tables)`` of the NumPy path on images of ``image_shape``: what its XLA
        compilation depends on (not the tables, an input of the compiled function), pixels per image, a function
        compiling it for a batch size (on a snapshot of the parameters, as it may run in a thread), and the tables
        tensor."""
        options, clip_values, channels_first = self._options(value_only=True), self.clip_values, self.channels_first
        tables = self._tables_tensor()
        key = (options, clip_values, channels_first, tuple(image_shape))
        channels = image_shape[0] if channels_first else image_shape[-1]

        def compile_bucket(size: int) -> None:
            _code(tf.fill((size, *image_shape), clip_values[0]), options, tables, clip_values, channels_first)

        return key, int(np.prod(image_shape)) // channels, compile_bucket, tables

    def fit(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> JpegCompressionTensorFlowV2:
        """No parameters to learn for this method.

        :return: ``self``.
        """
        return self

    def _check_param_relations(self) -> None:
        self.clip_values = (float(self.clip_values[0]), float(self.clip_values[1]))


class NNFavoredJpeg(JpegCompressionTensorFlowV2):
    """
    JPEG compression with a quantisation table favourable to the neural network, in TensorFlow.

    The paper ("NN-favored JPEG": a network-favoured quantisation table, multi-level fine-tuning and a majority
    vote; see :doc:`/methods/nn_jpeg`) designs the table "based on an analysis of the frequency coefficients".
    Only its abstract is available, so the design follows its public anchors: :meth:`fit` measures the spread of
    every DCT frequency over the data and maps it to a step with :func:`design_quantization_table`
    (DeepN-JPEG); ``preset="feature_distillation"`` gives the two-level table of Feature Distillation. The table
    is inspectable and settable through :attr:`quantization_table`. Everything else -- differentiability,
    BPDA gradients, layouts -- is :class:`JpegCompressionTensorFlowV2`.

    | Paper link: https://arxiv.org/abs/1803.05788 (DeepN-JPEG), https://arxiv.org/abs/1803.05787 (Feature
      Distillation)

    | Please keep in mind the limitations of defences. For more information on the limitations of this defence,
        see https://arxiv.org/abs/1802.00420 . For details on how to evaluate classifier security in general, see
        https://arxiv.org/abs/1902.06705
    """

    params = JpegCompressionTensorFlowV2.params + ["preset", "q_min", "q_max", "thresholds", "quantiles"]
    _parameter_constraints = {
        **JpegCompressionTensorFlowV2._parameter_constraints,
        "preset": [None, Options(sorted(PRESETS))],
        "q_min": [Interval(Real, 1, 255)],
        "q_max": [Interval(Real, 1, 255)],
        "thresholds": [None, Pair(Interval(Real, 0, None, closed="neither"))],
        "quantiles": [Pair(Interval(Real, 0, 1))],
    }

    def __init__(
        self,
        clip_values: tuple[float, float] = (0.0, 1.0),
        quantization_table: np.ndarray | None = None,
        preset: str | None = None,
        q_min: float = 5.0,
        q_max: float = 60.0,
        thresholds: tuple[float, float] | None = None,
        quantiles: tuple[float, float] = (0.25, 0.75),
        chroma_subsampling: bool = False,
        channels_first: bool = False,
        gradient_estimator: str = "straight_through",
        emulate_libjpeg: bool = True,
        batch_size: int = 1024,
        apply_fit: bool = True,
        apply_predict: bool = True,
        verbose: bool = False,
    ) -> None:
        """
        Create an NN-favoured JPEG preprocessor; call :meth:`fit` on training images unless a table or preset is given.

        :param clip_values: Tuple ``(min, max)`` of the input range.
        :param quantization_table: An explicit 8x8 or ``(2, 8, 8)`` table (0-255 scale).
        :param preset: ``"feature_distillation"``: the two-level table (25 on the low 4x4 frequencies, 30 elsewhere).
        :param q_min: Finest step of the designed table (see :func:`design_quantization_table`).
        :param q_max: Coarsest step of the designed table.
        :param thresholds: Absolute standard-deviation thresholds of the design, or None for ``quantiles``.
        :param quantiles: Quantiles of the per-frequency standard deviations used as thresholds.
        :param chroma_subsampling: ``True`` for 4:2:0.
        :param channels_first: Inputs are ``NCHW`` instead of ``NHWC``.
        :param gradient_estimator: ``"straight_through"`` or ``"cubic"`` (see :class:`JpegCompressionTensorFlowV2`).
        :param emulate_libjpeg: Emulate libjpeg's 8-bit integer arithmetic in the forward value.
        :param batch_size: Most images per TensorFlow call in ``__call__`` and ``fit``.
        :param apply_fit: True if applied during fitting/training.
        :param apply_predict: True if applied during predicting.
        :param verbose: Show a progress bar in ``__call__``.
        """
        self.preset, self.q_min, self.q_max = preset, q_min, q_max
        self.thresholds, self.quantiles = thresholds, quantiles
        self._table_source: str | None = None  # where the table came from: "explicit", "preset", "fit" or None
        super().__init__(
            clip_values=clip_values,
            quality=50,
            quantization_table=quantization_table,
            chroma_subsampling=chroma_subsampling,
            channels_first=channels_first,
            gradient_estimator=gradient_estimator,
            emulate_libjpeg=emulate_libjpeg,
            batch_size=batch_size,
            apply_fit=apply_fit,
            apply_predict=apply_predict,
            verbose=verbose,
        )
        if quantization_table is None and preset is not None:
            self._set_table(two_level_table(*PRESETS[preset]), "preset")
        self._is_fitted = self._table is not None

    @JpegCompressionTensorFlowV2.quantization_table.setter
    def quantization_table(self, table) -> None:
        table = None if table is None else check_quantization_table(table)
        if table is not None and self._table is not None and np.array_equal(table, self._table):
            return  # the table in use (e.g. set_params(**get_params())): it stays fitted or preset
        self._set_table(table, "explicit")

    def _set_table(self, table: np.ndarray | None, source: str) -> None:
        JpegCompressionTensorFlowV2.quantization_table.fset(self, table)
        self._table_source = None if table is None else source
        self._is_fitted = table is not None

    @property
    def tables(self) -> np.ndarray:
        """The luminance and chrominance tables in use, ``(2, 8, 8)``.

        :raises ValueError: If no table is set yet (call :meth:`fit`, or give a table or preset).
        """
        if self._table is None:
            raise ValueError(
                "NNFavoredJpeg has no quantisation table yet: call fit(x), or pass quantization_table or preset"
            )
        return self._table.copy()

    def fit(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> NNFavoredJpeg:
        """
        Design the table from the DCT statistics of training images ``x`` (sets ``frequency_std_`` and the table).

        :param x: Training images within ``clip_values``, 1 or 3 channels in the layout ``channels_first`` declares.
        :param y: Unused.
        :return: ``self``.
        :raises ValueError: Bad images (rank, channel axis, NaN/inf, values outside ``clip_values``).
        """
        self.frequency_std_ = dct_coefficient_std(x, self.clip_values, self.channels_first, self.batch_size)
        self._set_table(self._design(), "fit")
        return self

    def _design(self) -> np.ndarray:
        return design_quantization_table(self.frequency_std_, self.q_min, self.q_max, self.thresholds, self.quantiles)

    def _check_param_relations(self) -> None:
        super()._check_param_relations()
        check_design_parameters(self.q_min, self.q_max, self.thresholds, self.quantiles)
        self.quantiles = tuple(self.quantiles)
        self.thresholds = None if self.thresholds is None else tuple(self.thresholds)

    def _params_changed(self, changed: set[str]) -> None:
        """A new preset replaces a preset (or missing) table unless an explicit table is set in the same call; new
        design parameters redesign a table fitted to data from its stored statistics."""
        explicit = "quantization_table" in changed and self._table is not None
        if not explicit and changed & {"preset", "quantization_table"}:
            if self.preset is not None:
                self._set_table(two_level_table(*PRESETS[self.preset]), "preset")
            elif self._table_source == "preset":
                self._set_table(None, "preset")
        if changed & _DESIGN_PARAMS and self._table_source == "fit":
            self._set_table(self._design(), "fit")

    # ------------------------------------------------------------ persistence
    def save(self, path: str) -> None:
        """
        Save the parameters, the table in use and, for a table fitted to data, the DCT statistics it was designed
        from, as a tagged JSON file, atomically.

        :param path: Destination ending in ``.json``.
        :raises ValueError: If ``path`` does not end in ``.json`` or cannot be written.
        """
        params = {
            name: _jsonable(value)
            for name, value in self.get_params().items()
            if name not in ("quality", "quantization_table")
        }
        params.update(apply_fit=bool(self.apply_fit), apply_predict=bool(self.apply_predict))
        frequency_std = getattr(self, "frequency_std_", None)
        save_json(
            path,
            _FILE_KIND,
            {
                "params": params,
                "table": None if self._table is None else self._table.tolist(),
                "table_source": self._table_source,
                "frequency_std": None if frequency_std is None else np.asarray(frequency_std).tolist(),
            },
        )

    @classmethod
    def load(cls, path: str) -> NNFavoredJpeg:
        """
        Load an object written by :meth:`save`: same parameters and bit-identical table and statistics.

        :param path: A ``.json`` file written by :meth:`save`.
        :return: The preprocessor.
        :raises ValueError: Missing file, or not an art-ext NNFavoredJpeg file (tampered, foreign, newer format).
        """
        config = load_json(path, _FILE_KIND)
        try:
            table, source = config["table"], config["table_source"]
            jpeg = cls(quantization_table=None if table is None else np.asarray(table, np.float32), **config["params"])
            if source not in (None, "explicit", "preset", "fit") or (source is None) != (table is None):
                raise ValueError(f"table_source {source!r}")
            jpeg._table_source = source
            if config["frequency_std"] is not None:
                jpeg.frequency_std_ = np.asarray(config["frequency_std"], np.float32)
                if jpeg.frequency_std_.shape != (2, 8, 8):
                    raise ValueError(f"frequency_std of shape {jpeg.frequency_std_.shape}")
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not an art-ext {_FILE_KIND} file: {path} (invalid content: {err})") from err
        return jpeg


def _code(
    x: tf.Tensor, options: JpegOptions, tables: tf.Tensor, clip_values: tuple[float, float], channels_first: bool
) -> tf.Tensor:
    """The codec on a float32 batch of images or videos in the preprocessor's layout: to ``NHWC`` images, code,
    back. The graph (differentiable) codec is traced once per image size for any batch size."""
    rank = x.shape.rank
    if channels_first:  # NCHW -> NHWC, NCFHW -> NFHWC
        x = tf.transpose(x, (0, 2, 3, 1) if rank == 4 else (0, 2, 3, 4, 1))
    shape = tf.shape(x)
    if rank == 5:
        x = tf.reshape(x, tf.concat([[-1], shape[2:]], 0))
    if not options.value_only:
        trace_batch_polymorphic(options, tuple(x.shape[1:]), clip_values)
    out = compiled_codec(options)(x, tables, clip_values)
    if rank == 5:
        out = tf.reshape(out, shape)
    if channels_first:
        out = tf.transpose(out, (0, 3, 1, 2) if rank == 4 else (0, 4, 1, 2, 3))
    return out


@functools.lru_cache(maxsize=64)
def _tables_constant(tables: bytes) -> tf.Tensor:
    """``(2, 64)`` float32 constant of luminance and chrominance tables given as the bytes of a float32 array: an eager
    tensor even when first asked for inside a graph (which captures it), so that it can be cached."""
    with tf.init_scope():
        return tf.constant(np.frombuffer(tables, np.float32).reshape(2, 64))


def _code_value(x: tf.Tensor, key: tuple, tables: tf.Tensor) -> tf.Tensor:
    """The value-only (XLA) codec of the NumPy path on one chunk, of the kind ``key`` (see ``_xla_kind``). A batch
    of ``NHWC`` images calls the compiled function of its batch size directly: matching the arguments of the
    ``tf.function`` costs more per call than coding 8 CIFAR-10 images."""
    options, clip_values, channels_first, _ = key
    if channels_first or x.shape.rank != 4:
        return _code(x, options, tables, clip_values, channels_first)
    return _concrete_codec(key, int(x.shape[0]))(x, tables, clip_values, options=options)


@functools.lru_cache(maxsize=256)
def _concrete_codec(key: tuple, size: int):
    """The value-only codec of :func:`compiled_codec` for ``NHWC`` images of the kind ``key``, batch size ``size``
    (the same trace a call of the ``tf.function`` on such a batch uses)."""
    options, clip_values, _, image_shape = key
    return compiled_codec(options).get_concrete_function(
        tf.TensorSpec((size, *image_shape), tf.float32), tf.TensorSpec((2, 64), tf.float32), clip_values
    )


def _jsonable(value):
    """Tuples and NumPy scalars as JSON-serialisable Python values."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value
