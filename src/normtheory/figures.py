"""Shared helpers of the figure scripts in figures/: one style, deterministic PNGs, records.

`style()` applies the package's style sheet, normtheory.mplstyle (package data, so an
installed wheel has it too), on the non-interactive Agg backend; `save(fig, path,
caption=..., measured=...)` writes a PNG whose bytes depend only on the figure (no
software tag or timestamp, fixed dpi) and, beside it, `<stem>.json` with the caption and
the named numbers the figure measured, so the report quotes them without reading the
image. A figure script's `main` returns a `FigureRecord`: the PNG's path, the arrays it
plotted and the numbers it measured.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

STYLE = resources.files("normtheory").joinpath("normtheory.mplstyle")
DPI = 150


def enable_x64() -> None:
    """Verification runs are float64: enable 64-bit JAX before any simulation."""
    import jax

    jax.config.update("jax_enable_x64", True)


@contextmanager
def style() -> Iterator[None]:
    """Context in which figures use the house style (Agg backend, fixed fonts and sizes)."""
    with resources.as_file(STYLE) as sheet, plt.style.context(["default", str(sheet)]):
        yield


@dataclasses.dataclass(frozen=True)
class FigureRecord:
    """What a figure plotted and what it measured.

    path: the PNG. caption: one line stating what was measured, built from `measured`.
    measured: named numbers (agreement of law and simulation, fitted slopes, counts),
    also written to `<stem>.json` beside the PNG. arrays: the arrays the figure plotted,
    by name (not written to disk; tests check them).
    """

    path: Path
    caption: str
    measured: Mapping[str, float]
    arrays: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        """The JSON sidecar's content: figure name, caption, measured numbers."""
        return sidecar(self.path, self.caption, self.measured)


def per_level(values: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-level averages of a per-item quantity, then their mean and sd over seeds.

    Args:
        values: (seeds, I) one value per seed and item.
        level: (I,) each item's level (a tree depth, a class count, ...).

    Returns:
        (levels (L,) sorted, mean (L,), sd (L,)): for each level the mean over its items,
        averaged over seeds, and the standard deviation of that per-seed mean.
    """
    values, level = np.asarray(values), np.asarray(level)
    levels = np.unique(level)
    by_level = np.stack([values[:, level == k].mean(axis=1) for k in levels], axis=1)
    return levels, by_level.mean(axis=0), by_level.std(axis=0)


def sidecar(path: Path | str, caption: str, measured: Mapping[str, float]) -> dict:
    """The JSON record of a figure (non-finite numbers become null)."""
    numbers = {}
    for name, value in measured.items():
        value = float(value)
        numbers[name] = value if math.isfinite(value) else None
    return {"figure": Path(path).name, "caption": caption, "measured": numbers}


def record_path(png: Path | str) -> Path:
    """Where `save` writes the JSON record of the figure `png`: `<stem>.json` beside it."""
    return Path(png).with_suffix(".json")


def read_record(png: Path | str) -> dict | None:
    """The JSON record `save` wrote beside `png`, or None if there is none."""
    path = record_path(png)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def save(
    fig: plt.Figure,
    path: Path | str,
    dpi: int = DPI,
    *,
    caption: str | None = None,
    measured: Mapping[str, float] | None = None,
) -> Path:
    """Write `fig` as a PNG with no metadata that changes between runs; close it.

    With a `caption` or `measured` numbers, also write `<stem>.json` beside the PNG
    (`sidecar`), which the report reads. The PNG itself carries no text chunk.
    """
    from normtheory.cache import write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    fig.savefig(path, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    if caption is not None or measured:
        record = sidecar(path, caption or "", measured or {})
        write_text(record_path(path), json.dumps(record, indent=1, allow_nan=False) + "\n")
    return path


def finish(
    fig: plt.Figure,
    path: Path | str,
    caption: str,
    measured: Mapping[str, float],
    arrays: Mapping[str, np.ndarray] | None = None,
) -> FigureRecord:
    """`save` the figure with its caption and numbers; return its `FigureRecord`."""
    path = save(fig, path, caption=caption, measured=measured)
    plotted = {name: np.asarray(value) for name, value in (arrays or {}).items()}
    return FigureRecord(path=path, caption=caption, measured=dict(measured), arrays=plotted)


def legend_note(ax: plt.Axes, text: str) -> None:
    """Add `text` as a legend entry without a marker (numbers beside the data they describe)."""
    ax.plot([], [], " ", label=text)


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
