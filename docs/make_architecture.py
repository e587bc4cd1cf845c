"""Draw the architecture picture of the documentation (docs/images/architecture.svg).

Run from the repository root (needs matplotlib)::

    python docs/make_architecture.py

Six layers, top to bottom; each uses only the layers below it. The boxes name
the modules of each layer, so the picture doubles as a map of the package.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "images", "architecture.svg"
)

# (layer, modules, what it knows, colour)
LAYERS = [
    (
        "persistence, plotting, main job",
        "persistence.py · _composites.py · plotting.py · demo.py",
        "use the estimators; never used by them",
        "#fde0c5",
    ),
    (
        "estimators",
        "classifier.py · regressor.py · transformer.py · anomaly.py · preprocessing.py",
        "scikit-learn API: parameters, targets, predict / transform",
        "#facba6",
    ),
    (
        "estimator base",
        "_base.py · _fitting.py · _inference.py · _inspection.py",
        "shared parameters, validation at fit, inference in batches, inspection",
        "#f8b58b",
    ),
    (
        "training",
        "_training.py · _device.py · _threads.py · _targets.py · _registry.py"
        " · _safe_format.py",
        "skorch net, length-aware batches, NaN-loss guard, device, threads",
        "#c3e3d5",
    ),
    (
        "torch modules",
        "nn/: encoder · aggregation · frontend · stem · scaling · network · losses",
        "pure torch, no scikit-learn",
        "#a7d5c9",
    ),
    (
        "sequence data",
        "sequences.py · datasets.py (real data through aeon)",
        "validation, ragged -> padded + lengths, batch plans; numpy only",
        "#8bc6bc",
    ),
]


def main():
    matplotlib.rcParams["svg.hashsalt"] = "skhidden"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable
    fig, ax = plt.subplots(figsize=(8.6, 6.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.5, 10)
    ax.axis("off")
    height, gap, top = 1.25, 0.42, 9.8
    for i, (name, modules, knows, colour) in enumerate(LAYERS):
        y = top - i * (height + gap) - height
        ax.add_patch(
            FancyBboxPatch(
                (0.3, y),
                9.4,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.15",
                facecolor=colour,
                edgecolor="#444444",
                linewidth=1.0,
            )
        )
        ax.text(
            0.55, y + height - 0.33, name, fontsize=12, fontweight="bold", va="center"
        )
        ax.text(
            0.55,
            y + height / 2 - 0.05,
            modules,
            fontsize=9,
            family="monospace",
            va="center",
        )
        ax.text(
            0.55,
            y + 0.27,
            knows,
            fontsize=9,
            style="italic",
            color="#333333",
            va="center",
        )
        if i < len(LAYERS) - 1:
            ax.annotate(
                "",
                xy=(5.0, y - gap + 0.03),
                xytext=(5.0, y - 0.03),
                arrowprops={"arrowstyle": "-|>", "color": "#444444", "linewidth": 1.2},
            )
    ax.text(
        9.65,
        -0.35,
        "an arrow: the layer above imports the one below, never the reverse",
        fontsize=8,
        ha="right",
        color="#555555",
    )
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    fig.savefig(OUT, bbox_inches="tight", metadata={"Date": None})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
