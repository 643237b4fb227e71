"""Learning to Confuse: poison a training set so that models trained on it fail on clean data.

Runs in about a minute on the embedded MNIST sample (no files, no network):
fit the noise generator through an imaginary victim, poison the training set (labels kept,
every pixel within eps), then train a *different* architecture on clean and on poisoned data.
A few generator rounds on 2,000 digits only start the effect; docs/results/learning_to_confuse.rst has full runs.
"""

import os
import tempfile

import numpy as np

from art_ext.attacks.poisoning import LearningToConfuse
from art_ext.data import load_dataset
from art_ext.estimators import wrap
from art_ext.models import get_model

x_train, y_train = load_dataset("mnist", "train", source="embedded")
x_test, y_test = load_dataset("mnist", "test", source="embedded")
x_train, y_train = x_train[:2000], y_train[:2000]

# The imaginary victim (default: the paper's MNIST CNN) is re-initialised every round.
attack = LearningToConfuse(eps=0.3, seed=0)
attack.fit(x_train, y_train, nb_epochs=4, batch_size=64, x_val=x_test[:500], y_val=y_test[:500])
x_poison, y_poison = attack.poison(x_train, y_train)
print("max |x_poison - x| =", np.abs(x_poison - x_train).max(), "(eps 0.3)")


def clean_accuracy(x, y):
    """Train an MLP the generator never saw on (x, y); return its accuracy on the clean test set."""
    victim = wrap(get_model("kwon_d1", x.shape[1:], 10))
    victim.fit(x, y, nb_epochs=5, batch_size=64, verbose=False)
    return np.mean(victim.predict(x_test).argmax(1) == y_test)


print(f"unseen MLP trained on clean data:    {clean_accuracy(x_train, y_train):.3f}")
print(f"unseen MLP trained on poisoned data: {clean_accuracy(x_poison, y_poison):.3f}")
path = os.path.join(tempfile.gettempdir(), "learning_to_confuse_generator.keras")
attack.save(path)  # reload with LearningToConfuse.load(path)
