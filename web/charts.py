"""Bar charts of the coordinator's dashboard, drawn on the server as SVG by matplotlib.

Why matplotlib: it is the best-kept Python plotting library (releases several times a
year, a large maintainer team), its SVG backend needs no browser, no CDN and no
JavaScript, and it keeps text as text (``svg.fonttype = none``: small files, readable by
screen readers and searchable). pygal, the lighter alternative, has had few releases and
embeds scripts in its SVG by default.

The object-oriented API only (``Figure`` + ``FigureCanvasSVG``, never ``pyplot``): no
global state, so concurrent requests in threads do not share a figure. The SVG is served
as an image (``<img src=…svg>``) with a CSP of its own (inline styles are matplotlib's
way of drawing); every chart on a page comes with the same figures as a table.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("svg")
matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "parcours",
                            "font.family": "sans-serif", "font.size": 10})

from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

#: Colour-blind-safe palette (Okabe–Ito), contrast ≥ 3:1 against white.
COLOURS = ("#0072B2", "#009E73", "#D55E00", "#CC79A7")
#: CSP of an SVG image: no script at all, matplotlib's inline styles allowed.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def grouped_bars(title: str, labels: Sequence[str], series: Mapping[str, Sequence[int]],
                 *, width: float = 7.5, height: float = 3.2) -> str:
    """A grouped bar chart as an SVG document (one group per label, one bar per series).

    Drawing takes tens of milliseconds of CPU; the same figures give the same chart, so the
    last ``CACHED`` charts are kept (by title, labels and values: counts, no patient data).
    """
    return _drawn(title, tuple(labels), tuple((k, tuple(v)) for k, v in series.items()),
                  width, height)


CACHED = 64


@functools.lru_cache(maxsize=CACHED)
def _drawn(title: str, labels: tuple[str, ...], series: tuple[tuple[str, tuple[int, ...]], ...],
           width: float, height: float) -> str:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasSVG(figure)
    axes = figure.add_subplot()
    n = max(len(series), 1)
    bar = 0.8 / n
    positions = list(range(len(labels)))
    for i, (name, values) in enumerate(series):
        axes.bar([p - 0.4 + bar * (i + 0.5) for p in positions], list(values), bar,
                 label=name, color=COLOURS[i % len(COLOURS)])
    axes.set_title(title, loc="left")
    axes.set_xticks(positions, [label.replace("_", " ") for label in labels],
                    rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6
                    else "center")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    if series:
        axes.legend(frameon=False, ncols=n, loc="upper left", bbox_to_anchor=(0, -0.2)
                    if len(labels) > 6 else (0, -0.1))
    if not labels:
        axes.text(0.5, 0.5, "aucune donnée", ha="center", va="center",
                  transform=axes.transAxes)
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return out.getvalue()
