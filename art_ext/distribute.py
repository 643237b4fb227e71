"""``tf.distribute`` in every training loop: one GPU, several GPUs, several machines, TPUs.

Every component that trains or optimises takes ``strategy=None``. ``None`` is TensorFlow's default strategy
(one device, no overhead: exactly the behaviour without this module). A ``tf.distribute.Strategy`` such as
``MirroredStrategy`` (several GPUs of one machine), ``MultiWorkerMirroredStrategy`` (several machines, configured
by ``TF_CONFIG``) or ``TPUStrategy`` splits every global batch across its replicas, runs the step on each, and
sums the gradients, following TensorFlow's custom-training-loop guide:

* variables (networks, optimizer slots, random generators) are created inside ``strategy.scope()``; a
  ``tf.random.Generator`` made there draws a different stream on each replica, so per-sample random draws do
  not repeat across the replicas' shares of a batch;
* a step runs with ``strategy.run`` (:func:`distributed_step`);
* per-replica losses are scaled to the *global* batch (:func:`per_replica_mean`), so summing them over the
  replicas gives the global mean and the gradients match single-device training;
* batches come from a ``tf.data.Dataset`` distributed with :func:`distribute_batches`.

A user's Keras model must have been built inside the same ``strategy.scope()`` (the Keras way);
:func:`check_built_in_scope` says so clearly when it was not.

| TensorFlow guide: https://www.tensorflow.org/guide/distributed_training
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from art_ext.params import InstanceOf

__all__ = [
    "STRATEGY",
    "check_built_in_scope",
    "distribute_batches",
    "distributed_step",
    "is_distributed",
    "per_replica_mean",
    "replica_batches",
    "replica_mean",
    "resolve_strategy",
    "training_step",
]

#: Constraint for a ``strategy`` parameter: ``"strategy": [None, STRATEGY]`` in ``_parameter_constraints``.
STRATEGY = InstanceOf(tf.distribute.Strategy)


def resolve_strategy(strategy: tf.distribute.Strategy | None) -> tf.distribute.Strategy:
    """The strategy to train under: ``strategy`` itself, or TensorFlow's default (one device) for ``None``."""
    return tf.distribute.get_strategy() if strategy is None else strategy


def is_distributed(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether ``strategy`` is a real distribution strategy (not ``None`` or TensorFlow's default one)."""
    return strategy is not None and type(strategy).__name__ != "_DefaultDistributionStrategy"


def check_built_in_scope(
    strategy: tf.distribute.Strategy | None, variables: Iterable[tf.Variable], owner: str, what: str
) -> None:
    """Refuse ``variables`` that were created outside ``strategy.scope()``.

    A model built outside the scope has ordinary variables: ``strategy.run`` would either fail deep inside
    TensorFlow or silently train one copy. The error names the owner and says how to build it instead.

    :param strategy: The strategy the component trains under (``None``: nothing to check).
    :param variables: The variables to check, e.g. ``classifier.model.variables``.
    :param owner: Who checks (the class name), for the message.
    :param what: What holds the variables (``"classifier.model"``), for the message.
    :raises ValueError: If a variable was not created in ``strategy.scope()``.
    """
    if not is_distributed(strategy):
        return
    outside = [v for v in variables if not strategy.extended.variable_created_in_scope(_tf_variable(v))]
    if outside:
        raise ValueError(
            f"{owner}: {what} was built outside strategy.scope() ({len(outside)} variable(s), e.g. "
            f"{outside[0].name!r}); build the Keras model (and wrap it for ART) inside `with strategy.scope():` "
            f"so its variables are mirrored across the {strategy.num_replicas_in_sync} replica(s), then pass "
            f"the same strategy"
        )


def _tf_variable(variable):
    """The TensorFlow variable behind a Keras 3 variable (which wraps it), or the variable itself."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def per_replica_mean(per_example: tf.Tensor, global_batch_size: tf.Tensor | int) -> tf.Tensor:
    """The loss of one replica scaled to the global batch: ``sum(per_example) / global_batch_size``.

    Summed over the replicas this is the mean over the whole batch, so gradients (which the strategy sums) equal
    those of single-device training. With one replica it is the plain mean.
    """
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)


def replica_mean(per_example: tf.Tensor) -> tf.Tensor:
    """Inside a step: :func:`per_replica_mean` with the global batch size summed over the replicas (exact also when
    the last batch splits unevenly); with one replica (no strategy) simply the mean, today's single-device loss."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.reduce_mean(per_example)
    size = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.shape(per_example)[0])
    return per_replica_mean(per_example, size)


def distributed_step(
    strategy: tf.distribute.Strategy | None,
    replica_fn: Callable,
    input_signature: list | None = None,
    reduce_retracing: bool = True,
) -> Callable:
    """A compiled step that runs ``replica_fn`` on every replica and returns its results summed over them.

    ``replica_fn(*args)`` sees the replica's share of each argument; return losses and metrics scaled with
    :func:`per_replica_mean` so the sum is the global mean. With the default strategy the step is simply
    ``tf.function(replica_fn)`` (no distribution overhead).

    :param strategy: The strategy (``None``: default).
    :param replica_fn: The per-replica step (forward, loss, ``optimizer.apply_gradients``).
    :param input_signature: Optional ``tf.function`` input signature (for a distributed strategy, its inputs
        are distributed values: leave it ``None``).
    :param reduce_retracing: Passed to ``tf.function``.
    :return: ``step(*args)`` -> ``replica_fn``'s (nested) result, SUM-reduced over replicas.
    """
    if not is_distributed(strategy):
        return tf.function(replica_fn, input_signature=input_signature, reduce_retracing=reduce_retracing)

    def step(*args):
        results = strategy.run(replica_fn, args=args)
        return tf.nest.map_structure(lambda r: strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None), results)

    return tf.function(step, reduce_retracing=reduce_retracing)


def training_step(
    strategy: tf.distribute.Strategy | None,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    loss: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
) -> Callable:
    """A compiled supervised training step ``step(x, y) -> loss`` of ``model`` under ``strategy``, for own loops.

    Each replica's loss is scaled to the global batch (:func:`replica_mean`) and the strategy sums the gradients,
    so the update equals single-device training on the global batch: the step art-ext's trainers take, without
    their method. Feed it batches from :func:`distribute_batches`.

    :param strategy: The strategy (``None``: one device); ``model`` and ``optimizer`` built in its ``scope()``.
    :param model: The Keras model to train (called with ``training=True``).
    :param optimizer: Its optimiser.
    :param loss: ``loss(y, outputs)`` per example (``reduction="none"``); default sparse categorical cross-entropy on
        logits.
    :return: ``step(x, y)`` -> the global batch's mean loss.
    """
    loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            value = replica_mean(loss(y, model(x, training=True)))
        optimizer.apply_gradients(zip(tape.gradient(value, model.trainable_variables), model.trainable_variables))
        return value

    return distributed_step(strategy, replica_step)


def distribute_batches(strategy: tf.distribute.Strategy | None, dataset: tf.data.Dataset):
    """The batches of ``dataset`` as the strategy's replicas take them (the dataset itself without one).

    Each element of ``dataset`` is a *global* batch; a distributed strategy splits it across its replicas.
    """
    if not is_distributed(strategy):
        return dataset
    return strategy.experimental_distribute_dataset(dataset)


def replica_batches(strategy: tf.distribute.Strategy | None, *arrays) -> tuple:
    """One global batch of NumPy arrays (the same length) as the strategy's replicas take it: each replica gets a
    contiguous share (``np.array_split`` order), as per-replica values for :func:`distributed_step`. Without a
    distributed strategy the arrays themselves.

    For host-side batches (made by NumPy code, e.g. adversarial pairs) where a ``tf.data`` pipeline is not the
    natural source; every worker must hold the same global batch (same data and seed), as with a dataset.
    """
    if not is_distributed(strategy):
        return arrays

    def value_fn(context: tf.distribute.experimental.ValueContext) -> tuple:
        shares = [np.array_split(a, context.num_replicas_in_sync)[context.replica_id_in_sync_group] for a in arrays]
        return tuple(tf.constant(share) for share in shares)

    return tuple(strategy.experimental_distribute_values_from_function(value_fn))
