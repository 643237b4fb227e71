"""UDDN inference speed: images/s of the denoiser, relative to the classifier's forward pass and to
ART's SpatialSmoothing (the preprocessor an ART user would otherwise put in front of a model).

``python benchmarks/uddn.py [--batch 256] [--repeats 5]``; prints a Markdown table.
"""

import argparse
import time

import numpy as np
import tensorflow as tf
from art.defences.preprocessor import SpatialSmoothing, SpatialSmoothingTensorFlowV2

from art_ext.defences.preprocessor import UDDN
from art_ext.models import get_model
from art_ext.models.unet import PAPER_WIDTHS


def throughput(fn, x, repeats):
    fn(x)  # warm-up / tracing
    start = time.perf_counter()
    for _ in range(repeats):
        fn(x)
    return repeats * len(x) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for shape, model_name in (((28, 28, 1), "deepconfuse_victim"), ((32, 32, 3), "vgg_small")):
        x = np.random.default_rng(0).random((args.batch, *shape), dtype=np.float32)
        model = get_model(model_name, shape, 10)
        classify = tf.function(lambda t: model(t, training=False))
        clf_rate = throughput(lambda a: classify(a).numpy(), x, args.repeats)
        ss_rate = throughput(lambda a: SpatialSmoothing(window_size=3)(a), x, args.repeats)
        ss_tf = SpatialSmoothingTensorFlowV2(window_size=3)
        sstf_rate = throughput(lambda a: ss_tf.forward(tf.constant(a))[0].numpy(), x, args.repeats)
        rows.append((shape, f"classifier {model_name}", clf_rate, clf_rate, ss_rate))
        rows.append((shape, "ART SpatialSmoothing 3x3 (SciPy)", ss_rate, clf_rate, ss_rate))
        rows.append((shape, "ART SpatialSmoothingTensorFlowV2 3x3", sstf_rate, clf_rate, ss_rate))
        for widths in ((16, 32, 32, 32, 32), PAPER_WIDTHS):  # the small-scale reproduction's and the paper's
            uddn = UDDN(guide="pixels", channels=shape[-1], widths=widths, seed=0)
            rate = throughput(lambda a: uddn(a)[0], x, args.repeats)
            rows.append((shape, f"UDDN widths {widths}", rate, clf_rate, ss_rate))
    print(
        f"batch {args.batch}, {args.repeats} repeats, {tf.config.threading.get_intra_op_parallelism_threads() or 'all'}"
        " intra-op threads\n"
    )
    print("| input | component | images/s | cost vs classifier forward | speed vs ART SpatialSmoothing |")
    print("|---|---|---|---|---|")
    for shape, name, rate, clf_rate, ss_rate in rows:
        print(f"| {shape} | {name} | {rate:,.0f} | {clf_rate / rate:.2f}x | {rate / ss_rate:.2f}x |")


if __name__ == "__main__":
    main()
