import keras
import numpy as np
import pytest

from art_ext.models import get_model, list_models

MNIST_MODELS = [
    "kwon_d1",
    "kwon_d2",
    "kwon_d3",
    "kwon_d4",
    "kwon_d5",
    "kwon_du1",
    "kwon_du2",
    "deepconfuse_victim",
    "simple_cnn",
    "simple_mlp",
]
CIFAR_MODELS = [f"kwon_cifar_{v}" for v in ("d1", "d2", "d3", "d4", "d5", "du1", "du2")] + [
    "vgg19_bn",
    "vgg16_bn",
    "vgg11_bn",
    "vgg_small",
]


GENERATORS = ["deepconfuse_autoencoder", "deepconfuse_unet", "deepconfuse_mnist_autoencoder"]


def test_every_model_is_listed():
    assert set(MNIST_MODELS + CIFAR_MODELS + GENERATORS) == set(list_models())


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_generators_output_tanh_noise_of_the_input_shape(name, shape):
    if name == "deepconfuse_mnist_autoencoder":
        shape = (28, 28, shape[2])  # the authors' layout is for 28x28 only
    out = get_model(name, shape, 10)(np.random.default_rng(0).random((2, *shape), dtype=np.float32), training=False)
    assert out.shape == (2, *shape)
    assert float(np.abs(out).max()) <= 1.0


def test_authors_mnist_autoencoder_has_their_bottleneck_and_refuses_other_sizes():
    model = get_model("deepconfuse_mnist_autoencoder", (28, 28, 1), 10)
    assert min(tuple(layer.output.shape[1:]) for layer in model.layers) == (2, 2, 64)
    with pytest.raises(ValueError, match="28x28"):
        get_model("deepconfuse_mnist_autoencoder", (32, 32, 3), 10)


@pytest.mark.parametrize("name", MNIST_MODELS)
def test_mnist_models_output_logits(name):
    model = get_model(name, (28, 28, 1), 10)
    out = model(np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32), training=False)
    assert out.shape == (3, 10)
    assert model.layers[-1].activation is keras.activations.linear  # logits, not probabilities


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_cifar_models_build_at_reduced_width(name):
    model = get_model(name, (32, 32, 3), 10, width_scale=1 / 16)
    assert model.output_shape == (None, 10)


def test_paper_widths_and_depths():
    # VGG-19 has 16 convolutions; Kwon's CIFAR D1 is VGG-19's first four blocks (12 convs) + 2 FC of 4096
    count = lambda m, cls: sum(isinstance(layer, cls) for layer in m.layers)  # noqa: E731
    assert count(get_model("vgg19_bn", (32, 32, 3), 10), keras.layers.Conv2D) == 16
    assert count(get_model("vgg19_bn", (32, 32, 3), 10), keras.layers.BatchNormalization) == 16
    d1 = get_model("kwon_cifar_d1", (32, 32, 3), 10)
    assert count(d1, keras.layers.Conv2D) == 12
    assert [layer.units for layer in d1.layers if isinstance(layer, keras.layers.Dense)] == [4096, 4096, 10]
    mnist_d1 = get_model("kwon_d1", (28, 28, 1), 10)
    assert [layer.units for layer in mnist_d1.layers if isinstance(layer, keras.layers.Dense)] == [
        512,
        512,
        512,
        200,
        10,
    ]
    victim = get_model("deepconfuse_victim", (28, 28, 1), 10)
    assert [layer.filters for layer in victim.layers if isinstance(layer, keras.layers.Conv2D)] == [20, 50]
    authors = get_model("deepconfuse_victim", (28, 28, 1), 10, pooling="average", logits_batch_norm=True)
    assert count(authors, keras.layers.AveragePooling2D) == 2 and count(authors, keras.layers.MaxPooling2D) == 0
    assert isinstance(authors.layers[-1], keras.layers.BatchNormalization) and authors.output_shape == (None, 10)
    with pytest.raises(ValueError, match="pooling"):
        get_model("deepconfuse_victim", (28, 28, 1), 10, pooling="min")
    assert get_model("simple_cnn", (28, 28, 1), 10).count_params() < 20_000


def test_a_model_trains_in_a_few_steps(mnist_small):
    (x, y), _ = mnist_small
    keras.utils.set_random_seed(1)
    model = get_model("simple_mlp", (28, 28, 1), 10)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=3, batch_size=50, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before


@pytest.mark.parametrize(
    "args, match",
    [
        (("resnet", (28, 28, 1), 10), "unknown model"),
        (("kwon_d1", (28, 28), 10), "input_shape"),
        (("kwon_d1", (28, 28, 1), 1), "nb_classes"),
        (("deepconfuse_victim", (8, 8, 1), 10), "at least"),
    ],
)
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        get_model(*args)


def test_vgg_rejects_unknown_depth():
    with pytest.raises(ValueError, match="depth"):
        get_model("vgg_small", (32, 32, 3), 10, depth=13)


@pytest.mark.parametrize(
    "args, match",
    [
        (("ab", 10), "get_model: input_shape must be"),
        (((28, 28, 1), 1), "get_model: nb_classes must be"),
        (((28, 28, 1), True), "get_model: nb_classes must be"),
    ],
)
def test_get_model_names_a_bad_argument(args, match):
    with pytest.raises(ValueError, match=match):
        get_model("simple_cnn", *args)


def test_mnist_autoencoder_same_padding_is_the_authors_cropped_transposed_conv():
    """The auto-encoder's 5x5/3 transposed conv with padding="same" computes the authors' valid 17x17 output cropped
    by 1 on every side (the crop's gradient was the slowest op of the generator step)."""
    import keras

    x = np.random.default_rng(0).normal(size=(2, 5, 5, 8)).astype(np.float32)
    same = keras.layers.Conv2DTranspose(4, 5, strides=3, padding="same")
    valid = keras.layers.Conv2DTranspose(4, 5, strides=3)
    same.build(x.shape)
    valid.build(x.shape)
    valid.set_weights(same.get_weights())
    np.testing.assert_allclose(same(x), keras.layers.Cropping2D(1)(valid(x)), atol=1e-5)
