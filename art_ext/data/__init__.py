"""Data set loading: tensorflow-datasets, ``.npz`` files, or the embedded offline MNIST sample.

>>> from art_ext.data import load_dataset
>>> x, y = load_dataset("mnist", split="test")          # float32 NHWC in [0, 1], int64 labels
"""

from art_ext.data.datasets import DATASETS, DataUnavailableError, available_sources, data_dir, load_dataset

__all__ = ["DATASETS", "DataUnavailableError", "available_sources", "data_dir", "load_dataset"]
