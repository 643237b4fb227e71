"""The goals of ``art_ext.evaluation.evaluate``, measured in one run on MNIST digits and a small CNN.

    ART_EXT_DATA_DIR=path/to/data python benchmarks/evaluation.py [--n 200] [--eps 0.1] [--skip-standard]

1. Not weaker than ART: on a held-out undefended CNN, evaluate's robust accuracy (``quick`` on ``n`` digits, and
   ``standard`` on ``n / 2``) against ART's ``AutoProjectedGradientDescent`` (cross-entropy, 100 iterations, 5
   random restarts) on the same digits -- the goal is evaluate <= APGD + 1 point.
2. Not fooled: the same CNN behind a "defence" with identity forward and zero gradient: evaluate's robust accuracy
   within 5 points of the undefended model's, with a flag saying why.
3. Speed: wall time of the ``quick`` preset on ``n`` digits (goal: <= 2 minutes on 2 CPU cores).

The CNN (``simple_cnn``) is trained for 5 epochs on 10,000 MNIST training digits (the embedded 4,000 without the
data folder); the test digits are the first ``n`` of the test split. Seed 0 throughout.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    import keras
    import tensorflow as tf
    from art.attacks.evasion import AutoProjectedGradientDescent
    from art.defences.preprocessor.preprocessor import PreprocessorTensorFlowV2

    from art_ext.data import load_dataset
    from art_ext.estimators import wrap
    from art_ext.evaluation import evaluate
    from art_ext.models import get_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--skip-standard", action="store_true", help="skip the standard preset (minutes)")
    args = parser.parse_args()

    class ZeroGradient(PreprocessorTensorFlowV2):
        """Identity forward, zero gradient: the simplest gradient-masking "defence"."""

        def __init__(self):
            super().__init__(is_fitted=True, apply_fit=False, apply_predict=True)

        def forward(self, x, y=None):
            x = tf.convert_to_tensor(x)
            return tf.stop_gradient(x) + 0.0 * x, y

    x_train, y_train = load_dataset("mnist", "train")
    x_test, y_test = load_dataset("mnist", "test")
    x_train, y_train = x_train[:10000], y_train[:10000]
    x, y = x_test[: args.n], y_test[: args.n]
    keras.utils.set_random_seed(0)
    classifier = wrap(get_model("simple_cnn", (28, 28, 1), 10))
    classifier.fit(x_train, y_train, batch_size=128, nb_epochs=5, verbose=False)
    print(f"simple_cnn on {len(x_train)} training digits; {args.n} test digits; L-inf eps {args.eps}")

    def art_apgd(x_eval, y_eval):
        start = time.time()
        x_adv = AutoProjectedGradientDescent(
            classifier,
            eps=args.eps,
            eps_step=2 * args.eps,
            max_iter=100,
            nb_random_init=5,
            batch_size=128,
            verbose=False,
        ).generate(x_eval, y=np.eye(10)[y_eval])
        return float(np.mean(classifier.predict(x_adv).argmax(1) == y_eval)), time.time() - start

    apgd, apgd_s = art_apgd(x, y)
    start = time.time()
    quick = evaluate(classifier, x, y, eps=args.eps, preset="quick", seed=0, verbose=False)
    quick_s = time.time() - start
    print(f"\n1. undefended, {args.n} digits: clean {100 * quick.clean_accuracy:.1f}%")
    print(f"   ART APGD-CE (100 iterations, 5 restarts): {100 * apgd:.1f}%  ({apgd_s:.0f} s)")
    print(
        f"   evaluate quick:                           {100 * quick.robust_accuracy:.1f}%  ({quick_s:.0f} s)  "
        f"goal <= APGD + 1: {'met' if quick.robust_accuracy <= apgd + 0.01 else 'MISSED'}; flags {quick.flags}"
    )
    if not args.skip_standard:
        half = args.n // 2
        apgd_half, _ = art_apgd(x[:half], y[:half])
        start = time.time()
        standard = evaluate(classifier, x[:half], y[:half], eps=args.eps, preset="standard", seed=0, verbose=False)
        print(
            f"   evaluate standard on {half} digits:       {100 * standard.robust_accuracy:.1f}% "
            f"({time.time() - start:.0f} s) vs ART APGD-CE {100 * apgd_half:.1f}% on the same digits: "
            f"{'met' if standard.robust_accuracy <= apgd_half + 0.01 else 'MISSED'}; flags {standard.flags}"
        )

    masked = wrap(classifier.model, preprocessing_defences=ZeroGradient())
    start = time.time()
    report = evaluate(masked, x, y, eps=args.eps, preset="quick", seed=0, verbose=False)
    masked_s = time.time() - start
    gap = abs(report.robust_accuracy - quick.robust_accuracy)
    print(
        f"\n2. behind the zero-gradient 'defence': evaluate quick {100 * report.robust_accuracy:.1f}% "
        f"(undefended {100 * quick.robust_accuracy:.1f}%, gap {100 * gap:.1f} points; goal <= 5: "
        f"{'met' if gap <= 0.05 else 'MISSED'}; {masked_s:.0f} s)"
    )
    for flag in report.flags:
        print(f"   flag: {flag}")
    plain_apgd = AutoProjectedGradientDescent(
        masked, eps=args.eps, eps_step=2 * args.eps, max_iter=100, nb_random_init=1, verbose=False
    ).generate(x, y=np.eye(10)[y])
    print(
        f"   (ART APGD-CE straight on the masked model: {100 * np.mean(masked.predict(plain_apgd).argmax(1) == y):.1f}%"
        " -- what a naive evaluation reports)"
    )
    print(
        f"\n3. quick preset on {args.n} digits: {quick_s:.0f} s "
        f"(goal <= 120 s: {'met' if quick_s <= 120 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
