"""Differentiable TensorFlow preprocessors (ART's ``PreprocessorTensorFlowV2``)."""
from art_ext.defences.preprocessor.gnr import GNR
from art_ext.defences.preprocessor.uddn import UDDN
