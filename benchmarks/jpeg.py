"""Throughput of JpegCompressionTensorFlowV2 against ART's JpegCompression (Pillow) on CIFAR-10, in one run.

    ART_EXT_DATA_DIR=path/to/data python benchmarks/jpeg.py [--n 2048] [--repeats 3] [--data path/to/cifar10_jpeg.npz]

Prints images per second of both and their ratio for 4:2:0 (ART's/Pillow's default) and 4:4:4, with libjpeg's
integer arithmetic emulated (default) and in plain float arithmetic (``emulate_libjpeg=False``), and the mean
absolute difference of the outputs in grey levels (0-255). Falls back to random images when the data are missing.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from _timing import best_times


def main() -> None:
    from art.defences.preprocessor import JpegCompression

    from art_ext.data import load_dataset
    from art_ext.defences.preprocessor import JpegCompressionTensorFlowV2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality", type=int, default=50)
    parser.add_argument(
        "--data",
        default=os.path.join(os.environ.get("ART_EXT_DATA_DIR", "."), "cifar10_jpeg.npz"),
        help="CIFAR-10 as .npz (default: $ART_EXT_DATA_DIR/cifar10_jpeg.npz)",
    )
    args = parser.parse_args()
    if os.path.isfile(args.data):
        x, _ = load_dataset("cifar10", "test", source="npz", path=args.data)
        source = "CIFAR-10 test"
    else:
        x = np.random.default_rng(0).random((args.n, 32, 32, 3)).astype(np.float32)
        source = "random"
    x = x[: args.n]
    print(f"{len(x)} {source} images 32x32x3, quality {args.quality}, best of {args.repeats} alternating runs")
    print(f"{'setting':<24} {'ART img/s':>10} {'ours img/s':>11} {'speed-up':>9} {'mean |diff|':>12}")
    for label, subsampling, emulate in (
        ("4:2:0", True, True),
        ("4:4:4", False, True),
        ("4:2:0 float arithmetic", True, False),
        ("4:4:4 float arithmetic", False, False),
    ):
        art = JpegCompression(clip_values=(0.0, 1.0), quality=args.quality)
        ours = JpegCompressionTensorFlowV2(
            quality=args.quality, chroma_subsampling=subsampling, emulate_libjpeg=emulate, batch_size=len(x)
        )
        if not subsampling:  # ART has no 4:4:4 option: run Pillow as ART does, with subsampling off
            art._compress = _pillow_444(args.quality)
        t_art, t_ours = best_times([lambda: art(x), lambda: ours(x)], args.repeats)
        diff = np.abs(art(x)[0] - ours(x)[0]).mean() * 255
        print(f"{label:<24} {len(x) / t_art:>10.0f} {len(x) / t_ours:>11.0f} {t_art / t_ours:>8.1f}x {diff:>12.3f}")


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
