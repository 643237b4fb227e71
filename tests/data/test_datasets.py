import numpy as np
import pytest

from art_ext.data import DATASETS, DataUnavailableError, available_sources, data_dir, load_dataset


def test_embedded_mnist_is_real_digits_in_art_layout():
    x_train, y_train = load_dataset("mnist", "train", source="embedded")
    x_test, y_test = load_dataset("mnist", "test", source="embedded")
    assert x_train.shape == (4000, 28, 28, 1) and x_test.shape == (1000, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() == pytest.approx(1.0)
    assert set(np.unique(y_train)) == set(range(10)) and set(np.unique(y_test)) == set(range(10))
    # the two splits are disjoint pieces of the same 5,000 images
    flat = lambda a: {r.tobytes() for r in a.reshape(len(a), -1)}  # noqa: E731
    assert not flat(x_train[:300]) & flat(x_test)


def test_embedded_split_is_deterministic():
    a, _ = load_dataset("mnist", "test", source="embedded")
    b, _ = load_dataset("mnist", "test", source="embedded")
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("as_uint8", [True, False])
def test_npz_round_trip(tmp_path, rng, as_uint8):
    x = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    y = np.arange(6) % 10
    arrays = x if as_uint8 else x.astype(np.float32) / 255
    path = tmp_path / "d.npz"
    np.savez(path, x_train=arrays, y_train=y, x_test=arrays[:2], y_test=y[:2])
    x_loaded, y_loaded = load_dataset("mnist", "train", source="npz", path=str(path))
    assert x_loaded.shape == (6, 28, 28, 1) and x_loaded.dtype == np.float32
    np.testing.assert_allclose(x_loaded[..., 0], x / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y_loaded, y)
    x_test, _ = load_dataset("mnist", "test", source="npz", path=str(path))
    assert len(x_test) == 2


def test_npz_of_jpeg_bytes(tmp_path, rng):
    import io

    from PIL import Image

    images = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    blobs = []
    for im in images:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=95)
        blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    path = tmp_path / "c.npz"
    np.savez(path, train_jpeg=np.concatenate(blobs), train_offsets=offsets, y_train=np.array([1, 2, 3]))
    x, y = load_dataset("cifar10", "train", source="npz", path=str(path))
    assert x.shape == (3, 32, 32, 3) and list(y) == [1, 2, 3]


def test_auto_finds_npz_in_data_dir(tmp_path, monkeypatch, rng):
    x = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "cifar10.npz", x_train=x, y_train=np.arange(4), x_test=x, y_test=np.arange(4))
    monkeypatch.setenv("ART_EXT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no-tfds"))
    x_loaded, _ = load_dataset("cifar10", "test")
    assert x_loaded.shape == (4, 32, 32, 3)
    assert available_sources("cifar10")["npz"].endswith("cifar10.npz")


def test_auto_without_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ART_EXT_DATA_DIR", raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not available offline"):
        load_dataset("fashion_mnist", "train")
    with pytest.raises(FileNotFoundError, match="has not prepared"):
        load_dataset("cifar10", "train", source="tfds")
    # MNIST falls back to the embedded sample
    x, _ = load_dataset("mnist", "test")
    assert len(x) == 1000


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(name="imagenet"), ValueError, "unknown data set"),
        (dict(name="mnist", split="validation"), ValueError, "split"),
        (dict(name="mnist", source="web"), ValueError, "source"),
        (dict(name="mnist", source="npz"), ValueError, "path"),
        (dict(name="mnist", path="x.npz"), ValueError, "only used with source='npz'"),
        (dict(name="mnist", source="npz", path="/nonexistent/file.npz"), FileNotFoundError, "no .npz"),
        (dict(name="cifar10", source="embedded"), ValueError, "no embedded sample"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_dataset(**kwargs)


@pytest.mark.parametrize(
    "arrays, match",
    [
        (dict(x_train=np.zeros((2, 28, 28)), y_train=np.zeros(3)), "2 images|3 labels"),
        (dict(x_train=np.zeros((2, 32, 32, 3)), y_train=np.zeros(2)), "expected"),
        (dict(x_train=np.full((2, 28, 28), np.nan), y_train=np.zeros(2)), "NaN"),
        (dict(x_train=np.full((2, 28, 28), -3.0), y_train=np.zeros(2)), r"\[0, 1\]"),
        (dict(x_train=np.zeros((2, 28, 28)), y_train=np.array([0, 10])), "must lie in"),
        (dict(x_other=np.zeros((2, 28, 28))), "must contain x_train"),
        (dict(x_train=np.zeros((2, 28, 28)), y_train=np.array([[1] + [0] * 9, [0] * 10])), "must be one-hot"),
        (dict(x_train=np.zeros((2, 28, 28)), y_train=np.array(["3", "4"])), "numeric class indices"),
        (dict(x_train=np.full((2, 28, 28), 300, np.int32), y_train=np.zeros(2)), "8-bit"),
        (dict(x_train=np.full((2, 28, 28), 1.02), y_train=np.zeros(2)), "float images must lie in"),
        (dict(x_train=np.full((2, 28, 28), 0.5 * 255, np.float32), y_train=np.zeros(2)), "float images must lie in"),
    ],
)
def test_bad_npz_contents(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match):
        load_dataset("mnist", "train", source="npz", path=str(path))


def test_registry_lists_the_required_names():
    assert {"mnist", "fashion_mnist", "cifar10"} <= set(DATASETS)


def test_float_images_slightly_above_one_are_refused_not_divided_by_255(tmp_path):
    x = np.full((2, 28, 28), 0.5, np.float32)
    x[0, 0, 0] = 1.01  # e.g. an interpolated image; dividing everything by 255 would silently darken it
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.zeros(2))
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\].*1\.01"):
        load_dataset("mnist", "train", source="npz", path=str(tmp_path / "d.npz"))


@pytest.mark.parametrize("dtype, scale", [(np.uint8, 255.0), (np.int64, 255.0), (np.float32, 1.0), (np.float64, 1.0)])
def test_image_scale_follows_the_dtype(tmp_path, rng, dtype, scale):
    raw = rng.integers(0, 256, size=(3, 28, 28))
    stored = (raw if scale == 255.0 else raw / 255.0).astype(dtype)
    np.savez(tmp_path / "d.npz", x_train=stored, y_train=np.arange(3))
    x, _ = load_dataset("mnist", "train", source="npz", path=str(tmp_path / "d.npz"))
    np.testing.assert_allclose(x[..., 0], raw / 255.0, atol=1e-6)
    assert x.dtype == np.float32


def test_8bit_images_stored_as_floats_and_tiny_overshoot(tmp_path, rng):
    raw = rng.integers(0, 256, size=(3, 28, 28)).astype(np.float32)
    raw[0, 0, 0] = 255.0
    np.savez(tmp_path / "a.npz", x_train=raw, y_train=np.arange(3))
    x, _ = load_dataset("mnist", "train", source="npz", path=str(tmp_path / "a.npz"))
    np.testing.assert_allclose(x[..., 0], raw / 255.0, atol=1e-6)
    unit = np.full((2, 28, 28), 1.0 + 5e-7, np.float32)  # float rounding at the top of [0, 1]: clipped
    np.savez(tmp_path / "b.npz", x_train=unit, y_train=np.zeros(2))
    x, _ = load_dataset("mnist", "train", source="npz", path=str(tmp_path / "b.npz"))
    assert x.max() == 1.0


def test_one_hot_and_column_labels_in_npz(tmp_path):
    x = np.zeros((3, 28, 28), np.uint8)
    for y in (np.eye(10)[[1, 2, 3]], np.array([[1], [2], [3]])):
        np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
        _, labels = load_dataset("mnist", "train", source="npz", path=str(tmp_path / "d.npz"))
        np.testing.assert_array_equal(labels, [1, 2, 3])


def test_missing_data_dir_is_a_clear_error(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("ART_EXT_DATA_DIR", str(missing))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no-tfds"))
    with pytest.raises(DataUnavailableError, match="ART_EXT_DATA_DIR is set to .*nowhere.*not an existing folder"):
        load_dataset("mnist", "test")  # not silently the embedded sample
    with pytest.raises(DataUnavailableError, match="not an existing folder"):
        data_dir()
    monkeypatch.delenv("ART_EXT_DATA_DIR")
    assert data_dir() is None
