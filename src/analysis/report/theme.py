"""One look for every figure: readable fonts, a colour-blind-safe palette, a light grid, and one colour
per group whatever the figure or the language.

:func:`group_colours` gives each group label its colour: labels that are catalogue texts (in nl or
en) of a key in :data:`GROUP_COLOURS` always get that colour ("Vrouwen" and "Women" alike); other
labels get a colour from a hash of their catalogue key (or, for text not in the catalogue, of the
label), moving to the next free colour when two labels of one figure would share one. The order in
which groups are drawn never changes a colour. A figure with a single group that has no fixed colour
draws it in the first palette colour, whatever its label or language (a hash of an outcome's Dutch
and English names would give the same series two colours); hashed colours skip the yellow of the
palette, too pale for points and thin lines on white, unless a figure needs all eight.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

#: Okabe-Ito, safe for colour-blind readers.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
#: The colours a hash hands out: the palette without its pale yellow.
_HASHED = [c for c in PALETTE if c != "#F0E442"]
#: The residual group ("none of these", "other"): grey, never a palette colour.
GREY = "#8C8C8C"
DPI = 200

#: Fixed colours of groups that recur across studies: catalogue key -> colour.
GROUP_COLOURS = {
    "women": PALETTE[0], "intake.group.F": PALETTE[0],
    "men": PALETTE[1], "intake.group.M": PALETTE[1],
    "intake.group.dependent": PALETTE[2], "intake.group.employed": PALETTE[3],
    "intake.event.divorce": PALETTE[4], "intake.event.job_loss": PALETTE[5],
    "intake.event.benefit_end": PALETTE[2], "intake.event.none": GREY,
}


@lru_cache(maxsize=1)
def _text_to_key() -> dict[str, str]:
    """Every catalogue text (nl and en, lower case) -> its key; a fixed-colour key wins a shared text."""
    from analysis.report.labels import catalogue

    index: dict[str, str] = {}
    for key, entry in catalogue().items():
        for text in (entry or {}).values():
            if isinstance(text, str) and "{" not in text:
                current = index.get(text.strip().lower())
                if current is None or (key in GROUP_COLOURS and current not in GROUP_COLOURS):
                    index[text.strip().lower()] = key
    return index


def _canonical(label) -> str:
    text = str(label).strip()
    return _text_to_key().get(text.lower(), text)


def group_colours(labels: Iterable) -> dict:
    """label -> colour for the groups of one figure (see the module docstring)."""
    labels = list(dict.fromkeys(labels))
    canon = {label: _canonical(label) for label in labels}
    out = {label: GROUP_COLOURS[c] for label, c in canon.items() if c in GROUP_COLOURS}
    if len(labels) == 1 and not out:
        return {labels[0]: PALETTE[0]}
    used = set(out.values())
    hashed = _HASHED if len(labels) < len(PALETTE) else PALETTE
    for label in sorted((x for x in labels if x not in out), key=lambda x: canon[x]):
        start = int(hashlib.sha256(canon[label].encode("utf-8")).hexdigest(), 16) % len(hashed)
        order = [hashed[(start + i) % len(hashed)] for i in range(len(hashed))]
        out[label] = next((c for c in order if c not in used), order[0])
        used.add(out[label])
    return out


def apply_theme() -> None:
    sns.set_theme(style="whitegrid", palette=PALETTE, font_scale=0.95)
    plt.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": DPI, "figure.figsize": (7.0, 3.6),
        "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 10,
        "legend.frameon": False, "font.family": "DejaVu Sans",
    })


apply_theme()
