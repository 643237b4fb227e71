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
    "resnet20",
    "resnet",
    "plain_cnn",
    "mobilenet_cifar",
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


#: Options that shrink each CIFAR model for a quick build.
_REDUCED = {"resnet20": {"widths": (2, 4, 4)}, "resnet": {"widths": (2, 4, 4)}, "plain_cnn": {"widths": (2, 4, 4)}}


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_cifar_models_build_at_reduced_width(name):
    model = get_model(name, (32, 32, 3), 10, **_REDUCED.get(name, {"width_scale": 1 / 16}))
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize(
    "name, parameters, blocks",
    [
        ("resnet20", (270_000, 280_000), 9),
        ("plain_cnn", (1_100_000, 1_200_000), 0),
        ("mobilenet_cifar", (500_000, 600_000), 0),
    ],
)
def test_cifar_reference_architectures(name, parameters, blocks):
    """ResNet-20 has He et al.'s 0.27M parameters and 9 residual blocks; every model maps 32x32x3 to 10 logits,
    reduces the map to 4x4 or 8x8 before global average pooling, and saves and loads in safe mode."""
    model = get_model(name, (32, 32, 3), 10)
    assert parameters[0] <= model.count_params() <= parameters[1]
    assert sum(isinstance(layer, keras.layers.Add) for layer in model.layers) == blocks
    pooled = next(layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D))
    assert pooled.input.shape[1] in (4, 8)
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    out = model(x, training=False)
    assert out.shape == (2, 10) and model.layers[-1].activation is keras.activations.linear
    if name == "mobilenet_cifar":
        assert sum(isinstance(layer, keras.layers.DepthwiseConv2D) for layer in model.layers) == 7


def test_cifar_architectures_save_and_load_safely(tmp_path):
    model = get_model("resnet", (32, 32, 3), 10, depth=8, widths=(2, 4, 4))
    path = str(tmp_path / "m.keras")
    model.save(path)
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    loaded = keras.models.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)
    assert get_model("resnet", (32, 32, 3), 10, depth=32, widths=(2, 4, 4)).name == "resnet32"


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("resnet", {"depth": 21}, "depth must be 6 n \\+ 2"),
        ("resnet", {"widths": ()}, "widths"),
        ("plain_cnn", {"widths": (4, 0)}, "widths"),
        ("mobilenet_cifar", {"width_scale": 0}, "width_scale"),
        ("mobilenet_cifar", {"blocks": ((8, 3),)}, "stride 1 or 2"),
    ],
)
def test_cifar_architectures_refuse_bad_options(name, options, match):
    with pytest.raises(ValueError, match=match):
        get_model(name, (32, 32, 3), 10, **options)


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
        (("no_such_model", (28, 28, 1), 10), "unknown model"),
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
