"""Shared helpers: input validation at the public boundary, and TensorFlow building blocks
(C&W change of variables, FGSM / I-FGSM steps, batching) used by several methods.

Validation functions raise ``ValueError`` naming the argument and what was expected; they
never modify their input (they return a converted copy where a conversion is needed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

# ---------------------------------------------------------------- validation (NumPy boundary)

#: Absolute slack of the ``clip_values`` range checks: float32 rounding of values computed at the box edges.
RANGE_TOLERANCE = 1e-6


def check_inputs(
    x,
    name: str = "x",
    clip_values: tuple[float, float] | None = None,
    input_shape: tuple[int, ...] | None = None,
    min_samples: int = 1,
) -> np.ndarray:
    """Validate a batch of inputs and return it as float32.

    :param x: Array-like of shape ``(n, *input_shape)``.
    :param name: Argument name used in error messages.
    :param clip_values: If given, every value must lie in ``[min, max]`` (tolerance :data:`RANGE_TOLERANCE`).
    :param input_shape: If given, the expected shape of one sample.
    :param min_samples: Minimum batch size.
    :raises ValueError: Wrong type, shape, too few samples, NaN/inf, or values outside ``clip_values``.
    """
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as err:  # pragma: no cover - exotic inputs
            raise ValueError(f"{name} must be a NumPy array, got {type(x).__name__}") from err
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"{name} must be a real numeric array, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"{name} must be a batch of shape (n, ...), got shape {x.shape}")
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
        raise ValueError(f"{name} must have samples of shape {tuple(input_shape)}, got {tuple(x.shape[1:])}")
    if len(x) < min_samples:
        raise ValueError(f"{name} must hold at least {min_samples} sample(s), got {len(x)}")
    x = x.astype(np.float32, copy=False)
    if not x.size:
        return x
    lo, hi = float(x.min()), float(x.max())  # NaN propagates, inf is an extreme: two passes, no temporary
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or inf")
    if clip_values is not None and (lo < clip_values[0] - RANGE_TOLERANCE or hi > clip_values[1] + RANGE_TOLERANCE):
        raise ValueError(f"{name} values must lie within clip_values {tuple(clip_values)}, got [{lo:.4g}, {hi:.4g}]")
    return x


def check_labels(y, n: int, nb_classes: int, name: str = "y") -> np.ndarray:
    """Validate labels and return them as int64 class indices of shape ``(n,)``.

    Accepted forms: class indices ``(n,)`` or ``(n, 1)`` (integers, or floats with integral values), and one-hot
    rows ``(n, nb_classes)`` with exactly one ``1`` and zeros elsewhere (numbers or bools). A row that is all
    zeros, has two ones, or holds other values (negative, soft probabilities) is not one-hot and is rejected
    rather than read through ``argmax`` (an all-zero row would silently become class 0).

    :param y: The labels.
    :param n: Number of inputs the labels belong to.
    :param nb_classes: Number of classes.
    :param name: Argument name used in error messages.
    :return: Class indices, int64, a new array (``y`` is not modified).
    :raises ValueError: Missing labels, non-numeric labels (strings, objects), wrong length or width, NaN,
        non-integral indices, indices out of ``[0, nb_classes)``, or rows that are not one-hot.
    """
    if y is None:
        raise ValueError(f"{name} (the labels) is required")
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of class indices or one-hot rows, got {type(y).__name__}") from err
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise ValueError(
            f"{name} must hold numeric class indices (n,) or one-hot rows (n, {nb_classes}), "
            f"got dtype {y.dtype}; map string or object labels to integers first"
        )
    if y.ndim == 2 and y.shape[1] == 1 and nb_classes != 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.shape[1] != nb_classes:
            raise ValueError(f"one-hot {name} must have {nb_classes} columns, got {y.shape[1]}")
        if len(y) != n:
            raise ValueError(f"{name} has {len(y)} labels but there are {n} inputs")
        ones = y == 1
        bad = np.flatnonzero(~np.all(ones | (y == 0), axis=1) | (ones.sum(axis=1) != 1))
        if bad.size:
            raise ValueError(
                f"{name} must be one-hot (exactly one 1 and zeros in each row); row {bad[0]} is "
                f"{_short_row(y[bad[0]])} ({bad.size} such row(s)); pass class indices or "
                f"argmax for soft labels"
            )
        return ones.argmax(axis=1).astype(np.int64)
    if y.ndim != 1:
        raise ValueError(f"{name} must be class indices (n,) or one-hot (n, {nb_classes}), got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels but there are {n} inputs")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or inf")
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"{name} must hold integer class indices")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= nb_classes):
        raise ValueError(f"{name} must lie in [0, {nb_classes}), got values in [{y.min()}, {y.max()}]")
    return y


def _short_row(row: np.ndarray, limit: int = 12) -> str:
    items = ", ".join(f"{v:g}" for v in row[:limit].tolist())
    return f"[{items}{', ...' if len(row) > limit else ''}]"


def check_finite_tensor(x, name: str = "x", clip_values: tuple[float, float] | None = None) -> tf.Tensor:
    """Check a TensorFlow tensor (the TF path ART's estimators use) holds no NaN or inf, and optionally lies
    within ``clip_values``; return it unchanged.

    Called eagerly (e.g. at the start of a preprocessor's ``forward``), it raises ``ValueError`` naming ``name``
    before any work. Traced inside a ``tf.function`` it adds ``tf.debugging`` assertions instead, which raise
    ``tf.errors.InvalidArgumentError`` carrying the same message when the graph runs. Integer tensors pass the
    finiteness check by definition.

    :param x: A tensor (or array-like).
    :param name: Argument name used in error messages.
    :param clip_values: If given, every value must lie in ``[min, max]`` (tolerance :data:`RANGE_TOLERANCE`).
    :return: ``x`` as a tensor.
    :raises ValueError: (eagerly) ``x`` contains NaN or inf, or values outside ``clip_values``.
    """
    x = tf.convert_to_tensor(x)
    lo_hi = (
        None
        if clip_values is None
        else (float(clip_values[0]) - RANGE_TOLERANCE, float(clip_values[1]) + RANGE_TOLERANCE)
    )
    if tf.executing_eagerly():
        if x.dtype.is_floating and not bool(tf.reduce_all(tf.math.is_finite(x))):
            raise ValueError(f"{name} contains NaN or inf")
        if lo_hi is not None and tf.size(x) > 0:
            lo, hi = float(tf.reduce_min(x)), float(tf.reduce_max(x))
            if lo < lo_hi[0] or hi > lo_hi[1]:
                raise ValueError(
                    f"{name} values must lie within clip_values {tuple(clip_values)}, got [{lo:.4g}, {hi:.4g}]"
                )
        return x
    if x.dtype.is_floating:
        x = tf.debugging.check_numerics(x, f"{name} contains NaN or inf")
    if lo_hi is not None:
        message = f"{name} values must lie within clip_values {tuple(clip_values)}"
        with tf.control_dependencies(
            [
                tf.debugging.assert_greater_equal(x, tf.cast(lo_hi[0], x.dtype), message=message),
                tf.debugging.assert_less_equal(x, tf.cast(lo_hi[1], x.dtype), message=message),
            ]
        ):
            x = tf.identity(x)
    return x


def check_clip_values(clip_values, name: str = "clip_values") -> tuple[float, float]:
    """Validate ``(min, max)`` with ``min < max``; return it as floats."""
    try:
        lo, hi = (float(v) for v in clip_values)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a pair (min, max), got {clip_values!r}") from err
    if not lo < hi:
        raise ValueError(f"{name} must satisfy min < max, got {clip_values!r}")
    return lo, hi


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Slices ``[0:b], [b:2b], ...`` covering ``range(n)``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


class HostStaging:
    """Hands NumPy batches to a TensorFlow function through one reusable, 64-byte aligned float32 buffer.

    ``tf.convert_to_tensor`` copies an array whose data is not 64-byte aligned (large NumPy arrays are 16-byte
    aligned) into freshly allocated memory on every call, page faults included. Copying into a warm aligned buffer
    and importing it with DLPack (which does not copy) takes about half the time (:doc:`/results/nn_jpeg`, speed).
    The tensor aliases the buffer, so it never leaves :meth:`run`, and a lock lets one call in at a time.
    A buffer larger than ``KEEP_BYTES`` is released after each call rather than held.
    """

    ALIGN = 64
    KEEP_BYTES = 64 * 2**20

    def __init__(self):
        self._raw = np.empty(0, np.uint8)
        self._lock = threading.Lock()

    def __reduce__(self):  # copies and pickles start with an empty buffer (and their own lock)
        return HostStaging, ()

    def _buffer(self, shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape)) * 4
        if self._raw.nbytes < size + self.ALIGN:
            self._raw = np.empty(size + self.ALIGN, np.uint8)
        offset = -self._raw.ctypes.data % self.ALIGN
        return self._raw[offset : offset + size].view(np.float32).reshape(shape)

    def run(self, fn: Callable[[tf.Tensor], tf.Tensor], x: np.ndarray, rows: int | None = None) -> np.ndarray:
        """``fn(x)`` as a NumPy array, with ``x`` cast to float32 and its first axis padded to ``rows`` by
        repeating the last row (so a compiled ``fn`` sees few batch sizes)."""
        rows = len(x) if rows is None else rows
        if rows < len(x) or (len(x) == 0 and rows > 0):
            raise ValueError(f"cannot pad {len(x)} rows to {rows}")
        with self._lock:
            buffer = self._buffer((rows, *x.shape[1:]))
            np.copyto(buffer[: len(x)], x, casting="same_kind")
            buffer[len(x) :] = buffer[len(x) - 1 : len(x)]
            out = np.asarray(fn(tf.experimental.dlpack.from_dlpack(buffer.__dlpack__())))
            if np.may_share_memory(out, self._raw):
                out = out.copy()
            if self._raw.nbytes > self.KEEP_BYTES:
                self._raw = np.empty(0, np.uint8)
            return out


# ---------------------------------------------------------------- TensorFlow building blocks


def to_tanh_space(x: tf.Tensor, clip_min: float, clip_max: float, eps: float = 1e-6) -> tf.Tensor:
    """C&W change of variables: ``w = arctanh(2 (x - min) / (max - min) - 1)``.

    Inputs are clipped away from the box edges first, so that ``w`` is finite.
    """
    unit = (x - clip_min) / (clip_max - clip_min)
    return tf.atanh(tf.clip_by_value(unit * 2.0 - 1.0, -1.0 + eps, 1.0 - eps))


def from_tanh_space(w: tf.Tensor, clip_min: float, clip_max: float) -> tf.Tensor:
    """Inverse of :func:`to_tanh_space`: ``x = (tanh(w) + 1) / 2 * (max - min) + min``, always inside the box."""
    return (tf.tanh(w) + 1.0) / 2.0 * (clip_max - clip_min) + clip_min


def _per_sample(eps, x: tf.Tensor) -> tf.Tensor:
    """Broadcast a scalar or per-sample ``eps`` of shape ``(n,)`` against ``x``."""
    eps = tf.cast(eps, x.dtype)
    if eps.shape.rank == 1:
        eps = tf.reshape(eps, [-1] + [1] * (x.shape.rank - 1))
    return eps


def input_gradient(
    logits_fn: Callable[[tf.Tensor], tf.Tensor], x: tf.Tensor, y: tf.Tensor, targeted: bool = False
) -> tf.Tensor:
    """Gradient of the per-sample cross-entropy w.r.t. ``x`` (negated for targeted attacks)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.int32), logits=logits_fn(x))
    grad = tape.gradient(loss, x)
    return -grad if targeted else grad


def fgsm(
    logits_fn: Callable[[tf.Tensor], tf.Tensor],
    x: tf.Tensor,
    y: tf.Tensor,
    eps,
    clip_values: tuple[float, float] = (0.0, 1.0),
    targeted: bool = False,
) -> tf.Tensor:
    """One FGSM step ``clip(x + eps * sign(grad_x CE))``, with a scalar or per-sample ``eps`` of shape ``(n,)``.

    Pure TF: call it inside a ``tf.function`` (e.g. a training step) to generate adversarials in-graph.
    """
    grad = input_gradient(logits_fn, x, y, targeted)
    return tf.clip_by_value(x + _per_sample(eps, x) * tf.sign(grad), clip_values[0], clip_values[1])


def iterative_fgsm(
    logits_fn: Callable[[tf.Tensor], tf.Tensor],
    x: tf.Tensor,
    y: tf.Tensor,
    eps,
    steps: int,
    step_size=None,
    clip_values: tuple[float, float] = (0.0, 1.0),
    targeted: bool = False,
) -> tf.Tensor:
    """I-FGSM (BIM): ``steps`` FGSM steps of ``step_size`` (default ``eps / steps``), projected on the L-inf ball."""
    eps = _per_sample(eps, x)
    step = eps / steps if step_size is None else _per_sample(step_size, x)
    x_adv = x
    for _ in range(int(steps)):
        grad = input_gradient(logits_fn, x_adv, y, targeted)
        x_adv = tf.clip_by_value(x_adv + step * tf.sign(grad), x - eps, x + eps)
        x_adv = tf.clip_by_value(x_adv, clip_values[0], clip_values[1])
    return x_adv


def jsonable(value):
    """``value`` with NumPy arrays and scalars turned into lists and Python numbers (dict keys into strings), for
    ``json.dumps``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
