"""Poisoning attacks (ART's poisoning-attack interfaces)."""
