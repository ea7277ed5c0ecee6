"""Figure images for LaTeX-typeset synthetic articles: charts, pictures and diagrams.

Drawn with matplotlib (an optional dependency: ``pip install 'layoutft[synth]'``) so that
figures carry real axes, tick labels, legends and panel letters, as journal figures do.
Each function writes one PNG and returns nothing; the image's size in the PDF decides the
figure region, so every pixel of the PNG belongs to the figure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.errors import DatasetError

_WORDS = ("time", "dose", "depth", "rate", "mass", "signal", "score", "ratio", "age", "load")


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise DatasetError(
            "synth --engine latex draws its figures with matplotlib: "
            "pip install 'layoutft[synth]' (or pip install matplotlib)"
        ) from exc
    return plt


def _line(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    x = np.linspace(0, rng.uniform(5, 100), 40)
    for k in range(rng.randint(1, 4)):
        y = np.cumsum(g.normal(rng.uniform(-0.5, 1), 1, x.size)) + k * 3
        style = rng.choice(["-", "--", "-o", "-s", ":"])
        ax.plot(x, y, style, markersize=3, label=f"{rng.choice(_WORDS)} {k + 1}")
    if rng.random() < 0.6:
        ax.legend(fontsize=6, frameon=rng.random() < 0.5)


def _bars(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    n, groups = rng.randint(3, 8), rng.randint(1, 3)
    width = 0.8 / groups
    for k in range(groups):
        heights = g.uniform(1, 10, n)
        ax.bar(np.arange(n) + k * width, heights, width, yerr=g.uniform(0, 1, n), capsize=2)
    ax.set_xticks(np.arange(n) + 0.4 - width / 2)
    ax.set_xticklabels([f"{rng.choice('ABCDEFGH')}{i}" for i in range(n)], fontsize=6)


def _scatter(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    n = rng.randint(30, 200)
    x = g.normal(0, 1, n)
    ax.scatter(x, x * rng.uniform(-2, 2) + g.normal(0, 1, n), s=rng.choice([2, 6, 12]))
    if rng.random() < 0.5:
        ax.plot([-2, 2], [-2 * rng.uniform(-1, 1), 2 * rng.uniform(-1, 1)], "k--", lw=1)


def _heatmap(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    data = g.normal(0, 1, (rng.randint(6, 30), rng.randint(6, 30)))
    cmap = rng.choice(["viridis", "magma", "coolwarm", "gray", "YlOrRd"])
    ax.imshow(data, cmap=cmap, aspect="auto")


def _picture(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    """A photograph-like image: smooth random texture (micrograph, gel, landscape)."""
    h, w = rng.randint(60, 160), rng.randint(60, 160)
    base = g.normal(0, 1, (h // 8 + 2, w // 8 + 2))
    img = np.kron(base, np.ones((8, 8)))[:h, :w] + g.normal(0, 0.3, (h, w))
    if rng.random() < 0.5:
        rgb = np.stack([img + g.normal(0, 0.3) for _ in range(3)], axis=-1)
        img = (rgb - rgb.min()) / (np.ptp(rgb) + 1e-6)
        ax.imshow(img, interpolation="bilinear")
    else:
        ax.imshow(img, cmap=rng.choice(["gray", "bone", "pink"]), interpolation="bilinear")
    ax.set_xticks([])
    ax.set_yticks([])


def _diagram(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    """Boxes joined by arrows: a flow chart or pipeline."""
    n = rng.randint(3, 6)
    xs = np.linspace(0.1, 0.9, n)
    ys = g.uniform(0.3, 0.7, n) if rng.random() < 0.5 else np.full(n, 0.5)
    for i in range(n):
        ax.text(
            xs[i], ys[i], rng.choice(_WORDS).title(), ha="center", va="center", fontsize=7,
            bbox={"boxstyle": rng.choice(["round", "square"]), "fc": rng.choice(["w", "0.9"])},
        )  # fmt: skip
        if i:
            ax.annotate("", (xs[i] - 0.06, ys[i]), (xs[i - 1] + 0.06, ys[i - 1]),
                        arrowprops={"arrowstyle": "->"})  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")


_PANELS: list[Callable[[Any, random.Random, np.random.Generator], None]] = [
    _line, _bars, _scatter, _heatmap, _picture, _diagram,
]  # fmt: skip


def draw_figure(path: Path, rng: random.Random, aspect: float) -> None:
    """Write a PNG figure of one or several panels, ``aspect`` = height / width.

    Panels are charts (lines, bars, scatter), heat maps, photograph-like textures or flow
    diagrams; several panels get letters (a), (b), ... as in journal figures.
    """
    plt = _pyplot()
    g = np.random.default_rng(rng.randrange(2**32))
    rows, cols = rng.choice([(1, 1)] * 5 + [(1, 2), (1, 3), (2, 2), (2, 1)])
    width = 4.0
    fig, axes = plt.subplots(rows, cols, figsize=(width, width * aspect), squeeze=False)
    for i, ax in enumerate(axes.flat):
        rng.choice(_PANELS)(ax, rng, g)
        ax.tick_params(labelsize=6)
        if ax.axison and rng.random() < 0.7:
            ax.set_xlabel(rng.choice(_WORDS), fontsize=7)
            ax.set_ylabel(rng.choice(_WORDS), fontsize=7)
        if rows * cols > 1:
            ax.set_title(f"({'abcdefgh'[i]})", fontsize=7, loc=rng.choice(["left", "center"]))
    fig.tight_layout(pad=0.3)
    fig.savefig(path, dpi=rng.choice([90, 110, 130]))
    plt.close(fig)
