"""2N labeling (Szűcs & Kiss 2023) on the embedded MNIST sample: train, detect, filter, classify.

Runs in under a minute on a CPU: ``python examples/two_n_labeling.py``.
"""

import keras
import numpy as np
from art.attacks.evasion import FastGradientMethod

from art_ext.data import load_dataset
from art_ext.defences.detector.evasion import TwoNLabelingDetector
from art_ext.defences.trainer import TwoNLabelingTrainer, extend_classes
from art_ext.estimators import FilteringPipeline, NClassView, wrap
from art_ext.metrics import filtering_accuracy, filtering_helps, transferability
from art_ext.models import get_model

keras.utils.set_random_seed(0)
x_train, y_train = load_dataset("mnist", "train", source="embedded")
x_test, y_test = load_dataset("mnist", "test", source="embedded")

# The simulated attacker's substitute: the same architecture, trained on clean data.
substitute = wrap(get_model("simple_cnn", (28, 28, 1), 10))
substitute.fit(x_train, y_train, nb_epochs=3, batch_size=64)

# The defended model: the same architecture with 2N = 20 outputs, trained with 2N labeling
# (with the classifier's own optimizer, Adam here; optimizer="paper" gives the paper's SGD + cosine schedule).
classifier = wrap(extend_classes(get_model("simple_cnn", (28, 28, 1), 10), "2n"))
trainer = TwoNLabelingTrainer(
    classifier,
    substitute=substitute,
    eps_max=0.3,
    perturbed_fraction=0.5,
    smoothing=0.8,
    seed=0,
    verbose=True,
)
trainer.fit(x_train, y_train, nb_epochs=6, batch_size=64)

# Test phase: the detector flags P(attack) = sum of the last N probabilities > threshold;
# the N-class view (p_i + p_{N+i}) classifies what is kept.
detector = TwoNLabelingDetector(classifier, threshold=0.5)
view = NClassView(classifier)
pipeline = FilteringPipeline(detector, view)

# An attacker with its own substitute (another architecture) perturbs half the test set.
attacker = wrap(get_model("simple_mlp", (28, 28, 1), 10))
attacker.fit(x_train, y_train, nb_epochs=3, batch_size=64)
perturbed = np.arange(len(x_test)) % 2 == 1
x_adv = FastGradientMethod(attacker, eps=0.3).generate(x_test)
x_mix = np.where(perturbed[:, None, None, None], x_adv, x_test)

labels, rejected = pipeline.predict(x_mix)
acc = filtering_accuracy(y_test, view.predict(x_mix), rejected)
print(
    f"accuracy without filtering {acc['unfiltered']:.3f}, with filtering {acc['filtered']:.3f} ({acc['kept']:.0%} kept)"
)
pred = view.predict(x_adv[perturbed])
print(
    f"transferability {transferability(y_test[perturbed], attacker.predict(x_adv[perturbed]), pred):.3f}, "
    f"with filtering "
    f"{transferability(y_test[perturbed], attacker.predict(x_adv[perturbed]), pred, rejected[perturbed]):.3f}"
)
print("filtering helps (Sec. 4.3):", filtering_helps(1 - rejected[~perturbed].mean(), 1 - rejected[perturbed].mean()))
