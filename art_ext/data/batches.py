"""Training batches from NumPy arrays, a ``tf.data.Dataset`` or an ART ``DataGenerator``: one loop for all three.

Every trainer takes data the three ways ART and Keras users hold it:

* NumPy arrays ``fit(x, y)``, validated whole before any work and shuffled every epoch under the seed;
* a ``tf.data.Dataset`` of ``(x, y)`` batches, passed as ``fit(dataset)`` with ``y=None`` (the Keras
  convention), for data larger than memory; its element spec is checked up front, each batch as it comes;
* an ART ``DataGenerator`` (``fit_generator(generator)``, ART's convention): ``ceil(size / batch_size)``
  batches of ``get_batch()`` per epoch, each validated as it comes.

:class:`TrainingBatches` yields epochs of validated ``(x, y)`` batches (:meth:`~TrainingBatches.epoch`) or a
``tf.data.Dataset`` of them (:meth:`~TrainingBatches.dataset`, for
:func:`~art_ext.distribute.distribute_batches`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import tensorflow as tf

from art_ext.distribute import distribute_batches
from art_ext.utils import batches, check_finite_tensor, check_inputs, check_labels

__all__ = ["TrainingBatches", "training_batches"]

LabelCheck = Callable[[object, int, str], np.ndarray]


def _is_data_generator(source) -> bool:
    return callable(getattr(source, "get_batch", None)) and hasattr(source, "size") and hasattr(source, "batch_size")


class TrainingBatches:
    """Epochs of validated ``(x, y)`` training batches; build it with :func:`training_batches`.

    :ivar steps_per_epoch: Batches per epoch (``None`` for a dataset of unknown length).
    :ivar kind: ``"arrays"``, ``"dataset"`` or ``"generator"``.
    """

    def __init__(self, kind: str, epoch_fn: Callable[[], Iterator], steps_per_epoch: int | None, signature):
        self.kind = kind
        self._epoch_fn = epoch_fn
        self.steps_per_epoch = steps_per_epoch
        self._signature = signature

    def epoch(self) -> Iterator[tuple]:
        """One pass over the data: validated ``(x, y)`` batches (x float32; y as the label check returns it)."""
        return self._epoch_fn()

    def dataset(self) -> tf.data.Dataset:
        """One epoch of the batches as a ``tf.data.Dataset`` (each element a global batch)."""
        return tf.data.Dataset.from_generator(self.epoch, output_signature=self._signature)

    def epoch_for(self, strategy: tf.distribute.Strategy | None) -> Iterable:
        """One epoch as the strategy's replicas take it, for a step made by
        :func:`~art_ext.distribute.distributed_step`: the batches themselves for one replica (no strategy, or a
        strategy over one device: no ``tf.data`` overhead), else the dataset distributed across the replicas."""
        if strategy is None or strategy.num_replicas_in_sync == 1:
            return self.epoch()
        return distribute_batches(strategy, self.dataset())


def training_batches(
    x,
    y=None,
    *,
    batch_size: int | None,
    input_shape: tuple[int, ...],
    nb_classes: int,
    clip_values=None,
    seed: int | np.random.Generator | None = None,
    check_y: LabelCheck | None = None,
    label_spec: tf.TensorSpec | None = None,
    owner: str = "fit",
    min_samples: int = 1,
) -> TrainingBatches:
    """Validate a training source and return its epochs of batches (see the module docstring).

    :param x: NumPy inputs, a ``tf.data.Dataset`` of ``(x, y)`` batches (then ``y`` must be ``None``), or an ART
        ``DataGenerator`` (then ``y`` must be ``None``).
    :param y: Labels for NumPy ``x``.
    :param batch_size: Batch size for NumPy ``x`` (a dataset or generator brings its own).
    :param input_shape: Shape of one input, checked for every source.
    :param nb_classes: Number of classes, for the default label check.
    :param clip_values: If given, inputs must lie within it.
    :param seed: Seed (or NumPy generator) of the per-epoch shuffle of NumPy ``x``.
    :param check_y: ``check_y(y, n, name) -> labels``; default :func:`~art_ext.utils.check_labels` over
        ``nb_classes`` (class indices returned as int64).
    :param label_spec: What ``check_y`` returns per batch, for :meth:`TrainingBatches.dataset`; default int64
        class indices ``(batch,)``.
    :param owner: The calling method, for messages (``"TwoNLabelingTrainer.fit"``).
    :param min_samples: Minimum number of NumPy samples.
    :return: The batches.
    :raises ValueError: Before any work, for a bad source, shape, labels or a missing/extra ``y``; for a bad
        dataset or generator batch, when that batch comes.
    """
    input_shape = tuple(int(d) for d in input_shape)
    if check_y is None:

        def check_y(labels, n, name):
            return check_labels(labels, n, nb_classes, name)

    signature = (_spec(input_shape), label_spec or tf.TensorSpec((None,), tf.int64))
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ValueError(f"{owner}: y must be None when x is a tf.data.Dataset (it yields (x, y) batches)")
        return _from_dataset(x, input_shape, clip_values, check_y, owner, signature)
    if _is_data_generator(x):
        if y is not None:
            raise ValueError(f"{owner}: y must be None when x is an ART DataGenerator (it yields (x, y) batches)")
        return _from_generator(x, input_shape, clip_values, check_y, owner, signature)
    if batch_size is None or isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"{owner}: batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"{owner}: batch_size must be a positive integer, got {batch_size!r}")
    x = check_inputs(x, "x", clip_values, input_shape, min_samples=min_samples)
    y = check_y(y, len(x), "y")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    def epoch():
        order = rng.permutation(len(x))
        for s in batches(len(x), int(batch_size)):
            idx = np.sort(order[s])  # sorted gather: contiguous reads, same batch content
            yield x[idx], y[idx]

    return TrainingBatches("arrays", epoch, -(-len(x) // int(batch_size)), signature)


def _spec(input_shape):
    return tf.TensorSpec((None, *input_shape), tf.float32)


def _from_dataset(dataset, input_shape, clip_values, check_y, owner, signature) -> TrainingBatches:
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2 or not all(isinstance(s, tf.TensorSpec) for s in spec):
        raise ValueError(f"{owner}: a tf.data.Dataset x must yield (x, y) tuples of tensors, got element spec {spec}")
    x_spec = spec[0]
    if x_spec.shape.rank is not None and (
        x_spec.shape.rank != len(input_shape) + 1
        or any(d is not None and d != e for d, e in zip(x_spec.shape[1:], input_shape, strict=True))
    ):
        raise ValueError(
            f"{owner}: the dataset must yield batches of inputs of shape (batch, {', '.join(map(str, input_shape))})"
            f", got {tuple(x_spec.shape)}; batch it with dataset.batch(batch_size)"
        )
    if not (x_spec.dtype.is_floating or x_spec.dtype.is_integer):
        raise ValueError(f"{owner}: the dataset's inputs must be numeric, got {x_spec.dtype.name}")
    cardinality = int(dataset.cardinality())
    steps = cardinality if cardinality >= 0 else None
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise ValueError(f"{owner}: the dataset is infinite; an epoch needs a finite dataset (drop .repeat())")

    def epoch():
        for xb, yb in dataset:
            xb = check_finite_tensor(tf.cast(xb, tf.float32), "dataset batch x", clip_values)
            yield xb, check_y(yb.numpy(), int(tf.shape(xb)[0]), "dataset batch y")

    return TrainingBatches("dataset", epoch, steps, signature)


def _from_generator(generator, input_shape, clip_values, check_y, owner, signature) -> TrainingBatches:
    size, batch_size = generator.size, generator.batch_size
    for name, value in (("size", size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{owner}: generator.{name} must be a positive integer, got {value!r}")
    steps = -(-int(size) // int(batch_size))

    def epoch():
        for _ in range(steps):
            xb, yb = generator.get_batch()
            xb = check_inputs(xb, "generator batch x", clip_values, input_shape)
            yield xb, check_y(yb, len(xb), "generator batch y")

    return TrainingBatches("generator", epoch, steps, signature)
