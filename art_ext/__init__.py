"""art-ext: five published adversarial-ML methods as drop-in components for ART.

The package mirrors ART's layout (``art_ext.attacks``, ``art_ext.defences``,
``art_ext.estimators``, ...), so each component lives where an ART user already looks.
Everything at the public boundary is NumPy in ART's layout; everything inside is TensorFlow.
"""

__version__ = "0.1.0"
