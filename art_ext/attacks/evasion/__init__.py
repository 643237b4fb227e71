"""Evasion-type components (ART's :class:`~art.attacks.EvasionAttack` interface)."""

from art_ext.attacks.evasion.data_correction import EnsembleDataCorrection

__all__ = ["EnsembleDataCorrection"]
