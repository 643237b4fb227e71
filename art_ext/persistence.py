"""One persistence contract for every fitted art-ext object.

``obj.save(path)`` writes atomically (a temporary file in the destination folder, renamed into place, with the
permissions an ordinary file gets under the user's umask) and tags the file with its kind; ``Class.load(path)``
checks the tag and raises a clear ``ValueError`` ("not an art-ext UDDN file: ...") for anything else -- a missing,
truncated, tampered or foreign file. Keras models are saved in the ``.keras`` format and loaded with
``safe_mode=True``, so the file of an object with one network also opens in plain Keras. Objects without a network
(e.g. a quantisation table) are saved as JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from typing import Any

import keras

__all__ = ["atomic_write", "atomic_write_text", "save_keras", "load_keras", "save_json", "load_json", "FORMAT_VERSION"]

#: Version of the art-ext file format; a file with a newer version is refused.
FORMAT_VERSION = 1
_META = "art_ext.json"
_EXTRA = "art_ext_models/"


def atomic_write(path: str, write: Callable[[str], None], suffix: str = "") -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path`` and rename it to ``path`` only when it succeeds.

    The file gets mode ``0o666 & ~umask`` (as ``open()`` would give it); nothing half-written is left behind.

    :raises ValueError: If the destination folder cannot be created or written.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    except OSError as err:
        raise ValueError(f"cannot write to {path!r}: {err.strerror or err}") from err
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str, suffix: str = "") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`atomic_write`."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)

    atomic_write(path, write, suffix=suffix)


def _meta(kind: str, config: dict[str, Any]) -> str:
    return json.dumps({"format": "art-ext", "kind": kind, "version": FORMAT_VERSION, "config": config})


def _check_meta(text: bytes | str, kind: str, path: str) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"not an art-ext {kind} file: {path} (unreadable metadata)") from err
    if not isinstance(meta, dict) or meta.get("format") != "art-ext" or not isinstance(meta.get("config"), dict):
        raise ValueError(f"not an art-ext {kind} file: {path} (no art-ext metadata)")
    if meta.get("kind") != kind:
        raise ValueError(f"not an art-ext {kind} file: {path} holds a {meta.get('kind')!r}")
    if not isinstance(meta.get("version"), int) or meta["version"] > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer art-ext (format {meta.get('version')!r}); upgrade art-ext")
    return meta["config"]


def _check_path(path: str, extension: str) -> str:
    path = os.fspath(path)
    if not str(path).endswith(extension):
        raise ValueError(f"path must end in {extension}, got {path!r}")
    return path


def save_keras(
    path: str, model: keras.Model, kind: str, config: dict[str, Any], extra_models: dict[str, keras.Model] | None = None
) -> None:
    """Save ``model`` as a ``.keras`` file tagged as an art-ext ``kind`` with its JSON-serialisable ``config``.

    :param extra_models: Further networks of the object (e.g. a critic), stored inside the same archive.
    :raises ValueError: If ``path`` does not end in ``.keras`` or cannot be written.
    """
    path = _check_path(path, ".keras")
    meta = _meta(kind, config)

    def write(tmp: str) -> None:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:  # Keras ignores members it does not know
            archive.writestr(_META, meta)
            for name, extra in (extra_models or {}).items():
                with tempfile.TemporaryDirectory() as folder:
                    extra_path = os.path.join(folder, "model.keras")
                    extra.save(extra_path)
                    archive.write(extra_path, f"{_EXTRA}{name}.keras")

    atomic_write(path, write, suffix=".keras")


def load_keras(
    path: str, kind: str, custom_objects: dict[str, Any] | None = None
) -> tuple[keras.Model, dict[str, Any], dict[str, keras.Model]]:
    """Load a file written by :func:`save_keras`; return ``(model, config, extra_models)``.

    :raises ValueError: If the file is missing, not a ``.keras`` archive, or not an art-ext ``kind`` file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"no {kind} file at {path!r}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if _META not in names:
                raise ValueError(f"not an art-ext {kind} file: {path} (no art-ext metadata)")
            config = _check_meta(archive.read(_META), kind, path)
            extra_names = [n for n in names if n.startswith(_EXTRA) and n.endswith(".keras")]
            with tempfile.TemporaryDirectory() as folder:
                extras = {}
                for name in extra_names:
                    extra_path = archive.extract(name, folder)
                    extras[name[len(_EXTRA) : -len(".keras")]] = keras.models.load_model(
                        extra_path, compile=False, safe_mode=True, custom_objects=custom_objects
                    )
    except zipfile.BadZipFile as err:
        raise ValueError(f"not an art-ext {kind} file: {path} (not a .keras archive)") from err
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True, custom_objects=custom_objects)
    except (ValueError, KeyError, OSError, TypeError) as err:
        raise ValueError(f"not an art-ext {kind} file: {path} (the network cannot be loaded: {err})") from err
    return model, config, extras


def save_json(path: str, kind: str, config: dict[str, Any]) -> None:
    """Save a model-free object's JSON-serialisable ``config`` as a ``.json`` file tagged as an art-ext ``kind``."""
    path = _check_path(path, ".json")
    atomic_write_text(path, _meta(kind, config), suffix=".json")


def load_json(path: str, kind: str) -> dict[str, Any]:
    """Load the ``config`` written by :func:`save_json`; ``ValueError`` for anything but an art-ext ``kind`` file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"no {kind} file at {path!r}")
    with open(path, "rb") as handle:
        return _check_meta(handle.read(), kind, path)
