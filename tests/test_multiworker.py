"""A 2-worker MultiWorkerMirroredStrategy run: two local processes on loopback ports, configured by TF_CONFIG.

The workers run ``examples/multi_worker.py`` (one copy of the worker code for the example and the test): a tiny
model trained with ``art_ext.distribute.distributed_step`` on the global batch split across the workers.
"""

import importlib.util
import os
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Global batches trained: enough to move the weights, few enough for CI (the run is dominated by start-up).
STEPS = 4


def _example():
    spec = importlib.util.spec_from_file_location("multi_worker_example", ROOT / "examples" / "multi_worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_workers_end_with_identical_weights_equal_to_one_device_training(tmp_path, monkeypatch):
    example = _example()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    first, second = example.launch(2, STEPS, "step", str(tmp_path), timeout=240)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)  # the all-reduce hands both workers the same update
    reference = example.train(None, STEPS, "step")  # one device, the same global batches
    for a, b in zip(first, reference):
        np.testing.assert_allclose(a, b, atol=1e-5)  # float summation order only
    initial = example.train(None, 0, "step")
    assert max(np.abs(a - b).max() for a, b in zip(first, initial)) > 1e-3  # it trained
