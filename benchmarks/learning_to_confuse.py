"""Speed of LearningToConfuse: a generator-training step vs a plain victim training step.

The generator step differentiates through an unrolled victim update (a second-order gradient), so it
costs at least ~3 victim steps (forward + backward through the victim, then backward through that
backward, plus the generator's forward/backward). Compared, in one run, on the same batches:

* ART ``TensorFlowV2Classifier.fit`` step of the victim (what a user trains the victim with),
* LearningToConfuse's generator step alone, the fit's per-batch step (the generator step with the victim's step in
  the same compiled function) against the two as separate calls, and a whole ``fit`` round per batch,
* the generator network's own forward, backward and Adam step (no victim): the part of the generator step that is
  not the unrolled victim, so that ``generator - generator net`` is the second-order victim part.

Run: ``python benchmarks/learning_to_confuse.py`` (embedded MNIST, no files needed).
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf
from _timing import best_times

from art_ext.attacks.poisoning import LearningToConfuse
from art_ext.data import load_dataset
from art_ext.estimators import wrap
from art_ext.models import get_model
from art_ext.models.generators import default_generator

BATCH, STEPS, REPEATS, ROUNDS = 64, 30, 3, 5


def main() -> None:
    x, y = load_dataset("mnist", "train", source="embedded")
    x, y = x[: BATCH * STEPS], y[: BATCH * STEPS]
    keras.utils.set_random_seed(0)
    rows = []
    for name in ("deepconfuse_victim", "simple_cnn"):
        classifier = wrap(get_model(name, x.shape[1:], 10), optimizer=keras.optimizers.SGD(0.01))
        attack = LearningToConfuse(eps=0.3, surrogate=name, verbose=False)
        victim, generator = get_model(name, x.shape[1:], 10), default_generator(x.shape[1:])  # what fit uses
        frozen = keras.models.clone_model(generator)
        strategy = tf.distribute.get_strategy()
        optimizer, victim_optimizer = keras.optimizers.Adam(1e-3), keras.optimizers.SGD(0.01)
        optimizer.build(generator.trainable_variables)
        victim_optimizer.build(victim.trainable_variables)
        logits = attack._logits_fn(name)
        generator_step = attack._build_generator_step(strategy, victim, logits, generator, optimizer, BATCH)
        victim_step, victim_replica, _ = attack._build_steps(strategy, victim, logits, frozen, victim_optimizer, BATCH)
        fused_step = attack._build_generator_step(  # what fit runs per batch
            strategy, victim, logits, generator, optimizer, BATCH, then=victim_replica
        )

        @tf.function
        def generator_alone(xb, generator=generator, optimizer=optimizer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(generator(xb, training=True)))
            variables = generator.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

        batches = [
            (tf.constant(x[i : i + BATCH]), tf.constant(y[i : i + BATCH].astype(np.int32)))
            for i in range(0, len(x), BATCH)
        ]
        # Taking turns within each repeat, so a slow spell of the shared machine hits all three alike.
        art_fit, gen_only, victim_only, gen_net, fused, separate = best_times(
            [
                lambda: classifier.fit(x, y, batch_size=BATCH, nb_epochs=1, verbose=False),  # noqa: B023
                lambda: [generator_step(xb, yb, xb, yb, yb) for xb, yb in batches],  # noqa: B023
                lambda: [victim_step(xb, yb) for xb, yb in batches],  # noqa: B023
                lambda: [generator_alone(xb) for xb, _ in batches],  # noqa: B023
                lambda: [float(fused_step(xb, yb, xb, yb, yb)) for xb, yb in batches],  # noqa: B023
                lambda: [(float(generator_step(xb, yb, xb, yb, yb)), victim_step(xb, yb)) for xb, yb in batches],  # noqa: B023
            ],
            REPEATS,
        )
        # A whole fit of ROUNDS rounds per batch: both steps, plus tracing and per-round resets, amortised.
        start = time.perf_counter()
        attack.fit(x, y, nb_epochs=ROUNDS, batch_size=BATCH, validation_split=0)
        fit_round = (time.perf_counter() - start) / ROUNDS
        ms = lambda t: 1000 * t / STEPS  # noqa: E731
        rows.append(
            (
                name,
                ms(art_fit),
                ms(victim_only),
                ms(gen_only),
                ms(fit_round),
                gen_only / art_fit,
                fit_round / art_fit,
                ms(gen_net),
                (gen_only - gen_net) / art_fit,
                ms(fused),
                ms(separate),
            )
        )
    print(
        f"\nper-batch times (ms), batch {BATCH}, best of {REPEATS} x {STEPS} steps "
        f"(fit: {ROUNDS} rounds of {STEPS} batches, tracing included)"
    )
    print(
        f"{'victim':20s} {'ART fit step':>12s} {'our victim':>11s} {'generator':>10s} {'fit round':>10s} "
        f"{'gen/ART':>8s} {'fit/ART':>8s} {'gen net':>8s} {'(gen-net)/ART':>14s} {'fused step':>11s} "
        f"{'two calls':>10s}"
    )
    for r in rows:
        print(
            f"{r[0]:20s} {r[1]:12.1f} {r[2]:11.1f} {r[3]:10.1f} {r[4]:10.1f} {r[5]:7.2f}x {r[6]:7.2f}x "
            f"{r[7]:8.1f} {r[8]:13.2f}x {r[9]:11.1f} {r[10]:10.1f}"
        )


if __name__ == "__main__":
    main()
