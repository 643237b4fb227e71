"""Evasion-type components (ART's :class:`~art.attacks.EvasionAttack` interface)."""
