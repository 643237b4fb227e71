"""Ensemble data correction (Kwon et al. 2021): make an unknown classifier recognise inputs correctly.

Three local models are known to us (white-box); a fourth, of another architecture, plays the unknown
classifier that receives only the corrected inputs. Runs on the embedded MNIST sample in under a minute.

    python examples/data_correction.py
"""

import keras
import numpy as np

from art_ext.attacks.evasion import EnsembleDataCorrection
from art_ext.data import load_dataset
from art_ext.estimators import wrap
from art_ext.metrics import accuracy
from art_ext.models import get_model

keras.utils.set_random_seed(0)  # a script may seed globally; art-ext itself never does
x_train, y_train = load_dataset("mnist", "train", source="embedded")
x_test, y_test = load_dataset("mnist", "test", source="embedded")
x_test, y_test = x_test[:200], y_test[:200]


def trained(name, **options):
    model = get_model(name, (28, 28, 1), 10, **options)
    classifier = wrap(model, optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    classifier.fit(x_train, y_train, nb_epochs=3, batch_size=128)
    return classifier


# the local models (Kwon et al.'s D1, D4, D5) and an unknown classifier of a different architecture
local = [trained("kwon_d1"), trained("kwon_d4", width_scale=0.5), trained("kwon_d5")]
unknown = trained("simple_cnn")

attack = EnsembleDataCorrection(local, verbose=False)  # default margin: 1 logit standard deviation per model
x_corrected = attack.generate(x_test, y_test)  # y: the TRUE labels

changed = attack.changed_
print(f"inputs needing correction (generating count): {attack.generating_count_} / {len(x_test)}")
print(f"corrected on every local model: {attack.success_.mean():.1%} of all inputs")
print(
    f"mean L2 of the changed inputs: {attack.l2_[changed].mean():.3f} "
    f"(max {attack.l2_[changed].max():.3f}); untouched inputs are bitwise identical: "
    f"{np.array_equal(x_corrected[~changed], x_test[~changed])}"
)
print(
    f"unknown classifier accuracy: {accuracy(unknown, x_test, y_test):.2%} on the originals, "
    f"{accuracy(unknown, x_corrected, y_test):.2%} on the corrected inputs"
)
