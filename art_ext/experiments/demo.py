"""``art-ext demo``: all five methods on the embedded MNIST digits, in about two minutes on 2 CPU cores.

1. Ensemble data correction (EDC): an unknown classifier's accuracy on the original and the corrected inputs.
2. 2N labeling: accuracy with and without filtering over the attack's eps, and the detector's AUC.
3. UDDN: clean accuracy, accuracy on attacks transferred from the undefended model, and the adaptive accuracy
   :func:`art_ext.evaluation.evaluate` finds through the denoiser.
4. NN-favoured JPEG against ART's ``JpegCompression``: clean and transferred-PGD accuracy, and file size.
5. Learning to Confuse (LTC): an unseen victim's clean test accuracy when trained on clean vs poisoned digits.

One Markdown report (``report.md``) with one figure (``demo.png``). Every model is small and trained for a few
epochs, so the numbers show what each method does, not how well it can do; the reproductions
(``art-ext reproduce <method>``) run each method at the papers' protocols.
"""

from __future__ import annotations

import textwrap
import time

import numpy as np
from tqdm.auto import tqdm

from art_ext.experiments.components import base_classifier, embedded_digits, labeling_model, uddn_denoiser
from art_ext.experiments.harness import Run, accuracy, train_model

EPS = 0.3  # L-inf budget of the attacks (digits in [0, 1])
EPS_GRID = (0.0, 0.1, 0.2, 0.3)


def _figure(results: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    curve = results["2n"]["curve"]
    axes[0].plot(EPS_GRID, [100 * curve[e]["unfiltered"] for e in EPS_GRID], "o-", label="without filtering")
    axes[0].plot(EPS_GRID, [100 * curve[e]["filtered"] for e in EPS_GRID], "s-", label="with filtering")
    axes[0].set(
        title=f"2N labeling (detection AUC {results['2n']['auc']:.2f})",
        xlabel="FGSM eps (held-out model)",
        ylabel="accuracy (%)",
        ylim=(0, 100),
    )
    axes[0].legend(fontsize=8)
    u = results["uddn"]
    labels = ["clean", "FGSM\ntransferred", "evaluate\n(adaptive)"]
    axes[1].bar(
        labels,
        [100 * u["undefended"][k] for k in ("clean", "transferred", "adaptive")],
        width=-0.35,
        align="edge",
        label="undefended",
    )
    axes[1].bar(
        labels,
        [100 * u["defended"][k] for k in ("clean", "transferred", "adaptive")],
        width=0.35,
        align="edge",
        label="UDDN",
    )
    axes[1].set(title=f"UDDN (eps {EPS})", ylim=(0, 100))
    axes[1].legend(fontsize=8)
    j = results["jpeg"]
    names = list(j)
    axes[2].bar(names, [100 * j[n]["clean"] for n in names], width=-0.35, align="edge", label="clean")
    axes[2].bar(names, [100 * j[n]["pgd"] for n in names], width=0.35, align="edge", label="PGD transferred")
    axes[2].set_xticks(range(len(names)), [textwrap.fill(n, 14, break_long_words=False) for n in names])
    axes[2].set(title="JPEG defences (eps 0.2)", ylim=(0, 100))
    axes[2].tick_params(axis="x", labelsize=7)
    axes[2].legend(fontsize=7, loc="center right")
    e, ltc = results["edc"], results["ltc"]
    axes[3].bar(
        ["EDC:\noriginal", "EDC:\ncorrected", "LTC victim:\nclean data", "LTC victim:\npoisoned"],
        [100 * e["before"], 100 * e["after"], 100 * ltc["clean"], 100 * ltc["poisoned"]],
        color=["tab:gray", "tab:green", "tab:gray", "tab:red"],
    )
    axes[3].set(title="EDC (unknown model) and LTC (victim)", ylim=(0, 100))
    axes[3].tick_params(axis="x", labelsize=7)
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def run(scale: str = "small", seed: int = 0, out_dir: str | None = None, verbose: bool = True) -> dict:
    """Run the demo and write its results folder (``report.md``, ``demo.png``, ``results.json``); return the results."""
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
    from art.defences.preprocessor import JpegCompression
    from sklearn.metrics import roc_auc_score

    from art_ext.attacks.evasion import EnsembleDataCorrection
    from art_ext.attacks.poisoning import LearningToConfuse
    from art_ext.defences.detector.evasion import TwoNLabelingDetector
    from art_ext.defences.preprocessor import (
        JpegCompressionTensorFlowV2,
        NNFavoredJpeg,
        bits_per_pixel,
        dct_coefficient_std,
        design_quantization_table,
    )
    from art_ext.defences.preprocessor.jpeg import standard_tables
    from art_ext.estimators import NClassView, wrap
    from art_ext.evaluation import evaluate
    from art_ext.metrics import filtering_accuracy
    from art_ext.models import get_model

    run = Run("demo", scale=scale, seed=seed, out_dir=out_dir, verbose=verbose)
    n_train, n_test, n_eval, epochs = run.pick((500, 100, 10, 1), (2000, 300, 30, 3), (4000, 1000, 200, 5))
    n_uddn, n_edc, n_ltc, ltc_epochs = run.pick((100, 10, 300, 1), (600, 50, 1000, 3), (1000, 200, 2000, 6))
    quick = run.pick(
        {"apgd_iter": 10, "apgd_t_iter": 10, "targets": 2, "square_queries": 100, "large_eps_iter": 5},
        {"square_queries": 300},
        {},
    )
    run.settings.update(
        data="embedded MNIST",
        n_train=n_train,
        n_test=n_test,
        epochs=epochs,
        eps=EPS,
        n_evaluate=n_eval,
        evaluate_options=quick,
        n_uddn=n_uddn,
        n_edc=n_edc,
        n_ltc=n_ltc,
        ltc_epochs=ltc_epochs,
    )
    if scale == "smoke":
        run.text(
            "**Smoke scale: these numbers are a pipeline check, not results** (a few hundred digits, one "
            "epoch, tiny attacks). Run `art-ext demo` (small scale) for numbers that show what each method does."
        )
    x, y, x_test, y_test = embedded_digits(n_train, n_test)
    x_extra, _, _, _ = embedded_digits(n_train + max(n_uddn, 1), 0)
    x_extra = x_extra[n_train:]
    results: dict = {}
    steps = tqdm(total=6, desc="demo", disable=not verbose)
    seconds: dict[str, float] = {}
    clock = [time.time()]

    def done(name: str) -> None:
        seconds[name] = round(time.time() - clock[0], 1)
        clock[0] = time.time()
        steps.update(1)

    steps.set_postfix_str("classifiers")
    base = base_classifier(x, y, epochs=epochs, seed=seed)
    held_out = wrap(train_model(get_model("simple_mlp", x.shape[1:], 10), x, y, epochs=epochs, batch_size=64))
    local = wrap(train_model(get_model("kwon_d1", x.shape[1:], 10), x, y, epochs=epochs, batch_size=64))
    done("classifiers")

    # 1. EDC: correct inputs on two local models so that an unknown (held-out) model gets them right
    steps.set_postfix_str("EDC")
    xe, ye = x_test[:n_edc], y_test[:n_edc]
    corrected = EnsembleDataCorrection([base, local], verbose=False).generate(xe, ye)
    results["edc"] = {"before": accuracy(held_out, xe, ye), "after": accuracy(held_out, corrected, ye)}
    run.table(
        "1. Ensemble data correction: accuracy of an unknown model (simple_mlp)",
        ["inputs", "accuracy"],
        [
            ["original", results["edc"]["before"]],
            ["corrected on 2 local models (simple_cnn, kwon_d1)", results["edc"]["after"]],
        ],
        note=f"{n_edc} test digits; the unknown model never takes part in the correction.",
    )
    done("EDC")

    # 2. 2N labeling: filtering over eps, detection AUC; the attacker is the held-out model (FGSM)
    steps.set_postfix_str("2N labeling")
    two_n = labeling_model("2n", base, x, y, epochs=epochs, seed=seed)
    view, detector = NClassView(two_n, "2n"), TwoNLabelingDetector(two_n)
    half = np.arange(n_test) % 2 == 1
    curve = {}
    for eps in EPS_GRID:
        x_adv = FastGradientMethod(held_out, eps=eps, batch_size=256).generate(x_test) if eps else x_test
        x_mix = np.where(half[:, None, None, None], x_adv, x_test)
        curve[eps] = filtering_accuracy(y_test, view.predict(x_mix).argmax(1), detector.detect(x_mix)[1])
    scores = np.r_[
        detector.attack_probability(x_test),
        detector.attack_probability(FastGradientMethod(held_out, eps=EPS, batch_size=256).generate(x_test)),
    ]
    auc = float(roc_auc_score(np.r_[np.zeros(n_test), np.ones(n_test)], scores))
    results["2n"] = {"curve": curve, "auc": auc}
    run.table(
        "2. 2N labeling: accuracy with and without filtering (half the test set attacked)",
        ["eps", "without filtering", "with filtering"],
        [[e, curve[e]["unfiltered"], curve[e]["filtered"]] for e in EPS_GRID],
        note=f"FGSM made on a held-out simple_mlp; detection AUC (clean vs FGSM eps {EPS}) {auc:.3f}.",
    )
    done("2N")

    # 3. UDDN: clean, transferred, and adaptive (evaluate) accuracy
    steps.set_postfix_str("UDDN + evaluate")
    uddn = uddn_denoiser(base, x_extra[:n_uddn], epochs=max(1, epochs - 1), seed=seed)
    defended = wrap(base.model, preprocessing_defences=uddn)
    x_fgsm = FastGradientMethod(base, eps=EPS, batch_size=256).generate(x_test)
    xa, ya = x_test[:n_eval], y_test[:n_eval]
    rows, results["uddn"] = [], {}
    for name, clf in (("undefended", base), ("defended", defended)):
        report = evaluate(clf, xa, ya, eps=EPS, preset="quick", attack_options=quick, seed=seed, verbose=False)
        results["uddn"][name] = {
            "clean": accuracy(clf, x_test, y_test),
            "transferred": accuracy(clf, x_fgsm, y_test),
            "adaptive": report.robust_accuracy,
            "flags": report.flags,
        }
        rows.append(
            [
                name,
                *(results["uddn"][name][k] for k in ("clean", "transferred", "adaptive")),
                "; ".join(report.flags) or "none",
            ]
        )
    run.table(
        f"3. UDDN: accuracy (eps {EPS})",
        ["classifier", "clean", "FGSM made on the undefended model", "evaluate (adaptive, quick)", "evaluate's flags"],
        rows,
        note=f"Clean and transferred on {n_test} digits; `evaluate` (APGD through the denoiser, exact and "
        f"BPDA gradients, targeted APGD, Square) on {n_eval}. A denoiser that removes transferred noise "
        "does not stop an attacker who differentiates through it.",
    )
    done("UDDN")

    # 4. NN-favoured JPEG vs ART's JpegCompression
    steps.set_postfix_str("JPEG")
    x_pgd = ProjectedGradientDescent(base, eps=0.2, eps_step=0.05, max_iter=10, batch_size=256, verbose=False).generate(
        x_test
    )
    table = design_quantization_table(dct_coefficient_std(x))
    defences = {
        "ART JpegCompression q50": (
            JpegCompression(clip_values=(0.0, 1.0), quality=50, channels_first=False),
            standard_tables(50),
            True,
        ),
        "art-ext JPEG q50": (JpegCompressionTensorFlowV2(quality=50), standard_tables(50), False),
        "NN-favoured table": (NNFavoredJpeg(quantization_table=table), table, False),
    }
    results["jpeg"], rows = {}, []
    sample = x[:100]
    for name, (defence, tables, subsampled) in defences.items():
        clf = wrap(base.model, preprocessing_defences=defence)
        entry = {
            "clean": accuracy(clf, x_test, y_test),
            "pgd": accuracy(clf, x_pgd, y_test),
            "bpp": bits_per_pixel(sample, np.broadcast_to(tables, (2, 8, 8)), chroma_subsampling=subsampled),
        }
        results["jpeg"][name] = entry
        rows.append([name, entry["clean"], entry["pgd"], entry["bpp"]])
    run.table(
        "4. NN-favoured JPEG against ART's JpegCompression",
        ["defence", "clean", "PGD eps 0.2 made on the undefended model", "bits/pixel"],
        rows,
        note=f"Undefended: clean {accuracy(base, x_test, y_test):.3f}, PGD {accuracy(base, x_pgd, y_test):.3f}. "
        "Transferred attacks only: see the NN-JPEG results page and `evaluate` for adaptive ones.",
    )
    done("JPEG")

    # 5. Learning to Confuse: poison the training set, train an unseen victim on clean vs poisoned digits
    steps.set_postfix_str("LTC")
    xl, yl = x[:n_ltc], y[:n_ltc]
    # A few rounds of the authors' procedure (schedule="constant", no held-out scoring): what the demo's numbers show.
    attack = LearningToConfuse(eps=EPS, generator_learning_rate=1e-3, schedule="constant", seed=seed)
    attack.fit(xl, yl, nb_epochs=ltc_epochs, batch_size=64, validation_split=0)
    x_poison, y_poison = attack.poison(xl, yl)

    def victim_accuracy(xv, yv):
        victim = wrap(get_model("kwon_d1", x.shape[1:], 10))
        victim.fit(xv, yv, nb_epochs=max(3, epochs), batch_size=64, verbose=False)
        return accuracy(victim, x_test, y_test)

    results["ltc"] = {"clean": victim_accuracy(xl, yl), "poisoned": victim_accuracy(x_poison, y_poison)}
    run.table(
        "5. Learning to Confuse: an unseen victim (kwon_d1) trained on clean vs poisoned digits",
        ["training data", "victim's clean test accuracy"],
        [["clean", results["ltc"]["clean"]], [f"poisoned (L-inf eps {EPS})", results["ltc"]["poisoned"]]],
        note=f"Generator trained {ltc_epochs} epochs on {n_ltc} digits (the reproduction trains far longer).",
    )
    done("LTC")
    steps.close()
    run.results.update(results)
    run.settings["seconds_by_step"] = seconds
    run.figure(
        _figure(results),
        "demo",
        "2N filtering over eps; UDDN clean / transferred / adaptive; JPEG defences; EDC and LTC.",
    )
    return run.finish()
