"""Adaptive evaluation with art_ext.evaluation.evaluate: an undefended CNN, the same CNN behind a "defence" that only
hides its gradient, and behind JPEG; 50 embedded MNIST digits, about two minutes on a laptop CPU.

    python examples/evaluate.py
"""

import keras
import tensorflow as tf
from art.defences.preprocessor.preprocessor import PreprocessorTensorFlowV2

from art_ext.data import load_dataset
from art_ext.defences.preprocessor import JpegCompressionTensorFlowV2
from art_ext.estimators import wrap
from art_ext.evaluation import evaluate
from art_ext.models import get_model

keras.utils.set_random_seed(0)
x_train, y_train = load_dataset("mnist", "train", source="embedded")
x_test, y_test = load_dataset("mnist", "test", source="embedded")
x_test, y_test = x_test[:50], y_test[:50]
model = get_model("simple_cnn", (28, 28, 1), 10)
wrap(model).fit(x_train, y_train, nb_epochs=3, batch_size=128)


class HideGradient(PreprocessorTensorFlowV2):
    """Changes nothing, but its gradient is zero: a naive gradient attack sees a perfectly robust model."""

    def __init__(self):
        super().__init__(is_fitted=True, apply_fit=False, apply_predict=True)

    def forward(self, x, y=None):
        x = tf.convert_to_tensor(x)
        return tf.stop_gradient(x) + 0.0 * x, y


for name, defence in [
    ("undefended", None),
    ("hidden gradient", HideGradient()),
    ("JPEG quality 50", JpegCompressionTensorFlowV2(quality=50)),
]:
    classifier = wrap(model, preprocessing_defences=defence)
    report = evaluate(classifier, x_test, y_test, eps=[0.1, 0.2], preset="quick", seed=0)
    print(f"{name:>16}: clean {report.clean_accuracy:.2f}, robust {report.robust_accuracy_by_eps}")
    for flag in report.flags:
        print(f"{'':>18}flag: {flag}")
report.save("results/evaluate-example")  # report.json, per_sample.csv, report.md, accuracy_vs_eps.png
print("wrote results/evaluate-example/")
