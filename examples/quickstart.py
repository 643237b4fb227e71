"""Wrap a Keras model for ART, train it on the embedded MNIST digits, attack it with ART's FGSM.

python examples/quickstart.py
"""

import numpy as np
from art.attacks.evasion import FastGradientMethod

from art_ext.data import load_dataset
from art_ext.estimators import wrap
from art_ext.models import get_model

x_train, y_train = load_dataset("mnist", "train")  # the embedded offline sample when nothing else is there
x_test, y_test = load_dataset("mnist", "test")

classifier = wrap(get_model("simple_cnn", x_train.shape[1:], 10))  # ART TensorFlowV2Classifier
classifier.fit(x_train, y_train, nb_epochs=10, batch_size=64)
x_adv = FastGradientMethod(classifier, eps=0.2).generate(x_test)

for name, x in [("clean", x_test), ("FGSM eps 0.2", x_adv)]:
    print(f"{name:>13}: accuracy {np.mean(classifier.predict(x).argmax(1) == y_test):.3f}")
