"""Make the figures of docs/methods/nn_jpeg.rst: the pipeline diagram and the quantisation-table heat maps.

ART_EXT_DATA_DIR=path/to/data python docs/_static/nn_jpeg/figures.py
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from art_ext.data import load_dataset
from art_ext.defences.preprocessor import bits_per_pixel, dct_coefficient_std, standard_tables, two_level_table
from art_ext.experiments.nn_jpeg import table_for_bpp

HERE = os.path.dirname(os.path.abspath(__file__))


def pipeline():
    steps = [
        "RGB image\n(clip_values)",
        "YCbCr\nBT.601",
        "4:2:0\n(optional)",
        "8x8 DCT-II\northonormal",
        "round(c / Q) * Q\nQ: Annex K x IJG\nor NN-favoured",
        "inverse\nDCT",
        "RGB, 8-bit,\nclip",
    ]
    fig, ax = plt.subplots(figsize=(10, 1.9))
    ax.set_xlim(0, len(steps) * 1.45)
    ax.set_ylim(0, 1.6)
    ax.axis("off")
    for i, text in enumerate(steps):
        x = 0.1 + i * 1.45
        color = "#ffd9b3" if "round" in text else "#dbe9f6"
        ax.add_patch(
            matplotlib.patches.FancyBboxPatch((x, 0.45), 1.15, 0.8, boxstyle="round,pad=0.04", fc=color, ec="#333")
        )
        ax.text(x + 0.575, 0.85, text, ha="center", va="center", fontsize=7.5)
        if i < len(steps) - 1:
            ax.annotate("", (x + 1.42, 0.85), (x + 1.17, 0.85), arrowprops=dict(arrowstyle="->"))
    ax.text(
        0.1,
        0.15,
        "forward: exact (libjpeg integer DCT and 8-bit rounding);  gradient: straight-through "
        "rounding (BPDA) or cubic;  member k of the vote sees its own table Q_k",
        fontsize=7.5,
    )
    fig.savefig(os.path.join(HERE, "pipeline.png"), dpi=100, bbox_inches="tight")


def tables():
    x, _ = load_dataset("cifar10", "train", source="auto")
    x = x[:5000]
    std = dct_coefficient_std(x)
    standard = standard_tables(50)
    nn = table_for_bpp(std, bits_per_pixel(x[:100], standard), x[:100], 4.0, 16.0)
    panels = [
        ("DCT std, luminance\n(CIFAR-10, log scale)", np.log10(std[0]), "viridis"),
        ("standard q50, luminance", standard[0], "magma_r"),
        ("NN-favoured, luminance\n(same bits/pixel)", nn[0], "magma_r"),
        ("NN-favoured, chrominance", nn[1], "magma_r"),
        ("Feature Distillation", two_level_table(), "magma_r"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 3))
    for ax, (title, values, cmap) in zip(axes, panels):
        image = ax.imshow(values, cmap=cmap)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        for (i, j), v in np.ndenumerate(values):
            ax.text(
                j,
                i,
                f"{v:.0f}" if "std" not in title else f"{v:.1f}",
                ha="center",
                va="center",
                fontsize=5,
                color="w" if (values.max() - v) < 0.5 * np.ptp(values) else "k",
            )
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.savefig(os.path.join(HERE, "tables.png"), dpi=90, bbox_inches="tight")
    np.savetxt(
        os.path.join(HERE, "nn_table_cifar10.txt"),
        nn.reshape(16, 8),
        fmt="%d",
        header="NN-favoured table fitted on 5000 CIFAR-10 training images at the bits/pixel of q50: "
        "rows 0-7 luminance, 8-15 chrominance",
    )


if __name__ == "__main__":
    pipeline()
    tables()
