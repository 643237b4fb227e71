"""The ``art-ext`` command: ``demo``, ``reproduce <paper>`` and ``data``."""
from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    warnings.filterwarnings("ignore", message="PyTorch not found")


def _add_run_options(p: argparse.ArgumentParser, default_scale: str) -> None:
    from art_ext.experiments.harness import SCALES

    p.add_argument("--scale", choices=SCALES, default=default_scale,
                   help="smoke: seconds; small: minutes on 2 CPU cores; paper: the paper's sizes")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=None, help="results folder (default results/<name>-<scale>)")


def _run_reproduction(name: str, args: argparse.Namespace) -> int:
    from art_ext.experiments import REPRODUCTIONS

    module = importlib.import_module(REPRODUCTIONS[name])
    options = {}
    if getattr(args, "dataset", None) is not None:
        if "dataset" not in inspect.signature(module.run).parameters:
            raise SystemExit(f"art-ext reproduce {name}: --dataset is not an option of this reproduction")
        options["dataset"] = args.dataset
    module.run(scale=args.scale, seed=args.seed, out_dir=args.out, **options)
    return 0


def _data(args: argparse.Namespace) -> int:
    from art_ext.data import DATASETS, available_sources
    from art_ext.data.datasets import DATA_DIR_ENV

    print(f"{'data set':<15} {'source':<9} location")
    for name in DATASETS:
        for source, where in available_sources(name).items():
            print(f"{name:<15} {source:<9} {where or '-'}")
    print(f"\n.npz files are looked up in ${DATA_DIR_ENV} ({os.environ.get(DATA_DIR_ENV) or 'not set'}) "
          f"as <name>.npz or <name>_jpeg.npz; any .npz works with load_dataset(..., source='npz', path=...).")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``art-ext``."""
    from art_ext import __version__
    from art_ext.experiments import REPRODUCTIONS

    parser = argparse.ArgumentParser(prog="art-ext", description="art-ext: published adversarial-ML methods for ART.")
    parser.add_argument("--version", action="version", version=f"art-ext {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train, attack and defend a small MNIST classifier on the embedded data")
    _add_run_options(demo, default_scale="small")
    rep = sub.add_parser("reproduce", help="reproduce a paper's headline table")
    rep.add_argument("paper", choices=sorted(REPRODUCTIONS), help="which reproduction")
    _add_run_options(rep, default_scale="small")
    rep.add_argument("--dataset", choices=("mnist", "cifar10"), default=None,
                     help="data set, for reproductions that take one (uddn); default: the scale's")
    sub.add_parser("data", help="list which data sets are available where")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``art-ext`` console script."""
    _quiet_tensorflow()
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return _run_reproduction("demo", args)
    if args.command == "reproduce":
        return _run_reproduction(args.paper, args)
    return _data(args)


if __name__ == "__main__":
    sys.exit(main())
