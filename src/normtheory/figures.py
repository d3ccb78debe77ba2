"""Shared helpers of the figure scripts in figures/: one style, paper sizes, records.

`style()` applies the package's style sheet, normtheory.mplstyle (package data, so an
installed wheel has it too), on the non-interactive Agg backend. `save(fig, path,
caption=..., measured=..., width=...)` sizes the figure for a two-column paper (WIDTHS:
one column, 3.3 in, or the full text width, 6.9 in), raises every text below MIN_FONT
points to it, and writes a PNG and a PDF beside it whose bytes depend only on the figure
(no software tag, producer version or timestamp; fixed dpi; fonts embedded as TrueType,
not Type 3), so a rerun gives identical files. Beside them goes `<stem>.json` with the
caption and the named numbers the figure measured, so the report quotes them without
reading the image. A figure script's `main` returns a `FigureRecord`: the PNG's path,
the arrays it plotted and the numbers it measured.
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
from typing import Literal

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np

STYLE = resources.files("normtheory").joinpath("normtheory.mplstyle")
# Raster resolution of the PNG at a paper width, and of a figure kept at its own (larger)
# size; the PDF beside it is vector.
DPI = 300
SCREEN_DPI = 150
# Widths of a two-column paper, in inches: one column and the full text width.
WIDTHS: dict[str, float] = {"column": 3.3, "full": 6.9}
Width = Literal["column", "full"]
# The smallest font size, in points, a figure may print at its paper width.
MIN_FONT = 7.0
# PDF document information: fixed strings and no dates, so a rerun writes the same bytes.
PDF_METADATA = {"Creator": "normtheory", "Producer": "normtheory", "CreationDate": None}


def enable_x64() -> None:
    """Verification runs are float64: set JAX up before any simulation
    (`normtheory.runtime.prepare`: 64-bit types, the persistent compilation cache)."""
    from normtheory.runtime import prepare

    prepare()


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
    summary: str = ""

    def to_json(self) -> dict:
        """The JSON sidecar's content: figure name, summary, caption, measured numbers."""
        return sidecar(self.path, self.caption, self.measured, self.summary)


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


def summary_line(text: str | None) -> str:
    """The first non-empty line of `text` (a script's docstring), stripped; "" for None."""
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def sidecar(
    path: Path | str, caption: str, measured: Mapping[str, float], summary: str | None = None
) -> dict:
    """The JSON record of a figure (non-finite numbers become null): its file name, what
    it shows (`summary`, the first line of the text given, when given), what it measured
    (`caption`) and the numbers."""
    numbers = {}
    for name, value in measured.items():
        value = float(value)
        numbers[name] = value if math.isfinite(value) else None
    record = {"figure": Path(path).name, "caption": caption, "measured": numbers}
    if summary_line(summary):
        record["summary"] = summary_line(summary)
    return record


def record_path(png: Path | str) -> Path:
    """Where `save` writes the JSON record of the figure `png`: `<stem>.json` beside it."""
    return Path(png).with_suffix(".json")


def read_record(png: Path | str) -> dict | None:
    """The JSON record `save` wrote beside `png`, or None if there is none."""
    path = record_path(png)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def paper_width(fig: plt.Figure, width: Width | None = None) -> float:
    """The paper width, in inches, `save` gives `fig`: WIDTHS[width], or when `width` is
    None the one of WIDTHS nearest the figure's own width.

    Raises ValueError naming the accepted widths for any other `width`.
    """
    if width is None:
        current = float(fig.get_figwidth())
        return min(WIDTHS.values(), key=lambda w: abs(w - current))
    return _named_width(width)


def _named_width(width: str) -> float:
    """WIDTHS[width]; a ValueError naming the accepted widths for any other value."""
    if width not in WIDTHS:
        raise ValueError(f"width must be one of {', '.join(map(repr, WIDTHS))}, got {width!r}")
    return WIDTHS[width]


def subplots(
    rows: int = 1,
    cols: int = 1,
    *,
    width: Width = "full",
    height: float | None = None,
    **kwargs,
) -> tuple[plt.Figure, np.ndarray]:
    """`plt.subplots` at a paper width (WIDTHS[width] inches) with constrained layout.

    `height` in inches (default: 0.75 of the width per row, for one column of panels;
    2.3 in per row otherwise). Other arguments go to `plt.subplots`; `squeeze` defaults
    to False, so the axes are always a (rows, cols) array.
    """
    w = _named_width(width)
    if height is None:
        height = rows * (0.75 * w if cols == 1 else 2.3)
    kwargs.setdefault("squeeze", False)
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(rows, cols, figsize=(w, height), **kwargs)


def texts(fig: plt.Figure) -> list[matplotlib.text.Text]:
    """Every visible, non-empty text of `fig` (titles, labels, tick labels, legends, notes).

    Tick labels exist only once the figure is drawn: draw it first for a complete list.
    """
    return [
        t
        for t in fig.findobj(matplotlib.text.Text)
        if t.get_visible() and t.get_text().strip() and t.figure is not None
    ]


def smallest_font(fig: plt.Figure) -> float:
    """The smallest font size, in points, among the texts the figure draws (`texts`)."""
    fig.canvas.draw()
    return min((t.get_fontsize() for t in texts(fig)), default=math.inf)


def _raise_small_fonts(fig: plt.Figure) -> None:
    """Set every text below MIN_FONT points to MIN_FONT (tick labels included)."""
    for _ in range(2):  # redrawing may make new tick labels, which copy the first tick's
        fig.canvas.draw()
        small = [t for t in texts(fig) if t.get_fontsize() < MIN_FONT]
        for t in small:
            t.set_fontsize(MIN_FONT)
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                labels = axis.get_ticklabels(which="both")
                if any(t.get_fontsize() < MIN_FONT for t in labels):
                    axis.set_tick_params(which="both", labelsize=MIN_FONT)
        if not small:
            return


def _fit(fig: plt.Figure, width: float) -> None:
    """Scale `fig` to `width` inches at its aspect ratio and lay it out again.

    A figure with a layout engine (constrained, tight) is laid out when drawn. One
    without gets constrained layout, its figure legends moved outside the axes (below or
    above, where they were), and its title wraps at the figure's width. Fonts keep their
    size in points, so a figure designed much wider than the paper may not fit: matplotlib
    then warns that constrained layout was not applied, and the script should draw at the
    paper width itself (`subplots`).
    """
    w, h = fig.get_size_inches()
    if abs(w - width) < 1e-6:
        return
    fig.set_size_inches(width, h * width / w)
    if getattr(fig, "_suptitle", None) is not None:
        fig._suptitle.set_wrap(True)
    if fig.get_layout_engine() is not None:
        return
    fig.canvas.draw()
    for legend in list(fig.legends):
        box = legend.get_window_extent().transformed(fig.transFigure.inverted())
        side = "lower" if (box.y0 + box.y1) / 2 < 0.5 else "upper"
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.texts]
        ncols = legend._ncols
        legend.remove()
        fig.legend(handles, labels, loc=f"outside {side} center", ncols=ncols)
    fig.set_layout_engine("constrained")


def save(
    fig: plt.Figure,
    path: Path | str,
    dpi: int | None = None,
    *,
    caption: str | None = None,
    measured: Mapping[str, float] | None = None,
    width: Width | None = None,
    summary: str | None = None,
) -> Path:
    """Write `fig` as a PNG and a PDF for a two-column paper, deterministically; close it.

    Args:
        fig: the figure; drawn in the house style (`style`).
        path: the PNG's path (`.png`); the PDF goes beside it with the suffix `.pdf`.
        dpi: the PNG's resolution (default: DPI at a paper width, SCREEN_DPI for a
            figure kept at its own size).
        caption, measured: with either, also write `<stem>.json` beside the PNG
            (`sidecar`), which the report reads. The images carry no text chunk.
        summary: what the figure shows (its script's docstring: the first line is kept),
            recorded with the caption; the report lists it beside the figure.
        width: "column" (3.3 in) or "full" (6.9 in): the figure is scaled to that width
            at its aspect ratio and laid out again (`_fit`); fonts stay in points. None
            keeps the figure's own size (a figure not yet drawn for a paper page: scaling
            a 10-17 in multi-panel figure down to 6.9 in with fonts of at least 7 pt
            overlaps its panels). Either way every text below MIN_FONT points is raised
            to it.

    Returns:
        The PNG's path. Both files are written atomically (a reader sees the old file or
        the new) and depend only on the figure: no dates, no software versions.
    """
    from normtheory._files import atomic_write, write_text

    path = Path(path)
    if path.suffix != ".png":
        raise ValueError(f"a figure's path must end in .png (the PDF goes beside it): {path}")
    target = None if width is None else _named_width(width)
    dpi = dpi or (DPI if target is not None else SCREEN_DPI)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    _raise_small_fonts(fig)
    if target is not None:
        _fit(fig, target)
    png = {"Software": None}
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi, metadata=png))
    atomic_write(
        path.with_suffix(".pdf"), lambda f: fig.savefig(f, format="pdf", metadata=PDF_METADATA)
    )
    plt.close(fig)
    if caption is not None or measured:
        record = sidecar(path, caption or "", measured or {}, summary)
        write_text(record_path(path), json.dumps(record, indent=1, allow_nan=False) + "\n")
    return path


def finish(
    fig: plt.Figure,
    path: Path | str,
    caption: str,
    measured: Mapping[str, float],
    arrays: Mapping[str, np.ndarray] | None = None,
    *,
    width: Width | None = None,
    summary: str | None = None,
) -> FigureRecord:
    """`save` the figure (PNG and PDF at `width`) with its caption, numbers and summary
    (what it shows: pass the script's `__doc__`); return its `FigureRecord`."""
    path = save(fig, path, caption=caption, measured=measured, width=width, summary=summary)
    plotted = {name: np.asarray(value) for name, value in (arrays or {}).items()}
    return FigureRecord(
        path=path,
        caption=caption,
        measured=dict(measured),
        arrays=plotted,
        summary=summary_line(summary),
    )


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
