"""NN-favoured JPEG in five steps, on the embedded MNIST sample (runs offline in under a minute).

1. differentiable JPEG as an ART preprocessing defence; 2. a quantisation table fitted to the data;
3. fine-tuned copies at three compression levels; 4. their majority vote; 5. ART attacks, transferred and through
the defence (BPDA).
"""

import keras
import numpy as np
from art.attacks.evasion import ProjectedGradientDescent

from art_ext.data import load_dataset
from art_ext.defences.preprocessor import JpegCompressionTensorFlowV2, NNFavoredJpeg
from art_ext.defences.trainer import MultiLevelJpegTrainer
from art_ext.estimators import wrap
from art_ext.metrics import accuracy
from art_ext.models import get_model

keras.utils.set_random_seed(0)  # a script may seed globally; art-ext itself never does
x_train, y_train = load_dataset("mnist", "train", source="embedded")
x_test, y_test = load_dataset("mnist", "test", source="embedded")
x_test, y_test = x_test[:200], y_test[:200]
model = get_model("simple_cnn", (28, 28, 1), 10)
undefended = wrap(model)
undefended.fit(x_train, y_train, nb_epochs=3, batch_size=64)

# 1. Drop-in, differentiable replacement for ART's JpegCompression.
jpeg = wrap(model, preprocessing_defences=JpegCompressionTensorFlowV2(quality=50))

# 2. A table designed for the network from the DCT statistics of the training data (DeepN-JPEG style).
nn_jpeg = NNFavoredJpeg(q_min=8, q_max=120)
nn_jpeg.fit(x_train)
print("NN-favoured luminance table:\n", nn_jpeg.quantization_table[0].astype(int))

# 3.-4. Fine-tune one copy per compression level and let them vote (each sees its own level).
levels = [NNFavoredJpeg(quantization_table=nn_jpeg.quantization_table * s) for s in (0.5, 1.0, 1.5)]
trainer = MultiLevelJpegTrainer(undefended, levels, nb_epochs=1, learning_rate=5e-4)
trainer.fit(x_train, y_train)
ensemble = trainer.get_classifier()

# 5. Evaluate with ART's PGD: made on the undefended model (transfer) and through each defence (BPDA).
pgd = dict(eps=0.2, eps_step=0.05, max_iter=10, verbose=False)
x_transfer = ProjectedGradientDescent(undefended, **pgd).generate(x_test)
for name, classifier in [("none", undefended), ("JPEG q50", jpeg), ("NN-favoured + vote", ensemble)]:
    x_adaptive = ProjectedGradientDescent(classifier, **pgd).generate(x_test)
    print(
        f"{name:<20} clean {accuracy(classifier, x_test, y_test):.2f}  "
        f"PGD transferred {accuracy(classifier, x_transfer, y_test):.2f}  "
        f"PGD through the defence {accuracy(classifier, x_adaptive, y_test):.2f}"
    )
print("max |x_adv - x|:", float(np.abs(x_transfer - x_test).max()))
