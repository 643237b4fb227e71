"""Training-time defences (ART's :class:`~art.defences.trainer.Trainer` interface)."""
