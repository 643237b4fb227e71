"""Differentiable TensorFlow preprocessors (ART's ``PreprocessorTensorFlowV2``)."""
from art_ext.defences.preprocessor.jpeg import (JpegCompressionTensorFlowV2, NNFavoredJpeg, bits_per_pixel,
                                                 dct_coefficient_std, design_quantization_table)

__all__ = ["JpegCompressionTensorFlowV2", "NNFavoredJpeg", "bits_per_pixel", "dct_coefficient_std",
           "design_quantization_table"]
