"""Reproduction of Kwon, Yoon & Choi (2021), "Data correction for enhancing classification accuracy
by unknown deep neural network classifiers" (KSII TIIS 15(9)): Tables 6-7, Fig. 2 / Table 8, and a
transfer study to unknown architectures the paper does not have.

Setting (paper Sec. 4): local models D1-D5 and unknown models Du1, Du2 (``kwon_*`` reference
models) trained on the full training set with SGD (momentum 0.9, lr 0.1 MNIST / 0.001 CIFAR-10,
batch 128; 50 epochs in the paper, fewer at ``small`` scale); 1000 random test inputs are corrected
with :class:`~art_ext.attacks.evasion.EnsembleDataCorrection` against D1-D5 and given to the
unknown models.

Poisoning scenario (Fig. 2 / Table 8). The paper "manipulated the data used to train the models"
without saying how. We manipulate *training labels*, conditioned on a feature so that the damage
is controllable and the same kind for every model: in each class, the training images whose total
ink (sum of pixel values) lies above the class's ``keep`` quantile are relabelled ``(y + 1) mod 10``.
A model then misclassifies about ``1 - keep`` of the test inputs (the inky ones), and ``keep`` is set
to the paper's accuracies (local 51.2-90.2 %, unknown 46.4 / 57.7 %).
"""

from __future__ import annotations

import keras
import numpy as np

from art_ext.data import load_dataset
from art_ext.experiments.harness import Run, accuracy, cached_classifier, set_seed, train_model
from art_ext.metrics import accuracy_interval
from art_ext.models import get_model

LOCAL = ("d1", "d2", "d3", "d4", "d5")
UNKNOWN = ("du1", "du2")
#: Unknown models whose architectures are NOT among the local ones (transfer study).
OTHER_UNKNOWN = ("simple_cnn", "deepconfuse_victim", "vgg_small")
#: Paper's accuracies of the poisoned models (Sec. 5, Fig. 2): used as the ``keep`` quantile.
POISON_KEEP = {"d1": 0.512, "d2": 0.622, "d3": 0.735, "d4": 0.828, "d5": 0.902, "du1": 0.464, "du2": 0.577}

# Paper numbers (Tables 6-8).
PAPER_TABLE6 = {
    "mnist": {"iterations": 400, "mean": 1.493, "std": 0.465, "max": 2.19, "min": 0.000007},
    "cifar10": {"iterations": 6000, "mean": 14.757, "std": 13.425, "max": 61.26, "min": 0.003},
}
PAPER_TABLE7 = {
    "mnist": {"count": 14, "du1": (0.9876, 1.0), "du2": (0.9834, 1.0)},
    "cifar10": {"count": 192, "du1": (0.805, 1.0), "du2": (0.910, 1.0)},
}
PAPER_TABLE8 = {"iterations": 1000, "mean": 1.772, "std": 1.421, "max": 6.5, "min": 0.000007}


def poison_labels(x: np.ndarray, y: np.ndarray, keep: float, nb_classes: int = 10) -> np.ndarray:
    """Relabel ``(y + 1) mod nb_classes`` the images whose ink lies above their class's ``keep`` quantile."""
    ink = x.reshape(len(x), -1).sum(axis=1)
    y_new = y.copy()
    for c in range(nb_classes):
        idx = np.flatnonzero(y == c)
        if idx.size:
            flip = idx[ink[idx] > np.quantile(ink[idx], keep)]
            y_new[flip] = (c + 1) % nb_classes
    return y_new


def model_name(dataset: str, variant: str) -> str:
    """Foundation model name of a Kwon variant (``d1`` ...) or of another architecture."""
    if variant in POISON_KEEP:
        return f"kwon_{variant}" if dataset == "mnist" else f"kwon_cifar_{variant}"
    return variant


def train_classifier(
    dataset: str,
    variant: str,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int,
    poison: bool = False,
    model_options: dict | None = None,
    verbose: bool = False,
):
    """Train (or load from the cache) one model of the study and return it wrapped for ART.

    SGD with momentum 0.9, batch 128, lr 0.1 (MNIST) or 0.001 (CIFAR-10), as in the paper's Table 1.
    """
    name = model_name(dataset, variant)
    seed = seed * 1000 + (LOCAL + UNKNOWN + OTHER_UNKNOWN).index(variant)  # D1 and Du1 share an architecture
    options = dict(model_options or {})
    lr = 0.1 if dataset == "mnist" else 0.001
    keep = POISON_KEEP[variant] if poison else None
    key = dict(
        dataset=dataset,
        n_train=len(x),
        epochs=epochs,
        seed=seed,
        lr=lr,
        poison_keep=keep,
        options=options,
        labels_sum=int(y.sum()),
    )

    def build() -> keras.Model:
        set_seed(seed)
        return get_model(name, x.shape[1:], 10, **options)

    def train(model: keras.Model) -> None:
        labels = poison_labels(x, y, keep) if poison else y
        if verbose:
            print(f"training {name}{' (poisoned)' if poison else ''} on {len(x)} images, {epochs} epochs")
        train_model(
            model,
            x,
            labels,
            epochs=epochs,
            batch_size=128,
            optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9),
        )

    tag = f"dc-{dataset}-{variant}" + ("-poisoned" if poison else "")
    return cached_classifier(tag, build, train, key)


# ---------------------------------------------------------------------------------------------- the study


def _settings(run: Run, dataset: str) -> dict:
    """Scale presets: data, training epochs, inputs, attack budgets (paper: Sec. 4.2-4.3 and Table 8)."""
    paper_attack = (
        {"learning_rate": 0.1, "max_iter": 400} if dataset == "mnist" else {"learning_rate": 0.01, "max_iter": 6000}
    )
    return dict(
        source=run.pick("embedded", "auto", "auto"),
        n_train=run.pick(1000, None, None),
        epochs=run.pick(1, 1, 50),
        n_test=run.pick(40, 1000, 1000),
        n_select=run.pick(40, 300, 1000),
        n_poison=run.pick(40, 200, 1000),
        n_train_poison=run.pick(None, 20000, None),
        binary_search_steps=run.pick(2, 3, 5),
        poison_max_iter=run.pick(50, 400, 1000),
        poison_binary_search_steps=run.pick(1, 2, 5),
        margins=run.pick((0.0, 5.0), (0.0, 5.0, 10.0), (0.0, 2.0, 5.0, 10.0, 20.0)),
        model_options=run.pick({"width_scale": 0.25}, {}, {}),
        attack=run.pick({"learning_rate": 0.1, "max_iter": 50}, paper_attack, paper_attack),
    )


def _load(dataset: str, source: str, n_train: int | None):
    x, y = load_dataset(dataset, "train", source=source)
    x_test, y_test = load_dataset(dataset, "test", source=source)
    if n_train is not None:
        x, y = x[:n_train], y[:n_train]
    return x, y, x_test, y_test


def _correct(local, x, y, confidence, s=None, max_iter=None, steps=None, verbose=False, units="logit"):
    """Run the attack with study settings ``s``'s budget (``None``: the attack's defaults); return the corrected inputs
    and the attack.

    ``confidence`` is a margin in ``units`` (default logits, the paper's units), or ``None`` for the attack's default
    margin.
    """
    from art_ext.attacks.evasion import EnsembleDataCorrection

    margin = {} if confidence is None else {"confidence": confidence, "confidence_units": units}
    budget = (
        {}
        if s is None
        else dict(
            learning_rate=s["attack"]["learning_rate"],
            max_iter=max_iter or s["attack"]["max_iter"],
            binary_search_steps=steps or s["binary_search_steps"],
        )
    )
    attack = EnsembleDataCorrection(local, **margin, **budget, verbose=verbose)
    return attack.generate(x, y), attack


def _distortion_row(attack) -> list:
    """Iterations and L2 statistics of the inputs the attack changed (paper Tables 6 and 8)."""
    l2 = attack.l2_[attack.changed_]
    its = attack.iterations_[attack.changed_]
    if l2.size == 0:
        return [0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan")]
    return [int(l2.size), float(its.mean()), float(l2.mean()), float(l2.std()), float(l2.max()), float(l2.min())]


def _image_grid(x, x_c, y, changed, unknown, n=10):
    """Figure: originals (top) and corrected inputs (bottom), with an unknown model's predictions."""
    import matplotlib.pyplot as plt

    idx = np.flatnonzero(changed)[:n]
    fig, axes = plt.subplots(2, max(len(idx), 1), figsize=(1.2 * max(len(idx), 1), 2.8), squeeze=False)
    pred_x = unknown.predict(x[idx]).argmax(1) if len(idx) else []
    pred_c = unknown.predict(x_c[idx]).argmax(1) if len(idx) else []
    for col, i in enumerate(idx):
        for row, (img, pred) in enumerate(((x[i], pred_x[col]), (x_c[i], pred_c[col]))):
            ax = axes[row, col]
            ax.imshow(np.squeeze(img), cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(
                f"{'ok' if pred == y[i] else 'x'} {pred}", fontsize=8, color="green" if pred == y[i] else "red"
            )
        axes[1, col].set_xlabel(f"L2 {np.linalg.norm(x_c[i] - x[i]):.2f}", fontsize=7)
    axes[0, 0].set_ylabel("original", fontsize=8)
    axes[1, 0].set_ylabel("corrected", fontsize=8)
    fig.tight_layout()
    return fig


def _attack_defaults() -> dict:
    """The attack's default settings (margin, step size, budget, search): part of the cache key of corrections made
    with them, so a changed default never loads an old correction."""
    import inspect

    from art_ext.attacks.evasion import EnsembleDataCorrection

    parameters = inspect.signature(EnsembleDataCorrection).parameters
    names = ("confidence", "confidence_units", "learning_rate", "max_iter", "binary_search_steps", "initial_const")
    return {name: parameters[name].default for name in names}


def _default_margin() -> str:
    """The attack's default margin in words, e.g. ``"1 spread"``."""
    defaults = _attack_defaults()
    return f"{defaults['confidence']:g} {defaults['confidence_units']}"


def _study(run: Run, dataset: str, verbose: bool) -> None:
    s = _settings(run, dataset)
    run.settings[dataset] = {k: v for k, v in s.items()}
    x, y, x_test, y_test = _load(dataset, s["source"], s["n_train"])
    run.settings[dataset]["n_train"] = len(x)
    rng = np.random.default_rng(run.seed)
    order = rng.permutation(len(x_test))
    ev, sel = order[: s["n_test"]], order[s["n_test"] : s["n_test"] + s["n_select"]]
    x_ev, y_ev, x_sel, y_sel = x_test[ev], y_test[ev], x_test[sel], y_test[sel]
    others = OTHER_UNKNOWN if dataset == "mnist" else ("vgg_small",)
    if run.scale == "smoke":
        others = ("simple_cnn",)

    def train(variant, poison=False):
        options = s["model_options"] if variant in POISON_KEEP else {}
        n = s["n_train_poison"] if poison else None
        return train_classifier(dataset, variant, x[:n], y[:n], s["epochs"], run.seed, poison, options, verbose)

    local = [train(v) for v in LOCAL]
    unknown = {v: train(v) for v in UNKNOWN}
    other = {v: train(v) for v in others}
    paper_acc = {"d1": 0.9886, "d2": 0.9383, "d3": 0.9865, "d4": 0.9829, "d5": 0.9228}
    rows = [
        [
            f"D{i + 1} (local)",
            model_name(dataset, v),
            accuracy(c, x_test, y_test),
            paper_acc[v] if dataset == "mnist" else "",
        ]
        for i, (v, c) in enumerate(zip(LOCAL, local))
    ]
    rows += [
        [f"{v.capitalize()} (unknown)", model_name(dataset, v), accuracy(c, x_test, y_test), ""]
        for v, c in unknown.items()
    ]
    rows += [[f"{v} (unknown, other architecture)", v, accuracy(c, x_test, y_test), ""] for v, c in other.items()]
    run.table(
        f"{dataset}: model accuracy on the full test set",
        ["model", "architecture", "accuracy", "paper"],
        rows,
        note=f"Trained on {len(x)} images for {s['epochs']} epoch(s) (paper: 50), SGD momentum 0.9, batch 128.",
    )
    run.results[f"{dataset}_model_accuracy"] = {r[1]: r[2] for r in rows}

    # choose the margin on a selection split, measured on unknown models of OTHER architectures
    sweep = []
    for kappa in s["margins"]:
        x_c, attack = _correct(local, x_sel, y_sel, kappa, s)
        changed = attack.changed_
        sweep.append(
            [
                kappa,
                attack.generating_count_,
                float(attack.success_.mean()),
                *(accuracy(c, x_c, y_sel) for c in other.values()),
                *(accuracy(c, x_c, y_sel) for c in unknown.values()),
                float(attack.l2_[changed].mean()) if changed.any() else 0.0,
            ]
        )
    base = [accuracy(c, x_sel, y_sel) for c in (*other.values(), *unknown.values())]
    sweep.insert(0, ["(original inputs)", "", "", *base, 0.0])
    cols = [
        "margin (confidence, logits)",
        "generating count",
        "local success",
        *(f"acc {v}" for v in other),
        *(f"acc {v.capitalize()}" for v in unknown),
        "mean L2 (changed)",
    ]
    run.table(
        f"{dataset}: choosing the default margin (selection split, {len(sel)} other test inputs)",
        cols,
        sweep,
        note="Accuracy of unknown models on the corrected selection inputs; the margin is chosen on the "
        "other-architecture columns (not among the local models), then evaluated on the separate split below.",
    )
    run.results[f"{dataset}_margin_sweep"] = {"columns": cols, "rows": sweep}

    # Tables 6-7 and the transfer study on the evaluation split: the paper's margin 0 and our default
    t7, t6, transfer, grids = [], [], [], {}
    for label, kappa in (("paper (margin 0)", 0.0), (f"default (margin {_default_margin()})", None)):
        x_c, attack = _correct(local, x_ev, y_ev, kappa, s, verbose=verbose)
        t7.append(
            [
                label,
                f"{attack.generating_count_}/{len(x_ev)}",
                *(f"{accuracy(c, x_ev, y_ev):.2%} -> {accuracy(c, x_c, y_ev):.2%}" for c in unknown.values()),
            ]
        )
        t6.append([label, s["attack"]["max_iter"], *_distortion_row(attack)])
        transfer.append(
            [
                label,
                *(f"{accuracy(c, x_ev, y_ev):.2%} -> {accuracy(c, x_c, y_ev):.2%}" for c in other.values()),
                float(attack.l2_[attack.changed_].mean()) if attack.changed_.any() else 0.0,
            ]
        )
        run.results.setdefault(f"{dataset}_evaluation", {})[label] = {
            "generating_count": attack.generating_count_,
            "local_success": float(attack.success_.mean()),
            "unknown_accuracy": {
                v: [accuracy(c, x_ev, y_ev), accuracy(c, x_c, y_ev)] for v, c in {**unknown, **other}.items()
            },
            "l2_changed": _distortion_row(attack),
        }
        grids[kappa] = (x_c, attack.changed_)
    p7, p6 = PAPER_TABLE7[dataset], PAPER_TABLE6[dataset]
    t7.append(["paper's Table 7", f"{p7['count']}/1000", *(f"{p7[v][0]:.2%} -> {p7[v][1]:.2%}" for v in UNKNOWN)])
    run.table(
        f"{dataset}: Table 7, generating count and unknown-model accuracy (original -> corrected)",
        ["setting", "generating count", *(v.capitalize() for v in UNKNOWN)],
        t7,
        note=f"{len(x_ev)} random test inputs (evaluation split). Du1/Du2 share the architectures of D1/D2 "
        "(as in the paper) but are trained separately.",
    )
    t6.append(["paper's Table 6", p6["iterations"], "", "", p6["mean"], p6["std"], p6["max"], p6["min"]])
    run.table(
        f"{dataset}: Table 6, distortion of the corrected inputs",
        ["setting", "max_iter", "changed", "mean iterations", "mean L2", "std L2", "max L2", "min L2"],
        t6,
        note="L2 over the changed inputs (0-1 pixel scale); iterations = Adam steps used, summed over the "
        "binary search.",
    )
    run.table(
        f"{dataset}: transfer to unknown architectures NOT among the local models (original -> corrected)",
        ["setting", *others, "mean L2 (changed)"],
        transfer,
    )
    x_c, changed = grids[None]
    first_other = next(iter(other.values()))
    run.figure(
        _image_grid(x_ev, x_c, y_ev, changed, first_other),
        f"{dataset}_grid",
        f"Original (top) and corrected (bottom) {dataset} inputs at the default margin; titles: prediction "
        f"of the unknown {others[0]} (green = true class).",
    )

    _poisoning(run, dataset, s, train, x_test, y_test, order, verbose)


def _poisoning(run: Run, dataset: str, s: dict, train, x_test, y_test, order, verbose: bool) -> None:
    """Fig. 2 / Table 8: local and unknown models trained on label-manipulated data."""
    import matplotlib.pyplot as plt

    if dataset != "mnist":
        return  # the paper's poisoning experiment is on MNIST only
    idx = order[: s["n_poison"]]
    x_ev, y_ev = x_test[idx], y_test[idx]
    local = [train(v, poison=True) for v in LOCAL]
    unknown = {v: train(v, poison=True) for v in UNKNOWN}
    acc_rows = [
        [v.capitalize(), accuracy(c, x_test, y_test), POISON_KEEP[v]]
        for v, c in zip(LOCAL + UNKNOWN, local + list(unknown.values()))
    ]
    run.table(
        "mnist poisoning: accuracy of the label-manipulated models (full test set)",
        ["model", "accuracy", "paper"],
        acc_rows,
        note=f"Trained on {s['n_train_poison'] or 'all'} training images whose labels were manipulated: the "
        "inkiest images of each class relabelled (y+1) mod 10 (module docstring).",
    )
    rows, fig_data = [], {}
    for label, kappa in (("paper (margin 0)", 0.0), (f"default (margin {_default_margin()})", None)):
        x_c, attack = _correct(
            local,
            x_ev,
            y_ev,
            kappa,
            s,
            max_iter=s["poison_max_iter"],
            steps=s["poison_binary_search_steps"],
            verbose=verbose,
        )
        accs = {v: (accuracy(c, x_ev, y_ev), accuracy(c, x_c, y_ev)) for v, c in unknown.items()}
        fig_data[label] = accs
        rows.append(
            [
                label,
                f"{attack.generating_count_}/{len(x_ev)}",
                float(attack.success_.mean()),
                *(f"{a:.2%} -> {b:.2%}" for a, b in accs.values()),
                *_distortion_row(attack)[1:],
            ]
        )
        run.results.setdefault("mnist_poisoning", {})[label] = {
            "generating_count": attack.generating_count_,
            "local_success": float(attack.success_.mean()),
            "unknown_accuracy": accs,
            "l2_changed": _distortion_row(attack),
        }
    p8 = PAPER_TABLE8
    rows.append(
        [
            "paper (Fig. 2, Table 8)",
            "",
            "",
            "46.4% -> ?",
            "57.7% -> ?",
            p8["iterations"],
            p8["mean"],
            p8["std"],
            p8["max"],
            p8["min"],
        ]
    )
    run.table(
        "mnist poisoning: Fig. 2 / Table 8 (unknown accuracy original -> corrected; L2 of changed inputs)",
        [
            "setting",
            "generating count",
            "local success",
            "Du1",
            "Du2",
            "mean iterations",
            "mean L2",
            "std L2",
            "max L2",
            "min L2",
        ],
        rows,
        note=f"{len(x_ev)} test inputs, max_iter {s['poison_max_iter']} x {s['poison_binary_search_steps']} "
        "binary-search steps. The paper plots the corrected accuracies in Fig. 2 without printing them.",
    )
    fig, ax = plt.subplots(figsize=(5, 3))
    width = 0.25
    for k, (label, accs) in enumerate(
        [
            ("original", {v: a for v, (a, _) in fig_data["paper (margin 0)"].items()}),
            *[(lab, {v: b for v, (_, b) in accs.items()}) for lab, accs in fig_data.items()],
        ]
    ):
        ax.bar(np.arange(len(accs)) + (k - 1) * width, [100 * a for a in accs.values()], width, label=label)
    ax.set_xticks(range(len(UNKNOWN)), [v.capitalize() for v in UNKNOWN])
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 1.0))
    run.figure(fig, "mnist_poisoning", "Fig. 2 reproduced: poisoned unknown models on original and corrected inputs.")


# ---------------------------------------------------------------------------------------------- CIFAR-10, CPU scale

#: CIFAR-10 at CPU scale (``--dataset cifar10``, smoke or small scale): the reference models of
#: :mod:`~art_ext.experiments.cifar_models`. Two correct the inputs; the other two, of families the correction never
#: sees, are the unknown models (a harder transfer than the paper's, whose unknown models share the local
#: architectures).
CIFAR_LOCAL = ("resnet20", "vgg11_bn_half")
CIFAR_UNKNOWN = ("plain_cnn", "mobilenet")
#: The paper's CIFAR-10 unknown models (Table 7), paired with ours in order.
PAPER_UNKNOWN = dict(zip(CIFAR_UNKNOWN, UNKNOWN))
#: Goal of issue #22: every unknown model at least this accurate on the corrected inputs.
CIFAR_GOAL = 0.99
#: Margin in logit spreads chosen for CIFAR-10 on the DEV fold (one local reference model corrects, the other scores;
#: the unknown models are never looked at): data_correction results page, "CIFAR-10 at CPU scale".
CIFAR_DEV_MARGIN = 2.0


def _corrected(
    local: dict, x, y, indices, confidence, budget, scale: str, seed: int, cache_dir, verbose, units="logit"
) -> dict:
    """Correct ``x`` against the reference models ``local`` with margin ``confidence`` in ``units`` (``None``: the
    default margin) and ``budget`` (study settings as :func:`_correct` takes them; ``None``: the defaults); cached
    as ``.npz`` under ``<cache>/corrections`` with the attack's per-input record, so a rerun scores the same
    corrected inputs without recomputing them."""
    import os
    import time

    from art_ext.experiments import cifar_models
    from art_ext.experiments.harness import cache_key, default_cache_dir
    from art_ext.persistence import atomic_write

    key = cache_key(
        local=[os.path.basename(cifar_models.model_path(n, seed, scale, cache_dir=cache_dir)) for n in local],
        indices=np.asarray(indices).tolist(),
        confidence=confidence,
        **({"units": units} if confidence is not None and units != "logit" else {}),
        budget=budget,
        attack_defaults=_attack_defaults(),
    )
    path = os.path.join(cache_dir or default_cache_dir(), "corrections", f"edc-cifar10-{key}.npz")
    if os.path.isfile(path):
        with np.load(path) as saved:
            return {k: saved[k] for k in saved.files}
    start = time.perf_counter()
    x_c, attack = _correct(list(local.values()), x, y, confidence, budget, verbose=verbose, units=units)
    record = dict(
        x_corrected=x_c,
        success=attack.success_,
        changed=attack.changed_,
        l2=attack.l2_,
        iterations=attack.iterations_,
        generating_count=np.asarray(attack.generating_count_),
        seconds=np.asarray(time.perf_counter() - start),
    )
    atomic_write(path, lambda tmp: np.savez(tmp, **record), suffix=".npz")
    return record


def _percent_with_interval(correct: int, n: int) -> str:
    low, high = accuracy_interval(correct, n)
    return f"{correct / n:.1%} ({low:.1%}-{high:.1%})"


def _cifar_study(run: Run, verbose: bool, cache_dir=None) -> None:
    """Tables 6-7 on CIFAR-10 with the reference models: the paper's margin, the library's default and the margin
    chosen for CIFAR-10 on the DEV fold (:data:`CIFAR_DEV_MARGIN`)."""
    from art_ext.experiments import cifar_models

    cifar_models.require_trained(CIFAR_LOCAL + CIFAR_UNKNOWN, run.seed, run.scale, cache_dir)
    n_test = run.pick(16, 1000, 1000)
    # smoke: a pipeline check with a token budget; otherwise the attack's own defaults
    budget = run.pick({"attack": {"learning_rate": 0.1, "max_iter": 10}, "binary_search_steps": 1}, None, None)
    x_test, y_test = load_dataset("cifar10", "test")
    idx = np.sort(np.random.default_rng(run.seed).permutation(len(x_test))[: min(n_test, len(x_test))])
    x, y = x_test[idx], y_test[idx]
    run.settings["cifar10"] = dict(
        local=CIFAR_LOCAL,
        unknown=CIFAR_UNKNOWN,
        n_test=len(idx),
        attack=budget
        or "EnsembleDataCorrection defaults (Adam lr 0.1, 400 iterations x 3 binary-search steps, initial "
        f"constant 1, margin {_default_margin()}); the paper's row changes only the margin to 0",
        models_command=cifar_models.command(run.scale, run.seed),
    )
    local = cifar_models.reference_models(CIFAR_LOCAL, run.seed, run.scale, cache_dir, verbose)
    dev_label = f"margin {CIFAR_DEV_MARGIN:g} spreads (chosen on DEV)"
    settings = (
        ("paper's margin 0", 0.0, "logit"),
        (f"default (margin {_default_margin()})", None, "spread"),
        (dev_label, CIFAR_DEV_MARGIN, "spread"),
    )
    records = {
        label: _corrected(local, x, y, idx, margin, budget, run.scale, run.seed, cache_dir, verbose, units)
        for label, margin, units in settings
    }
    unknown = cifar_models.reference_models(CIFAR_UNKNOWN, run.seed, run.scale, cache_dir, verbose)
    run.table(
        f"cifar10: reference models (clean test accuracy on the {len(x_test):,} test images)",
        ["role", "model", "accuracy"],
        [["local", n, accuracy(c, x_test, y_test)] for n, c in local.items()]
        + [["unknown", n, accuracy(c, x_test, y_test)] for n, c in unknown.items()],
    )

    def hits(classifier, inputs) -> int:
        return int((classifier.predict(inputs).argmax(1) == y).sum())

    p7, p6 = PAPER_TABLE7["cifar10"], PAPER_TABLE6["cifar10"]
    rows = [["generating count (inputs needing correction)", f"{p7['count']}/1000", *[""] * len(settings)]]
    summary = {}
    for name, classifier in unknown.items():
        before = hits(classifier, x)
        after = [hits(classifier, r["x_corrected"]) for r in records.values()]
        paper = p7[PAPER_UNKNOWN[name]]
        rows.append(
            [
                f"unknown {name} ({PAPER_UNKNOWN[name].capitalize()} in the paper): original -> corrected",
                f"{paper[0]:.1%} -> {paper[1]:.1%}",
                *(f"{before / len(x):.1%} -> {_percent_with_interval(a, len(x))}" for a in after),
            ]
        )
        summary[name] = {"original": before / len(x), **{lab: a / len(x) for lab, a in zip(records, after)}}
    for label, r in records.items():
        changed = r["changed"].astype(bool)
        rows[0][2 + list(records).index(label)] = f"{int(r['generating_count'])}/{len(x)}"
        l2 = r["l2"][changed]
        summary[label] = dict(
            generating_count=int(r["generating_count"]),
            local_success=float(r["success"].mean()),
            changed=int(changed.sum()),
            l2_mean=float(l2.mean()) if l2.size else 0.0,
            l2_std=float(l2.std()) if l2.size else 0.0,
            l2_max=float(l2.max()) if l2.size else 0.0,
            mean_iterations=float(r["iterations"][changed].mean()) if l2.size else 0.0,
            seconds=float(r["seconds"]),
        )
    rows.append(["local models meeting the margin", "", *(f"{summary[lab]['local_success']:.1%}" for lab in records)])
    for stat, paper_value in (("mean", p6["mean"]), ("std", p6["std"]), ("max", p6["max"])):
        rows.append(
            [
                f"{stat} L2 of the changed inputs: [0, 1] units / 0-255 units",
                f"? / {paper_value}",
                *(f"{summary[lab][f'l2_{stat}']:.3f} / {255 * summary[lab][f'l2_{stat}']:.2f}" for lab in records),
            ]
        )
    rows.append(
        [
            "mean Adam iterations (changed inputs, summed over the search)",
            f"<= {p6['iterations']}",
            *(f"{summary[lab]['mean_iterations']:.0f}" for lab in records),
        ]
    )
    met = {lab: all(summary[n][lab] >= CIFAR_GOAL for n in unknown) for lab in records}
    run.table(
        "cifar10: Tables 6-7, the paper beside ours (unknown models never seen by the correction)",
        ["", "paper", *records],
        rows,
        note=f"{len(x)} random test images; accuracies with their 95 % Wilson intervals. Local models: "
        f"{', '.join(CIFAR_LOCAL)}; unknown: {', '.join(CIFAR_UNKNOWN)} (other families; the paper's unknown models "
        "share the local architectures). The paper's CIFAR-10 correction ran Adam at lr 0.01 for 6000 iterations; "
        f"both of our rows use {'a smoke budget' if budget else 'the library budget (lr 0.1, 400 iterations x 3'}"
        f"{'' if budget else ' searches)'}. The paper does not say in which units its L2 is; 0-255 is the likelier. "
        f"The last row's margin was chosen on the DEV fold (one local model corrects, the other scores). Goal (issue "
        f"#22): every unknown model >= {CIFAR_GOAL:.0%} on the corrected inputs: "
        + "; ".join(f"{lab}: {'met' if ok else 'missed'}" for lab, ok in met.items())
        + ".",
    )
    summary["goal_met"] = met
    run.results["cifar10"] = summary
    first = CIFAR_UNKNOWN[0]
    default = records[settings[1][0]]
    run.figure(
        _image_grid(x, default["x_corrected"], y, default["changed"].astype(bool), unknown[first]),
        "cifar10_grid",
        f"Original (top) and corrected (bottom) CIFAR-10 inputs at the default margin; titles: prediction of the "
        f"unknown {first} (green = true class).",
    )


DATASETS = ("mnist", "cifar10")


def run(
    scale: str = "small", seed: int = 0, out_dir: str | None = None, verbose: bool = True, dataset: str | None = None
) -> dict:
    """Reproduce Tables 6-7 and Fig. 2 / Table 8 (MNIST; CIFAR-10 too at ``paper`` scale); write the results folder.

    :param dataset: ``None`` for the scale's data sets; ``cifar10`` at smoke or small scale runs Tables 6-7 on
        CIFAR-10 with the CPU-sized reference models of :mod:`~art_ext.experiments.cifar_models` (trained by
        ``art-ext reproduce cifar-models --dataset cifar10``), written to ``results/data-correction-cifar10-<scale>``
        by default; ``mnist`` the MNIST study alone.
    :raises ValueError: For an unknown data set.
    :raises FileNotFoundError: At small scale on CIFAR-10, if a reference model is not trained yet (the message
        names the command).
    """
    import os

    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if dataset == "cifar10" and scale != "paper":
        if out_dir is None:
            out_dir = os.path.join("results", f"data-correction-cifar10-{scale}")
        study = Run("data-correction", scale=scale, seed=seed, out_dir=out_dir, verbose=verbose)
        _cifar_study(study, verbose)
        return study.finish()
    study = Run("data-correction", scale=scale, seed=seed, out_dir=out_dir, verbose=verbose)
    default = ("mnist", "cifar10") if scale == "paper" else ("mnist",)
    for name in default if dataset is None else (dataset,):
        _study(study, name, verbose)
    return study.finish()
