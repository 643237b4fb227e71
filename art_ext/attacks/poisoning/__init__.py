"""Poisoning attacks (ART's poisoning-attack interfaces)."""

from art_ext.attacks.poisoning.learning_to_confuse import LearningToConfuse

__all__ = ["LearningToConfuse"]
