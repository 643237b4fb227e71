"""Training-time defences (ART's :class:`~art.defences.trainer.Trainer` interface)."""
from art_ext.defences.trainer.jpeg_fine_tuning import MultiLevelJpegTrainer

__all__ = ["MultiLevelJpegTrainer"]
