"""Shared helpers of the figure scripts in figures/: one style, deterministic PNGs.

`style()` applies figures/normtheory.mplstyle (when the repository checkout has it) on
the non-interactive Agg backend; `save(fig, path)` writes a PNG whose bytes depend only
on the figure (no software tag or timestamp, fixed dpi); `annotate(ax, text)` writes the
measured agreement between law and simulation into a corner of the axes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

STYLE = Path(__file__).resolve().parents[2] / "figures" / "normtheory.mplstyle"
DPI = 150


def enable_x64() -> None:
    """Verification runs are float64: enable 64-bit JAX before any simulation."""
    import jax

    jax.config.update("jax_enable_x64", True)


@contextmanager
def style() -> Iterator[None]:
    """Context in which figures use the house style (Agg backend, fixed fonts and sizes)."""
    sheet = str(STYLE) if STYLE.exists() else "default"
    with plt.style.context(["default", sheet]):
        yield


def save(fig: plt.Figure, path: Path | str, dpi: int = DPI) -> Path:
    """Write `fig` as a PNG with no metadata that changes between runs; close it.

    The texts written with `annotate` (the measured agreement) are stored in the PNG's
    "Description" text chunk, one "axes title: text" per panel, so the report can quote
    what each figure measured (`measured_summary`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    metadata = {"Software": None}
    summary = _annotations(fig)
    if summary:
        metadata["Description"] = summary
    fig.savefig(path, format="png", dpi=dpi, metadata=metadata)
    plt.close(fig)
    return path


ANNOTATION = "normtheory-annotation"


def _annotations(fig: plt.Figure) -> str:
    parts = []
    for ax in fig.axes:
        for text in ax.texts:
            if text.get_gid() == ANNOTATION:
                lines = [" ".join(line.split()) for line in text.get_text().splitlines()]
                body = ""
                for line in filter(None, lines):
                    body += (" " if not body or body.endswith(":") else ", ") + line
                body = body.strip()
                title = ax.get_title().strip()
                parts.append(f"{title}: {body}" if title else body)
    return "; ".join(parts)


def measured_summary(path: Path | str) -> str:
    """The annotation texts `save` stored in a PNG ("" if none)."""
    from PIL import Image

    with Image.open(path) as image:
        return image.info.get("Description", "")


def annotate(ax: plt.Axes, text: str, loc: str = "upper left") -> None:
    """Write `text` (e.g. "median rel. error 0.4%") in a corner of `ax`."""
    x = 0.03 if "left" in loc else 0.97
    y = 0.97 if "upper" in loc else 0.03
    ax.text(
        x,
        y,
        text,
        transform=ax.transAxes,
        ha="left" if "left" in loc else "right",
        va="top" if "upper" in loc else "bottom",
        fontsize=7.5,
        bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.7", "alpha": 0.9},
        gid=ANNOTATION,
    )


def percent(x: float) -> str:
    """A relative error as a short percentage: 0.0041 -> '0.41%'."""
    x = float(x) * 100
    if x == 0:
        return "0%"
    if x < 1e-3:
        return f"{x:.1e}%"
    return f"{x:.2g}%" if x < 10 else f"{x:.0f}%"


def mean_std(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over `axis` (the seed axis)."""
    values = np.asarray(values, float)
    return values.mean(axis=axis), values.std(axis=axis)


def out_path(out_dir: Path | str, name: str) -> Path:
    """out_dir / name, as a Path."""
    return Path(out_dir) / name
