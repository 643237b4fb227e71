"""Speed of JpegCompressionTensorFlowV2 against ART's JpegCompression (Pillow) on CIFAR-10: cold and warm.

    ART_EXT_DATA_DIR=path/to/data python benchmarks/jpeg.py --out DIR [--sizes 32 128 2048] [--repeats 10]

Same quality and chroma subsampling for both (4:2:0, ART's and Pillow's default; ``--subsampling 444`` runs
Pillow at 4:4:4 as ART cannot). For each batch size three times are measured, each for ART and for ours:

* **fresh process**: the first call in a new Python process, after the imports (ours compiles XLA here);
* **new batch size** ("cold"): the first call on a batch size the process has not seen, in a process that has
  used the preprocessor on this image size before -- two calls on ``--warmup`` images (a loop), then
  ``precompile`` waits for the compilations those calls started in the background;
* **warm**: best of ``--repeats`` rounds in which ART and ours take turns (so a slow spell of the shared machine
  hits both alike).

The two cold kinds run in ``--processes`` fresh processes each, in half of them ours first, in the other half ART
first (median reported). Writes ``jpeg_speed.csv``
and ``jpeg_speed.rst`` (a table) to ``--out``. Falls back to random images when the data are missing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from _timing import best_times


def _images(data: str, n: int) -> tuple[np.ndarray, str]:
    from art_ext.data import load_dataset

    if os.path.isfile(data):
        x, _ = load_dataset("cifar10", "test", source="npz", path=data)
        return x[:n], "CIFAR-10 test"
    return np.random.default_rng(0).random((n, 32, 32, 3)).astype(np.float32), "random"


def _preprocessors(quality: int, subsampling: str):
    from art.defences.preprocessor import JpegCompression

    from art_ext.defences.preprocessor import JpegCompressionTensorFlowV2

    art = JpegCompression(clip_values=(0.0, 1.0), quality=quality)
    if subsampling == "444":  # ART has no 4:4:4 option: run Pillow as ART does, with subsampling off
        art._compress = _pillow_444(quality)
    ours = JpegCompressionTensorFlowV2(quality=quality, chroma_subsampling=subsampling == "420", batch_size=2048)
    return art, ours


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _child(args) -> None:
    """One fresh process: time the first call on ``--n`` images (``--kind fresh``) or on a new batch size."""
    x, _ = _images(args.data, max(args.n, args.warmup))
    art, ours = _preprocessors(args.quality, args.subsampling)
    if args.kind == "new-size":
        for _ in range(2):
            art(x[: args.warmup])
            ours(x[: args.warmup])
        ours.precompile(x.shape[1:])
    batch = x[: args.n]
    order = {"art": art, "ours": ours}
    if args.ours_first:
        order = dict(reversed(order.items()))
    print(json.dumps({who: _timed(lambda fn=fn: fn(batch)) for who, fn in order.items()}))


def _in_fresh_process(args, kind: str, n: int, ours_first: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", kind, "--n", str(n), "--warmup", str(args.warmup)]
    command += ["--ours-first"] if ours_first else []
    command += ["--quality", str(args.quality), "--subsampling", args.subsampling, "--data", args.data]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="directory for jpeg_speed.csv / .rst (default: print only)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 128, 2048])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--processes", type=int, default=4, help="fresh processes per cold measurement (ART or ours first in turn)"
    )
    parser.add_argument("--kinds", nargs="+", choices=["fresh", "new-size"], default=["fresh", "new-size"])
    parser.add_argument("--warmup", type=int, default=100, help="batch size of the warm-up calls (new-size kind)")
    parser.add_argument("--quality", type=int, default=50)
    parser.add_argument("--subsampling", choices=["420", "444"], default="420")
    parser.add_argument(
        "--data",
        default=os.path.join(os.environ.get("ART_EXT_DATA_DIR", "."), "cifar10_jpeg.npz"),
        help="CIFAR-10 as .npz (default: $ART_EXT_DATA_DIR/cifar10_jpeg.npz)",
    )
    parser.add_argument("--child", choices=["fresh", "new-size"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--ours-first", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.kind = args.child
        return _child(args)
    if args.warmup in args.sizes:
        parser.error("--warmup must differ from every --sizes value (it is the batch size the process has seen)")

    x, source = _images(args.data, max(args.sizes))
    print(
        f"{source} images 32x32x3, quality {args.quality}, {args.subsampling[0]}:{args.subsampling[1]}:"
        f"{args.subsampling[2]}; cold: median of {args.processes} fresh processes; warm: best of {args.repeats}"
    )
    rows = []
    art, ours = _preprocessors(args.quality, args.subsampling)
    ours.precompile(x.shape[1:])
    for n in args.sizes:
        row = {"images": n}
        for kind in args.kinds:
            runs = [_in_fresh_process(args, kind, n, ours_first=i % 2 == 1) for i in range(args.processes)]
            for who in ("art", "ours"):
                row[f"{kind} {who} ms"] = 1e3 * statistics.median(run[who] for run in runs)
            row[f"{kind} speed-up"] = row[f"{kind} art ms"] / row[f"{kind} ours ms"]
        batch = x[:n]
        t_art, t_ours = best_times([lambda b=batch: art(b), lambda b=batch: ours(b)], args.repeats)
        row.update({"warm art ms": 1e3 * t_art, "warm ours ms": 1e3 * t_ours, "warm speed-up": t_art / t_ours})
        row["mean |diff|"] = float(np.abs(art(batch)[0] - ours(batch)[0]).mean() * 255)
        rows.append(row)
        print(_format(row), flush=True)
    if args.out:
        _write(args, rows)


def _format(row: dict) -> str:
    parts = [f"{row['images']:>5} images"]
    for kind in ("fresh", "new-size", "warm"):
        if f"{kind} art ms" not in row:
            continue
        parts.append(
            f"{kind}: ART {row[f'{kind} art ms']:.1f} ms, ours {row[f'{kind} ours ms']:.1f} ms "
            f"({row[f'{kind} speed-up']:.2f}x)"
        )
    return "; ".join(parts) + f"; mean |diff| {row['mean |diff|']:.3f}"


def _write(args, rows: list[dict]) -> None:
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "jpeg_speed.csv"), "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    titles = {"fresh": "fresh process", "new-size": "new batch size", "warm": "warm"}
    kinds = [k for k in titles if f"{k} art ms" in rows[0]]
    header = ["images"] + [f"{titles[k]}: ART / ours (speed-up)" for k in kinds]
    lines = [".. csv-table::", "   :header-rows: 1", "", "   " + ", ".join(f'"{h}"' for h in header)]
    for row in rows:
        cells = [f"{row['images']:,}"] + [
            f"{row[f'{k} art ms']:.1f} / {row[f'{k} ours ms']:.1f} ms ({row[f'{k} speed-up']:.2f}x)" for k in kinds
        ]
        lines.append("   " + ", ".join(f'"{c}"' for c in cells))
    with open(os.path.join(args.out, "jpeg_speed.rst"), "w") as file:
        file.write("\n".join(lines) + "\n")


def _pillow_444(quality: int):
    from io import BytesIO

    from PIL import Image

    def compress(image: np.ndarray, mode: str) -> np.ndarray:
        buffer = BytesIO()
        Image.fromarray(image, mode=mode).save(buffer, format="jpeg", quality=quality, subsampling=0)
        return np.array(Image.open(buffer))

    return compress


if __name__ == "__main__":
    main()
