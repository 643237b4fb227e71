"""Training-time defences (ART's :class:`~art.defences.trainer.Trainer` interface)."""
from art_ext.defences.trainer.distillation import DistillationTrainer
