"""Attacks: evasion (:mod:`art_ext.attacks.evasion`) and poisoning (:mod:`art_ext.attacks.poisoning`)."""
