"""The ``art-ext`` command: ``demo``, ``evaluate``, ``reproduce <paper>`` and ``data``.

Every argument and output path is checked before any work starts. A user error (a bad option value, an output
folder that cannot be written, missing data) ends the command with exit status 2 and one line on stderr,
``art-ext: error: ...``, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
import tempfile

#: Exit status of a user error (argparse's own).
USAGE_ERROR = 2


# ---------------------------------------------------------------- argument and environment validation
# Every subcommand's checks live here, so they run before any work and report in the same one-line form.


class UsageError(Exception):
    """A user error the command reports in one line (exit status :data:`USAGE_ERROR`)."""


class _Parser(argparse.ArgumentParser):
    """``argparse`` that reports errors in one line ``art-ext: error: ...`` (no usage block) with status 2."""

    def error(self, message: str):
        self.exit(USAGE_ERROR, f"art-ext: error: {message}\n")


def seed_argument(text: str) -> int:
    """``--seed``: an integer in ``[0, 2**32 - 1]`` (NumPy's and Keras's seed range)."""
    from art_ext.params import SEED

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32 - 1], got {text!r}") from None
    if not SEED.is_satisfied_by(value):
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32 - 1], got {value}")
    return value


def check_output_dir(path: str, option: str = "--out") -> None:
    """Check results can be written to folder ``path`` (created later if missing), without writing anything there.

    The nearest existing ancestor must be a folder that accepts a new file (probed with a temporary file that is
    removed at once), so a run never fails at its end for want of a place to put its results.

    :raises UsageError: ``path`` (or an ancestor) is a file, or the folder cannot be written.
    """
    target = os.path.abspath(path)
    existing = target
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "is a file" if existing == target else f"is inside the file {existing!r}"
        raise UsageError(f"{option} {path!r} {where}; give a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise UsageError(f"{option} {path!r}: cannot write to {existing!r} ({err.strerror or err})") from None


def check_data_dir() -> None:
    """``$ART_EXT_DATA_DIR``, when set, must name an existing folder.

    :raises UsageError: Otherwise.
    """
    from art_ext.data import DataUnavailableError, data_dir

    try:
        data_dir()
    except DataUnavailableError as err:
        raise UsageError(str(err)) from None


def validate_run_args(name: str, module, args: argparse.Namespace) -> dict:
    """Check a ``demo`` / ``reproduce`` command line before the run; return the run's extra keyword options."""
    options = {}
    if getattr(args, "dataset", None) is not None:
        if "dataset" not in inspect.signature(module.run).parameters:
            raise UsageError(f"reproduce {name}: --dataset is not an option of this reproduction")
        supported = getattr(module, "DATASETS", None)
        if supported is not None and args.dataset not in supported:
            raise UsageError(f"reproduce {name}: --dataset must be one of {', '.join(supported)}, got {args.dataset}")
        options["dataset"] = args.dataset
    check_data_dir()
    check_output_dir(args.out if args.out is not None else os.path.join("results", f"{name}-{args.scale}"))
    return options


# ---------------------------------------------------------------- subcommands


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    warnings.filterwarnings("ignore", message="PyTorch not found")


def _add_run_options(p: argparse.ArgumentParser, default_scale: str) -> None:
    from art_ext.experiments.harness import SCALES

    p.add_argument(
        "--scale",
        choices=SCALES,
        default=default_scale,
        help=(
            "smoke: a pipeline check, about 1-6 minutes per reproduction on 2 CPU cores (its numbers mean nothing); "
            "small: tens of minutes to hours on 2 CPU cores, trained models cached; paper: the paper's sizes"
        ),
    )
    p.add_argument("--seed", type=seed_argument, default=0, help="random seed in [0, 2**32 - 1] (default 0)")
    p.add_argument("--out", default=None, help="results folder (default results/<name>-<scale>)")


def _run_reproduction(name: str, args: argparse.Namespace) -> int:
    from art_ext.data import DataUnavailableError
    from art_ext.experiments import REPRODUCTIONS

    module = importlib.import_module(REPRODUCTIONS[name])
    options = validate_run_args(name, module, args)
    try:
        module.run(scale=args.scale, seed=args.seed, out_dir=args.out, **options)
    except DataUnavailableError as err:  # the data a reproduction needs are not on this machine
        raise UsageError(str(err)) from None
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """``art-ext evaluate``: check every argument, then load or build the classifier and run ``evaluate``."""
    from art_ext.experiments.components import parse_defence

    if args.model is not None:
        if not args.model.endswith(".keras"):
            raise UsageError(f"--model must be a .keras file, got {args.model!r}")
        if not os.path.isfile(args.model):
            raise UsageError(f"--model {args.model}: no such file")
    elif args.defence:
        raise UsageError("--defence goes with --model (a --component brings its own defence)")
    if args.data_path is not None and args.source != "npz":
        raise UsageError("--data-path needs --source npz")
    if args.source == "npz" and args.data_path is None:
        raise UsageError("--source npz needs --data-path FILE.npz")
    if args.n < 1:
        raise UsageError(f"--n must be a positive integer, got {args.n}")
    if args.eps is not None and any(not e > 0 for e in args.eps):
        raise UsageError(f"--eps must be positive numbers, got {args.eps}")
    try:
        defences = [parse_defence(spec) for spec in args.defence]
    except ValueError as err:
        raise UsageError(str(err)) from None
    out = args.out or os.path.join("results", "evaluate")
    check_data_dir()
    check_output_dir(out)

    from art_ext.data import DataUnavailableError
    from art_ext.evaluation import evaluate

    try:
        if args.model is not None:
            classifier, x, y = _saved_model(args, defences)
            what = f"{args.model}" + (f" behind {', '.join(args.defence)}" if defences else "")
        else:
            from art_ext.experiments.components import component

            classifier, x, y = component(args.component, seed=args.seed, verbose=True)
            what = f"component {args.component} (embedded digits)"
        x, y = x[: args.n], y[: args.n]
        eps = args.eps or [0.3 if x.shape[-1] == 1 else 8 / 255]
        norm = "inf" if args.norm == "inf" else 2
        print(f"evaluating {what} on {len(x)} inputs, L-{args.norm} eps {eps}, {args.preset} preset")
        report = evaluate(classifier, x, y, eps=eps, norm=norm, preset=args.preset, seed=args.seed, verbose=True)
    except (ValueError, DataUnavailableError) as err:
        raise UsageError(str(err)) from None
    report.save(out)
    print(report.to_markdown())
    print(f"wrote {out}/report.json, per_sample.csv, report.md, accuracy_vs_eps.png")
    return 0


def _saved_model(args: argparse.Namespace, defences):
    """The saved model wrapped for ART behind its ``--defence`` list, and the test images to evaluate it on."""
    import keras

    from art_ext.data import load_dataset
    from art_ext.estimators import wrap
    from art_ext.experiments.components import build_defence

    try:
        model = keras.models.load_model(args.model, compile=False)
    except Exception as err:  # a corrupt or foreign file: one line, no traceback
        raise ValueError(
            f"--model {args.model}: cannot load it as a Keras model ({type(err).__name__}: {err})"
        ) from None
    x, y = load_dataset(args.dataset, "test", source=args.source, path=args.data_path)
    plain = wrap(model)
    built = [build_defence(name, value, classifier=plain) for name, value in defences]
    return (wrap(model, preprocessing_defences=built) if built else plain), x, y


def _data(args: argparse.Namespace) -> int:
    from art_ext.data import DATASETS, available_sources
    from art_ext.data.datasets import DATA_DIR_ENV

    check_data_dir()
    print(f"{'data set':<15} {'source':<9} location")
    for name in DATASETS:
        for source, where in available_sources(name).items():
            print(f"{name:<15} {source:<9} {where or '-'}")
    print(
        f"\n.npz files are looked up in ${DATA_DIR_ENV} ({os.environ.get(DATA_DIR_ENV) or 'not set'}) "
        f"as <name>.npz or <name>_jpeg.npz; any .npz works with load_dataset(..., source='npz', path=...)."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``art-ext``."""
    from art_ext import __version__
    from art_ext.evaluation import PRESETS
    from art_ext.experiments import REPRODUCTIONS
    from art_ext.experiments.components import COMPONENTS, DEFENCES

    parser = _Parser(prog="art-ext", description="art-ext: published adversarial-ML methods for ART.")
    parser.add_argument("--version", action="version", version=f"art-ext {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser("demo", help="all five methods on the embedded digits, in about two minutes")
    _add_run_options(demo, default_scale="small")
    rep = sub.add_parser("reproduce", help="reproduce a paper's headline table")
    rep.add_argument("paper", choices=sorted(REPRODUCTIONS), help="which reproduction")
    _add_run_options(rep, default_scale="small")
    rep.add_argument(
        "--dataset",
        choices=("mnist", "cifar10"),
        default=None,
        help="data set (every reproduction but demo); default: the scale's",
    )
    ev = sub.add_parser(
        "evaluate",
        help="adaptive robustness evaluation (art_ext.evaluation.evaluate)",
        description="Adaptive evaluation of a saved model behind named defences, or of one of "
        "art-ext's components on the embedded digits. Defences: "
        + "; ".join(f"{k}[:VALUE] ({v[0]})" for k, v in DEFENCES.items())
        + ". Components: "
        + "; ".join(f"{k} ({v})" for k, v in COMPONENTS.items())
        + ".",
    )
    source = ev.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a saved .keras classifier (logits or probabilities, inputs in [0, 1])")
    source.add_argument(
        "--component",
        choices=tuple(COMPONENTS),
        help="one of art-ext's defences, trained on the embedded digits (cached)",
    )
    ev.add_argument(
        "--defence",
        action="append",
        default=[],
        metavar="NAME[:VALUE]",
        help="a defence in front of --model (repeat for a chain, applied in order)",
    )
    ev.add_argument(
        "--dataset",
        choices=("mnist", "fashion_mnist", "cifar10"),
        default="mnist",
        help="test data for --model (default mnist)",
    )
    ev.add_argument(
        "--source",
        choices=("auto", "tfds", "npz", "embedded"),
        default="auto",
        help="where the test data come from (see art-ext data)",
    )
    ev.add_argument("--data-path", default=None, help="the .npz file, with --source npz")
    ev.add_argument("--n", type=int, default=200, help="inputs to evaluate (default 200)")
    ev.add_argument(
        "--eps",
        type=float,
        nargs="+",
        default=None,
        help="budget(s), first = headline (default 0.3 for grey images, 8/255 for colour)",
    )
    ev.add_argument("--norm", choices=("inf", "2"), default="inf")
    ev.add_argument("--preset", choices=tuple(PRESETS), default="quick", help="default quick")
    ev.add_argument("--seed", type=seed_argument, default=0, help="random seed in [0, 2**32 - 1] (default 0)")
    ev.add_argument("--out", default=None, help="results folder (default results/evaluate)")
    sub.add_parser("data", help="list which data sets are available where")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``art-ext`` console script; a user error exits with status 2 and one line on stderr."""
    _quiet_tensorflow()
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _run_reproduction("demo", args)
        if args.command == "reproduce":
            return _run_reproduction(args.paper, args)
        if args.command == "evaluate":
            return _evaluate(args)
        return _data(args)
    except UsageError as err:
        print(f"art-ext: error: {err}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR) from None


if __name__ == "__main__":
    sys.exit(main())
