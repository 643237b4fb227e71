"""BPDA: the forward pass of any ART preprocessor with the identity (or a custom) gradient.

Backward Pass Differentiable Approximation (Athalye, Carlini & Wagner 2018) attacks a defence whose
gradient is missing, zero, non-finite or useless (quantisation, JPEG, a denoiser trained to mask its
gradient) by running the defence unchanged in the forward pass and replacing its derivative in the
backward pass -- by the identity when the defence is meant to be close to it, or by the derivative of a
smooth approximation the user supplies.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
from art.defences.preprocessor.preprocessor import Preprocessor, PreprocessorTensorFlowV2


class BPDA(PreprocessorTensorFlowV2):
    """The forward pass of ``preprocessor``, the identity (or ``backward``) in the backward pass.

    Works for TensorFlow-native preprocessors (``PreprocessorTensorFlowV2``: their ``forward`` runs in the
    graph) and for ART's NumPy preprocessors such as ``JpegCompression`` or ``FeatureSqueezing`` (their
    ``__call__`` runs through ``tf.numpy_function``). Put it in place of the defence to attack it::

        attacked = TensorFlowV2Classifier(model, ..., preprocessing_defences=[BPDA(defence)])

    | Paper link: https://arxiv.org/abs/1802.00420

    :param preprocessor: Any ART ``Preprocessor`` (the defence).
    :param backward: ``None`` for the identity, or ``backward(x, grad) -> grad``: the vector-Jacobian product of a
        differentiable approximation of the defence at ``x`` (TensorFlow tensors in and out), e.g.
        ``lambda x, g: tf.gradients`` of a smooth surrogate. It is called in the graph and, for ART's NumPy path,
        by :meth:`estimate_gradient`.
    :raises ValueError: If ``preprocessor`` is not an ART ``Preprocessor`` or ``backward`` is not callable.
    """

    params = ["preprocessor", "backward"]

    def __init__(self, preprocessor: Preprocessor, backward: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None):
        if not isinstance(preprocessor, Preprocessor):
            raise ValueError(f"preprocessor must be an ART Preprocessor, got {type(preprocessor).__name__}")
        if backward is not None and not callable(backward):
            raise ValueError(f"backward must be None or a callable backward(x, grad), got {type(backward).__name__}")
        super().__init__(is_fitted=True, apply_fit=preprocessor.apply_fit, apply_predict=preprocessor.apply_predict)
        self.preprocessor = preprocessor
        self.backward = backward

    def _defence_forward(self, x: tf.Tensor) -> tf.Tensor:
        """The defence's output on ``x`` (a tensor), without any gradient."""
        if isinstance(self.preprocessor, PreprocessorTensorFlowV2):
            out = self.preprocessor.forward(x)[0]
        else:

            def numpy_forward(a):
                return np.asarray(self.preprocessor(a)[0], dtype=a.dtype)

            out = tf.numpy_function(numpy_forward, [x], x.dtype)
            out.set_shape(x.shape)
        return tf.stop_gradient(tf.cast(out, x.dtype))

    def forward(self, x: tf.Tensor, y: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor | None]:
        """The defence's output; its gradient is the identity, or ``backward``'s.

        :param x: Inputs (tensor).
        :param y: Labels, passed through.
        :return: ``(defended x, y)``.
        """
        x = tf.convert_to_tensor(x)
        out = self._defence_forward(x)
        if self.backward is None:
            return x + tf.stop_gradient(out - x), y

        @tf.custom_gradient
        def surrogate(z):
            def grad(upstream):
                return tf.cast(self.backward(z, upstream), z.dtype)

            return out, grad

        return surrogate(x), y

    def __call__(self, x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The defence's output on NumPy inputs (the defence's own ``__call__``)."""
        return self.preprocessor(x, y)

    def estimate_gradient(self, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The identity, or ``backward(x, grad)``, for ART's NumPy gradient path."""
        if self.backward is None:
            return grad
        return np.asarray(self.backward(tf.convert_to_tensor(x), tf.convert_to_tensor(grad)))

    def _check_params(self) -> None:
        pass
