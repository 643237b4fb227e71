"""Differentiable TensorFlow preprocessors (ART's ``PreprocessorTensorFlowV2``)."""

from art_ext.defences.preprocessor.gnr import GNR
from art_ext.defences.preprocessor.jpeg import JpegCompressionTensorFlowV2, NNFavoredJpeg
from art_ext.defences.preprocessor.jpeg_tables import (
    bits_per_pixel,
    dct_coefficient_std,
    design_quantization_table,
    standard_tables,
    two_level_table,
)
from art_ext.defences.preprocessor.uddn import UDDN

__all__ = [
    "GNR",
    "JpegCompressionTensorFlowV2",
    "NNFavoredJpeg",
    "UDDN",
    "bits_per_pixel",
    "dct_coefficient_std",
    "design_quantization_table",
    "standard_tables",
    "two_level_table",
]
