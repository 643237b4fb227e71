"""The persistence contract: atomic, tagged, refused with a clear error when the file is not ours."""

import os
import stat
import zipfile

import keras
import numpy as np
import pytest

from art_ext.persistence import load_json, load_keras, save_json, save_keras


def _model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def test_keras_round_trip_with_extra_models_and_ordinary_file_mode(tmp_path):
    model, critic = _model(), _model()
    path = tmp_path / "sub" / "thing.keras"
    save_keras(str(path), model, "Thing", {"a": 1}, extra_models={"critic": critic})
    loaded, config, extras = load_keras(str(path), "Thing")
    assert config == {"a": 1} and set(extras) == {"critic"}
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded(x), model(x))
    np.testing.assert_array_equal(extras["critic"](x), critic(x))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    assert os.listdir(path.parent) == ["thing.keras"]
    assert keras.models.load_model(str(path), compile=False) is not None  # still a plain .keras file


def test_foreign_tampered_and_wrong_kind_files_are_refused(tmp_path):
    plain = tmp_path / "plain.keras"
    _model().save(str(plain))
    with pytest.raises(ValueError, match="not an art-ext Thing file.*no art-ext metadata"):
        load_keras(str(plain), "Thing")
    ours = tmp_path / "ours.keras"
    save_keras(str(ours), _model(), "Other", {})
    with pytest.raises(ValueError, match="not an art-ext Thing file.*holds a 'Other'"):
        load_keras(str(ours), "Thing")
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a .keras archive"):
        load_keras(str(garbage), "Thing")
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("art_ext.json", "{not json")
    with pytest.raises(ValueError, match="unreadable metadata"):
        load_keras(str(broken), "Thing")
    with pytest.raises(ValueError, match="no Thing file"):
        load_keras(str(tmp_path / "missing.keras"), "Thing")
    with pytest.raises(ValueError, match="must end in .keras"):
        save_keras(str(tmp_path / "x.h5"), _model(), "Thing", {})


def test_json_round_trip_and_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "t.json"
    save_json(str(path), "Table", {"q": [1, 2]})
    assert load_json(str(path), "Table") == {"q": [1, 2]}
    with pytest.raises(ValueError, match="holds a 'Table'"):
        load_json(str(path), "Other")
    with pytest.raises(TypeError):
        save_json(str(tmp_path / "bad.json"), "Table", {"q": object()})
    assert sorted(os.listdir(tmp_path)) == ["t.json"]
