"""UDDN in ART: train a classifier-guided U-Net denoiser, put it in front of the classifier, attack.

Runs on the embedded MNIST sample in about a minute on a laptop CPU (tiny widths, few epochs;
the paper's widths are the default). ``python examples/uddn.py``
"""

import keras
import numpy as np
from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

from art_ext.data import load_dataset
from art_ext.defences.preprocessor import UDDN
from art_ext.estimators import wrap
from art_ext.metrics import accuracy
from art_ext.models import get_model

keras.utils.set_random_seed(0)  # a script may seed globally; art-ext itself never does
x_train, y_train = load_dataset("mnist", "train", source="embedded")
x_test, y_test = load_dataset("mnist", "test", source="embedded")
x_test, y_test = x_test[:500], y_test[:500]

# 1. The classifier to protect (it also guides the denoiser's training).
classifier = wrap(get_model("simple_cnn", (28, 28, 1), 10))
classifier.fit(x_train[:3000], y_train[:3000], nb_epochs=5, batch_size=128)

# 2. The denoiser: pairs are made with FGSM / I-FGSM(2, 4, 8) on the classifier, loss = L1 on its logits.
uddn = UDDN(classifier, guide="logits", widths=(8, 16, 16, 16, 16), eps_range=(0.0, 0.3), seed=0, verbose=True)
uddn.fit(x_train[3000:3600], nb_epochs=4)  # images the classifier never saw; labels are not needed

# 3. Deploy it as an ART preprocessing defence.
defended = wrap(classifier.model, preprocessing_defences=uddn)
x_fgsm = FastGradientMethod(classifier, eps=0.3).generate(x_test)  # made on the undefended model
print(
    f"clean accuracy     undefended {accuracy(classifier, x_test, y_test):.3f}  "
    f"defended {accuracy(defended, x_test, y_test):.3f}"
)
print(
    f"FGSM eps 0.3       undefended {accuracy(classifier, x_fgsm, y_test):.3f}  "
    f"defended {accuracy(defended, x_fgsm, y_test):.3f}"
)

# 4. Always also attack THROUGH the denoiser: it is differentiable, so ART's PGD uses its exact gradient.
x_pgd = ProjectedGradientDescent(defended, eps=0.3, eps_step=0.05, max_iter=10, verbose=False).generate(x_test[:200])
print(f"PGD through UDDN   defended {accuracy(defended, x_pgd, y_test[:200]):.3f}")
print(
    f"mean L1 distance denoised(FGSM) -> clean: {np.abs(uddn(x_fgsm)[0] - x_test).mean():.4f} "
    f"(FGSM itself: {np.abs(x_fgsm - x_test).mean():.4f})"
)
