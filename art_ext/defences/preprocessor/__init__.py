"""Differentiable TensorFlow preprocessors (ART's ``PreprocessorTensorFlowV2``)."""
