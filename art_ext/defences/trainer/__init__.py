"""Training-time defences (ART's :class:`~art.defences.trainer.Trainer` interface)."""

from art_ext.defences.trainer.distillation import DistillationTrainer
from art_ext.defences.trainer.jpeg_fine_tuning import MultiLevelJpegTrainer
from art_ext.defences.trainer.two_n_labeling import NullLabelingTrainer, TwoNLabelingTrainer, extend_classes

__all__ = [
    "DistillationTrainer",
    "MultiLevelJpegTrainer",
    "NullLabelingTrainer",
    "TwoNLabelingTrainer",
    "extend_classes",
]
