"""One look for every figure: readable fonts, a colour-blind-safe palette, a light grid."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

#: Okabe-Ito, safe for colour-blind readers.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
DPI = 200


def apply_theme() -> None:
    sns.set_theme(style="whitegrid", palette=PALETTE, font_scale=0.95)
    plt.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": DPI, "figure.figsize": (7.0, 3.6),
        "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 10,
        "legend.frameon": False, "font.family": "DejaVu Sans",
    })


apply_theme()
