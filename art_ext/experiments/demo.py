"""The end-to-end demo behind ``art-ext demo``: train, attack with ART, defend, compare.

On the embedded offline MNIST sample: a small CNN is trained, attacked with ART's FGSM and
PGD (made on the undefended model and then fed to each defence, as most papers do), and
attacked again *through* each defence (ART's attacks use the defence's gradient, or BPDA
where it has none) -- the number that says how robust a defence really is. ART's
``JpegCompression`` and art-ext's differentiable ``JpegCompressionTensorFlowV2`` stand side by side.
"""
from __future__ import annotations

import numpy as np

from art_ext.data import load_dataset
from art_ext.experiments.harness import Run, accuracy, train_model
from art_ext.models import get_model


def _defences():
    """``(name, preprocessor)`` pairs; ``None`` is the undefended model."""
    from art.defences.preprocessor import FeatureSqueezing, JpegCompression, SpatialSmoothing

    from art_ext.defences.preprocessor import JpegCompressionTensorFlowV2

    return [
        ("none", None),
        ("ART FeatureSqueezing (1 bit)", FeatureSqueezing(clip_values=(0.0, 1.0), bit_depth=1)),
        ("ART SpatialSmoothing (3x3)", SpatialSmoothing(window_size=3)),
        ("ART JpegCompression (q 50)", JpegCompression(clip_values=(0.0, 1.0), quality=50)),
        ("art-ext JpegCompressionTensorFlowV2 (q 50)", JpegCompressionTensorFlowV2(clip_values=(0.0, 1.0), quality=50)),
    ]


def run(scale: str = "small", seed: int = 0, out_dir: str | None = None, verbose: bool = True) -> dict:
    """Run the demo and write its results folder; return the results."""
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

    from art_ext.estimators import wrap

    run = Run("demo", scale=scale, seed=seed, out_dir=out_dir, verbose=verbose)
    n_train, n_test, epochs = run.pick((1000, 200, 3), (4000, 1000, 10), (4000, 1000, 20))
    eps = 0.2
    run.settings.update(n_train=n_train, n_test=n_test, epochs=epochs, eps=eps, data="embedded MNIST")
    x_train, y_train = load_dataset("mnist", "train", source="embedded")
    x_test, y_test = load_dataset("mnist", "test", source="embedded")
    x_train, y_train, x_test, y_test = x_train[:n_train], y_train[:n_train], x_test[:n_test], y_test[:n_test]

    model = train_model(get_model("simple_cnn", x_train.shape[1:], 10), x_train, y_train, epochs=epochs,
                        batch_size=64, verbose=verbose)
    undefended = wrap(model)
    attacks = {
        "FGSM": lambda c: FastGradientMethod(c, eps=eps, batch_size=256),
        "PGD": lambda c: ProjectedGradientDescent(c, eps=eps, eps_step=eps / 4, max_iter=10, batch_size=256,
                                                  verbose=False),
    }
    transferred = {name: make(undefended).generate(x_test) for name, make in attacks.items()}

    rows = []
    for name, defence in _defences():
        defended = wrap(model, preprocessing_defences=defence) if defence is not None else undefended
        adaptive = attacks["PGD"](defended).generate(x_test)
        rows.append([name, accuracy(defended, x_test, y_test),
                     *(accuracy(defended, x_adv, y_test) for x_adv in transferred.values()),
                     accuracy(defended, adaptive, y_test)])
    columns = ["defence", "clean", "FGSM (made on undefended)", "PGD (made on undefended)", "PGD through the defence"]
    run.table(f"Accuracy on {n_test} embedded MNIST test digits (L-inf eps {eps})", columns, rows,
              note="Attacks from ART 1.20. 'Through the defence' runs PGD on the defended classifier: ART's "
                   "preprocessors contribute the identity gradient (BPDA); art-ext's TF JPEG is differentiable "
                   "(straight-through only at the rounding), so ART's attack differentiates through it.")
    run.results["accuracy"] = {r[0]: dict(zip(columns[1:], r[1:])) for r in rows}
    run.results["max_linf"] = {k: float(np.abs(v - x_test).max()) for k, v in transferred.items()}
    return run.finish()
