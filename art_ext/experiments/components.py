"""art-ext's defences as small ready-made ART classifiers on the embedded MNIST digits, for ``art-ext demo`` and
``art-ext evaluate --component``; and the named defences ``art-ext evaluate --model ... --defence NAME`` puts in
front of a saved model. Trained models are cached (see :func:`~art_ext.experiments.harness.default_cache_dir`).
"""

from __future__ import annotations

import os

import numpy as np

from art_ext.experiments.harness import cache_key, cached_classifier, default_cache_dir, train_model

#: Components ``art-ext evaluate --component`` builds: name -> what it is.
COMPONENTS = {
    "none": "simple_cnn, undefended",
    "jpeg": "simple_cnn behind art-ext's JpegCompressionTensorFlowV2 (quality 50)",
    "nn-jpeg": "simple_cnn behind NNFavoredJpeg with a table fitted to the training digits",
    "nn-jpeg-vote": "majority vote of three simple_cnn fine-tuned behind NN-favoured tables at three strengths",
    "uddn": "simple_cnn behind a small UDDN denoiser (logit-guided)",
    "2n": "a 2N labeling model: its N-class view, with its detector",
    "null": "a NULL labeling model: its N-class view, with its detector",
}

#: Defences ``art-ext evaluate --model M --defence NAME[:VALUE]`` knows: name -> (meaning of VALUE, default).
DEFENCES = {
    "jpeg": ("quality 1-100 (art-ext JpegCompressionTensorFlowV2, differentiable)", 50),
    "art-jpeg": ("quality 1-100 (ART JpegCompression, Pillow)", 50),
    "nn-jpeg": ("preset: feature_distillation (art-ext NNFavoredJpeg)", "feature_distillation"),
    "feature-squeezing": ("bit depth 1-64 (ART FeatureSqueezing)", 1),
    "spatial-smoothing": ("window size (ART SpatialSmoothing)", 3),
    "uddn": ("path of a UDDN .keras file saved by UDDN.save", None),
}


def parse_defence(spec: str) -> tuple[str, object]:
    """``"NAME[:VALUE]"`` -> ``(name, value)``, checked; raises ``ValueError`` with a one-line message."""
    name, _, value = spec.partition(":")
    if name not in DEFENCES:
        raise ValueError(f"--defence: unknown defence {name!r}; known: {', '.join(DEFENCES)}")
    meaning, default = DEFENCES[name]
    if not value:
        if default is None:
            raise ValueError(f"--defence {name} needs a value: {name}:VALUE with VALUE the {meaning}")
        return name, default
    if name == "uddn":
        if not os.path.isfile(value):
            raise ValueError(f"--defence uddn:{value}: no such file")
        return name, value
    if name == "nn-jpeg":
        if value != "feature_distillation":
            raise ValueError(f"--defence nn-jpeg: VALUE must be feature_distillation, got {value!r}")
        return name, value
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"--defence {name}: VALUE must be an integer ({meaning}), got {value!r}") from None
    limits = {"jpeg": (1, 100), "art-jpeg": (1, 100), "feature-squeezing": (1, 64), "spatial-smoothing": (1, 15)}
    lo, hi = limits[name]
    if not lo <= number <= hi:
        raise ValueError(f"--defence {name}: VALUE must be in [{lo}, {hi}] ({meaning}), got {number}")
    return name, number


def build_defence(name: str, value, classifier=None, clip_values=(0.0, 1.0)):
    """The ART preprocessor of a parsed ``--defence``."""
    from art.defences.preprocessor import FeatureSqueezing, JpegCompression, SpatialSmoothing

    from art_ext.defences.preprocessor import UDDN, JpegCompressionTensorFlowV2, NNFavoredJpeg

    if name == "jpeg":
        return JpegCompressionTensorFlowV2(clip_values=clip_values, quality=value)
    if name == "art-jpeg":
        return JpegCompression(clip_values=clip_values, quality=value, channels_first=False)
    if name == "nn-jpeg":
        return NNFavoredJpeg(clip_values=clip_values, preset=value)
    if name == "feature-squeezing":
        return FeatureSqueezing(clip_values=clip_values, bit_depth=value)
    if name == "spatial-smoothing":
        return SpatialSmoothing(window_size=value, clip_values=clip_values)
    return UDDN.load(value, classifier=classifier)


def embedded_digits(n_train: int, n_test: int):
    """The first ``n_train`` training and ``n_test`` test digits of the embedded MNIST sample."""
    from art_ext.data import load_dataset

    x_train, y_train = load_dataset("mnist", "train", source="embedded")
    x_test, y_test = load_dataset("mnist", "test", source="embedded")
    return x_train[:n_train], y_train[:n_train], x_test[:n_test], y_test[:n_test]


def base_classifier(x, y, epochs: int = 3, seed: int = 0, arch: str = "simple_cnn", verbose: bool = False):
    """``arch`` trained on ``(x, y)`` (cached)."""
    from art_ext.models import get_model

    return cached_classifier(
        f"components-{arch}",
        lambda: get_model(arch, x.shape[1:], 10),
        lambda m: train_model(m, x, y, epochs=epochs, batch_size=64, verbose=verbose),
        key={"n": len(x), "epochs": epochs, "seed": seed, "data": "embedded"},
    )


def uddn_denoiser(classifier, x, epochs: int = 2, seed: int = 0, verbose: bool = False):
    """A small logit-guided UDDN for ``classifier``, trained on ``x`` (cached)."""
    from art_ext.defences.preprocessor import UDDN

    widths = (8, 16, 16, 16, 16)
    key = cache_key(
        n=len(x),
        epochs=epochs,
        seed=seed,
        widths=widths,
        file_format=2,
        weights=float(sum(float(np.sum(w)) for w in classifier.model.get_weights())),
    )
    path = os.path.join(default_cache_dir(), "components", f"uddn-{key}.keras")
    if os.path.isfile(path):
        return UDDN.load(path, classifier=classifier)
    uddn = UDDN(
        classifier,
        guide="logits",
        widths=widths,
        eps_range=(0.0, 0.3),
        attacks_per_image=None,
        seed=seed,
        verbose=verbose,
    )
    uddn.fit(x, nb_epochs=epochs, batch_size=64)
    uddn.save(path)
    return uddn


def labeling_model(kind: str, substitute, x, y, epochs: int = 3, seed: int = 0, verbose: bool = False):
    """A 2N (``"2n"``) or NULL (``"null"``) labeling model trained with ``substitute`` as the attacker (cached)."""
    from art_ext.defences.trainer import NullLabelingTrainer, TwoNLabelingTrainer, extend_classes
    from art_ext.estimators import wrap
    from art_ext.models import get_model

    trainer_cls = TwoNLabelingTrainer if kind == "2n" else NullLabelingTrainer

    def train(model):
        trainer_cls(
            wrap(model),
            substitute=substitute,
            eps_max=0.3,
            perturbed_fraction=0.5,
            smoothing=0.8,
            optimizer="paper",
            learning_rate=0.05,
            seed=seed,
            verbose=verbose,
        ).fit(x, y, nb_epochs=epochs, batch_size=64)

    return cached_classifier(
        f"components-{kind}",
        lambda: extend_classes(get_model("simple_cnn", x.shape[1:], 10), kind),
        train,
        key={"n": len(x), "epochs": epochs, "seed": seed, "data": "embedded"},
    )


def component(name: str, seed: int = 0, verbose: bool = False):
    """``art-ext evaluate --component NAME``: the component's ART classifier and the digits to evaluate it on.

    :return: ``(classifier, x_test, y_test)``; for ``2n`` / ``null`` the classifier is the N-class view, which brings
        its detector to :func:`~art_ext.evaluation.evaluate`.
    """
    from art_ext.defences.preprocessor import (
        JpegCompressionTensorFlowV2,
        NNFavoredJpeg,
        dct_coefficient_std,
        design_quantization_table,
    )
    from art_ext.estimators import NClassView, wrap

    x, y, x_test, y_test = embedded_digits(2000, 1000)
    base = base_classifier(x, y, seed=seed, verbose=verbose)
    if name == "none":
        return base, x_test, y_test
    if name == "jpeg":
        return wrap(base.model, preprocessing_defences=JpegCompressionTensorFlowV2(quality=50)), x_test, y_test
    if name == "nn-jpeg":
        table = design_quantization_table(dct_coefficient_std(x))
        return wrap(base.model, preprocessing_defences=NNFavoredJpeg(quantization_table=table)), x_test, y_test
    if name == "nn-jpeg-vote":
        from art_ext.defences.trainer import MultiLevelJpegTrainer

        table = design_quantization_table(dct_coefficient_std(x))
        levels = [NNFavoredJpeg(quantization_table=np.clip(table * s, 1, 255)) for s in (0.75, 1.0, 1.3)]
        trainer = MultiLevelJpegTrainer(base, levels, nb_epochs=1, batch_size=64, learning_rate=2e-4)
        trainer.fit(x, y)
        return trainer.get_classifier(), x_test, y_test
    if name == "uddn":
        x_more, _, _, _ = embedded_digits(2600, 0)
        uddn = uddn_denoiser(base, x_more[2000:], seed=seed, verbose=verbose)
        return wrap(base.model, preprocessing_defences=uddn), x_test, y_test
    if name in ("2n", "null"):
        return NClassView(labeling_model(name, base, x, y, seed=seed, verbose=verbose), name), x_test, y_test
    raise ValueError(f"component must be one of {', '.join(COMPONENTS)}, got {name!r}")
