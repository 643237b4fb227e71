"""GNR: the WGAN-GP noise reconstruction of Li & Wang (2018), Sec. 2.

A generator learns the distribution of real adversarial noise ``x_adv - x`` with the
Wasserstein loss and gradient penalty (Eq. 1-3); new noise sampled from it augments the
training pairs of :class:`~art_ext.defences.preprocessor.UDDN` (``fit(..., gnr=gnr, gnr_ratio=2)``).

Architecture (Fig. 1): the generator maps a random vector through a dense layer to a
``ceil(H/8) x ceil(W/8)`` map and three *DeconvUnits* (a 5x5 stride-2 transposed convolution and
three 5x5 convolutions, each with batch normalisation and ReLU, the convolutions with a residual
connection) of widths 256, 128, 64, then a 1x1 convolution with ``tanh`` scaled to the largest
noise value seen in training, cropped to ``H x W``. The critic has three *ConvUnits* (5x5 stride-2
convolution, normalisation, LeakyReLU) of widths 64, 128, 256 and a linear output. The paper puts
batch normalisation in the critic; the gradient penalty is per sample, which batch normalisation
breaks (Gulrajani et al. 2017), so the critic uses layer normalisation instead.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from tqdm.auto import tqdm

from art_ext.distribute import STRATEGY, distributed_step, per_replica_mean, replica_batches, resolve_strategy
from art_ext.params import (
    BOOL,
    NON_NEGATIVE_INT,
    NON_NEGATIVE_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    SEED,
    Pair,
    ValidatedParams,
    seeded,
    validate_params,
)
from art_ext.persistence import load_keras, save_keras
from art_ext.utils import batches, check_inputs

#: Floor of the noise scale, so that all-zero training noise still gives a usable (tiny) scale.
_MIN_SCALE = 1e-6
#: Added under the square root of the gradient norm of the penalty (its gradient is infinite at 0).
_NORM_EPS = 1e-12
#: The parameters that define the two networks: fixed once they are fitted.
_NETWORK_PARAMS = ("latent_dim", "generator_widths", "critic_widths")


def build_generator(shape: tuple[int, int, int], latent_dim: int, widths: tuple[int, int, int]) -> keras.Model:
    """Fig. 1 generator: ``(n, latent_dim)`` -> ``(n, *shape)`` noise in ``[-1, 1]`` (before scaling)."""
    h, w, c = shape
    h0, w0 = -(-h // 8), -(-w // 8)
    z = keras.Input((latent_dim,))
    x = layers.Dense(h0 * w0 * widths[0], use_bias=False)(z)
    x = layers.ReLU()(layers.BatchNormalization()(layers.Reshape((h0, w0, widths[0]))(x)))
    for width in widths:
        x = layers.Conv2DTranspose(width, 5, strides=2, padding="same", use_bias=False)(x)
        x = skip = layers.ReLU()(layers.BatchNormalization()(x))
        for _ in range(3):
            x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(width, 5, padding="same", use_bias=False)(x)))
        x = layers.Add()([x, skip])
    x = layers.Conv2D(c, 1, activation="tanh")(x)
    x = layers.Cropping2D(((0, 8 * h0 - h), (0, 8 * w0 - w)))(x)
    return keras.Model(z, x, name="gnr_generator")


def build_critic(shape: tuple[int, int, int], widths: tuple[int, int, int]) -> keras.Model:
    """Fig. 1 discriminator (critic): three ConvUnits and a linear score."""
    inputs = keras.Input(shape)
    x = inputs
    for width in widths:
        x = layers.Conv2D(width, 5, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(layers.LayerNormalization(axis=[1, 2, 3])(x))
    return keras.Model(inputs, layers.Dense(1)(layers.Flatten()(x)), name="gnr_critic")


class GNR(ValidatedParams):
    """
    Generative noise reconstruction: a WGAN-GP trained on real adversarial noise ``x_adv - x``.

    | Paper link: Li, F., Wang, Y., Applied Sciences 9(1):76 (2019), https://doi.org/10.3390/app9010076 ,
      Sec. 2 (Eq. 1-3, Fig. 1); WGAN-GP: Gulrajani et al. (2017), https://arxiv.org/abs/1704.00028 .

    Training follows WGAN-GP's defaults (the paper gives none): ``n_critic=5`` critic steps per
    generator step, penalty weight ``lambda=10``, Adam(1e-4, beta_1=0, beta_2=0.9).
    """

    params = [
        "latent_dim",
        "generator_widths",
        "critic_widths",
        "gp_weight",
        "n_critic",
        "learning_rate",
        "batch_size",
        "seed",
        "verbose",
        "strategy",
    ]
    _parameter_constraints = {
        "latent_dim": [POSITIVE_INT],
        "generator_widths": [Pair(POSITIVE_INT, length=3)],
        "critic_widths": [Pair(POSITIVE_INT, length=3)],
        "gp_weight": [NON_NEGATIVE_REAL],
        "n_critic": [POSITIVE_INT],
        "learning_rate": [POSITIVE_REAL],
        "batch_size": [POSITIVE_INT],
        "seed": [None, SEED],
        "verbose": [BOOL],
        "strategy": [None, STRATEGY],
    }

    def __init__(
        self,
        latent_dim: int = 100,
        generator_widths: tuple[int, int, int] = (256, 128, 64),
        critic_widths: tuple[int, int, int] = (64, 128, 256),
        gp_weight: float = 10.0,
        n_critic: int = 5,
        learning_rate: float = 1e-4,
        batch_size: int = 64,
        seed: int | None = None,
        verbose: bool = False,
        strategy: tf.distribute.Strategy | None = None,
    ) -> None:
        """
        :param latent_dim: Size of the generator's random input.
        :param generator_widths: Widths of the three DeconvUnits (paper 256, 128, 64).
        :param critic_widths: Widths of the three ConvUnits (paper 64, 128, 256).
        :param gp_weight: Gradient penalty weight ``lambda`` of Eq. 3.
        :param n_critic: Critic steps per generator step.
        :param learning_rate: Adam learning rate of both networks.
        :param batch_size: Batch size (of training and of :meth:`sample`).
        :param seed: Seed of the initialisation, the training noise and the shuffling (local: the global random
               state is not touched).
        :param verbose: Show a progress bar in :meth:`fit`.
        :param strategy: A ``tf.distribute.Strategy`` to train under (e.g. ``MirroredStrategy`` over several GPUs):
               the networks, their optimizers and the random generator are created in ``strategy.scope()`` (each
               replica draws its own latent vectors), every batch is split across the replicas and the losses are
               scaled to the global batch. ``None``: no distribution (TensorFlow's default strategy).
        :raises ValueError: If a parameter is invalid.
        """
        self.latent_dim = latent_dim
        self.generator_widths = generator_widths
        self.critic_widths = critic_widths
        self.gp_weight = gp_weight
        self.n_critic = n_critic
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.seed = seed
        self.verbose = verbose
        self.strategy = strategy
        self._check_params()
        self.generator_: keras.Model | None = None
        self.critic_: keras.Model | None = None
        self.scale_: float | None = None
        self.history_: list[dict[str, float]] = []

    def fit(self, noise: np.ndarray, nb_epochs: int = 20) -> GNR:
        """
        Train the WGAN-GP on real noise samples.

        :param noise: Real adversarial noise ``x_adv - x``, shape ``(n, H, W, C)``.
        :param nb_epochs: Passes over the noise (each batch: ``n_critic`` critic steps, one generator step).
        :return: self.
        :raises ValueError: Bad noise array or epoch count.
        """
        noise = check_inputs(noise, "noise", min_samples=2)
        if noise.ndim != 4:
            raise ValueError(f"noise must have shape (n, H, W, C), got {noise.shape}")
        validate_params({"nb_epochs": [POSITIVE_INT]}, {"nb_epochs": nb_epochs}, "GNR.fit")
        rng = np.random.default_rng(self.seed)
        self.scale_ = float(max(np.abs(noise).max(), _MIN_SCALE))
        shape = tuple(int(s) for s in noise.shape[1:])
        with resolve_strategy(self.strategy).scope():
            # in-graph draws (latent vectors, penalty interpolation) from a local generator, never the global TF seed;
            # made in the scope, it gives every replica its own stream
            draws = (
                tf.random.Generator.from_seed(int(self.seed))
                if self.seed is not None
                else tf.random.Generator.from_non_deterministic_state()
            )
            with seeded(self.seed):
                gen = build_generator(shape, self.latent_dim, self.generator_widths)
                critic = build_critic(shape, self.critic_widths)
            g_opt = keras.optimizers.Adam(self.learning_rate, beta_1=0.0, beta_2=0.9)
            c_opt = keras.optimizers.Adam(self.learning_rate, beta_1=0.0, beta_2=0.9)
            g_opt.build(gen.trainable_variables)  # slots now, in the scope (not inside a replica's step)
            c_opt.build(critic.trainable_variables)
        self.generator_, self.critic_ = gen, critic
        scale, gp_weight, latent_dim = self.scale_, float(self.gp_weight), self.latent_dim

        def critic_replica(real, global_batch):
            n = tf.shape(real)[0]
            fake = scale * gen(draws.normal([n, latent_dim]), training=True)
            alpha = draws.uniform([n, 1, 1, 1])
            between = alpha * real + (1.0 - alpha) * fake
            with tf.GradientTape() as tape:
                with tf.GradientTape() as gp_tape:
                    gp_tape.watch(between)
                    score_between = critic(between, training=True)
                grad = gp_tape.gradient(score_between, between)
                norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]) + _NORM_EPS)
                penalty = per_replica_mean(tf.square(norm - 1.0), global_batch)
                per_example = critic(real, training=True)[:, 0] - critic(fake, training=True)[:, 0]
                wasserstein = per_replica_mean(per_example, global_batch)
                loss = -wasserstein + gp_weight * penalty  # Eq. 3, minimised by the critic
            c_opt.apply_gradients(zip(tape.gradient(loss, critic.trainable_variables), critic.trainable_variables))
            return wasserstein

        def generator_replica(global_batch):
            # each replica makes its share of the global batch of fakes
            n = global_batch // tf.distribute.get_replica_context().num_replicas_in_sync
            with tf.GradientTape() as tape:
                fake = scale * gen(draws.normal([n, latent_dim]), training=True)
                loss = per_replica_mean(-critic(fake, training=True)[:, 0], global_batch)
            g_opt.apply_gradients(zip(tape.gradient(loss, gen.trainable_variables), gen.trainable_variables))
            return loss

        n_spec = tf.TensorSpec([], tf.int32)
        critic_step = distributed_step(
            self.strategy, critic_replica, input_signature=[tf.TensorSpec([None, *shape], tf.float32), n_spec]
        )
        generator_step = distributed_step(self.strategy, generator_replica, input_signature=[n_spec])

        real_all = noise.astype(np.float32)
        for epoch in tqdm(range(int(nb_epochs)), desc="GNR", disable=not self.verbose):
            order = rng.permutation(len(real_all))
            distances = []
            for i, s in enumerate(batches(len(order), self.batch_size)):
                real = real_all[np.sort(order[s])]
                distances.append(float(critic_step(*replica_batches(self.strategy, real), tf.constant(len(real)))))
                if (i + 1) % self.n_critic == 0:
                    generator_step(tf.constant(self.batch_size))
            self.history_.append({"epoch": epoch, "wasserstein": float(np.mean(distances))})
        self._fitted_for = tuple(getattr(self, name) for name in _NETWORK_PARAMS)
        return self

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """
        Sample ``n`` noise images from the trained generator.

        :param n: Number of samples.
        :param seed: Seed of the latent vectors.
        :return: Noise of shape ``(n, H, W, C)`` within ``[-scale_, scale_]``.
        :raises ValueError: If the GNR is not fitted or ``n`` is negative.
        """
        if self.generator_ is None:
            raise ValueError("the GNR is not fitted; call fit(noise) first")
        validate_params({"n": [NON_NEGATIVE_INT], "seed": [None, SEED]}, {"n": n, "seed": seed}, "GNR.sample")
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)
        out = [self.scale_ * self.generator_(z[s], training=False).numpy() for s in batches(n, self.batch_size)]
        shape = tuple(self.generator_.output_shape[1:])
        return np.concatenate(out) if out else np.zeros((0, *shape), np.float32)

    def _check_param_relations(self) -> None:
        self.generator_widths = tuple(int(w) for w in self.generator_widths)
        self.critic_widths = tuple(int(w) for w in self.critic_widths)

    def _params_changed(self, changed: set[str]) -> None:
        fitted_for = getattr(self, "_fitted_for", None)
        current = tuple(getattr(self, name) for name in _NETWORK_PARAMS)
        if self.generator_ is not None and fitted_for is not None and current != fitted_for:
            names = [n for n, new, old in zip(_NETWORK_PARAMS, current, fitted_for) if new != old]
            raise ValueError(
                f"GNR: cannot change {names} of a fitted GNR (its networks were trained with them); "
                f"create a new GNR instead"
            )

    # ------------------------------------------------------------------ persistence

    def get_config(self) -> dict:
        """The constructor arguments (JSON-serialisable)."""
        return {
            "latent_dim": int(self.latent_dim),
            "generator_widths": list(self.generator_widths),
            "critic_widths": list(self.critic_widths),
            "gp_weight": float(self.gp_weight),
            "n_critic": int(self.n_critic),
            "learning_rate": float(self.learning_rate),
            "batch_size": int(self.batch_size),
            "seed": self.seed,
            "verbose": self.verbose,
        }

    def save(self, path: str) -> None:
        """
        Save the fitted generator and critic with this configuration to a ``.keras`` file tagged as an art-ext GNR
        (atomically; the generator is the archive's main model, so the file also opens in plain Keras).

        :param path: Destination; must end in ``.keras``.
        :raises ValueError: If the GNR is not fitted, or ``path`` does not end in ``.keras`` or cannot be written.
        """
        if self.generator_ is None:
            raise ValueError("the GNR is not fitted; call fit(noise) first")
        save_keras(
            path,
            self.generator_,
            "GNR",
            {**self.get_config(), "scale": self.scale_, "history": self.history_},
            extra_models={"critic": self.critic_},
        )

    @classmethod
    def load(cls, path: str) -> GNR:
        """
        Load a GNR written by :meth:`save` (Keras ``safe_mode``).

        :param path: The ``.keras`` file.
        :return: The fitted GNR.
        :raises ValueError: If the file is missing or not an art-ext GNR file.
        """
        generator, config, extras = load_keras(path, "GNR")
        try:
            scale, history = float(config.pop("scale")), list(config.pop("history"))
            gnr = cls(**config)
            critic = extras["critic"]
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not an art-ext GNR file: {path} (invalid configuration: {err})") from err
        gnr.generator_, gnr.critic_, gnr.scale_, gnr.history_ = generator, critic, scale, history
        gnr._fitted_for = tuple(getattr(gnr, name) for name in _NETWORK_PARAMS)
        return gnr


__all__ = ["GNR", "build_critic", "build_generator"]
