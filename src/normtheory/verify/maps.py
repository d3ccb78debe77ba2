"""Validity maps: one verification check swept over two regime axes.

`validity_map(check, x=("lr", [...]), y=("weight_decay", [...]))` runs the check at every
cell of the grid (each cell is `normtheory verify CHECK --set x=.. --set y=..` plus any
fixed `changes`), and returns a `ValidityMap`: the law's relative error, tolerance and
verdict in every cell, as arrays. `draw` plots it as a heatmap of error / tolerance with
the cells where the law holds outlined; `to_json` is the record the report reads.

Axes are config fields (lr, weight_decay, tau, dim, batch, zipf, momentum, b1, steps,
num_items, ...) or "eta_lam" (eta * lambda: weight_decay = eta_lam / lr in that cell).
Cells run one after another through the results cache, so a rerun is fast; a cell
whose configuration is impossible is recorded as "invalid" with the reason, and a cell
whose check crashed as "crashed".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from normtheory.config import ConfigError, SimConfig

DERIVED = ("eta_lam",)
MARKS = {
    "holds": "H",
    "partial": "P",
    "fails": "F",
    "inconclusive": "I",
    "not relaxed": "R",
    "not applicable": "-",
}


@dataclasses.dataclass(frozen=True)
class ValidityMap:
    """A check over a (y, x) grid. Arrays have shape (len(y_values), len(x_values)).

    law: the law of that row (the `Result.law` of the first cell that ran); label: that
    row's own name (`Result.row`, e.g. "compositional, heavy ball"; "" for a one-row check).
    rel_error, tolerance: the result row `row` of the check in each cell (NaN where the
    cell did not run); verdict: its verdict, or "invalid" / "crashed"; note: the
    reason for invalid or crashed cells, else the check's note.
    base: the full regime of that row (config field -> value) that every cell shares
    apart from the two axes (and weight_decay on an eta_lam axis), as the check ran it.
    fraction: for a per-item check, the fraction of items within tolerance in each cell
    (what decides its verdict); NaN elsewhere, None when no cell has one.
    """

    check: str
    law: str
    row: int
    x: str
    x_values: tuple[float, ...]
    y: str
    y_values: tuple[float, ...]
    changes: dict[str, Any]
    rel_error: np.ndarray
    tolerance: np.ndarray
    verdict: np.ndarray
    note: np.ndarray
    label: str = ""
    base: dict[str, Any] = dataclasses.field(default_factory=dict)
    fraction: np.ndarray | None = None

    def counts(self) -> dict[str, int]:
        """How many cells got each verdict."""
        values, counts = np.unique(self.verdict, return_counts=True)
        return {str(v): int(c) for v, c in zip(values, counts, strict=True)}

    def holds_region(self) -> str:
        """One sentence naming the cells where the law holds, by axis value."""
        held = [
            f"{self.x}={self.x_values[j]:g}, {self.y}={self.y_values[i]:g}"
            for i, j in zip(*np.nonzero(self.verdict == "holds"), strict=True)
        ]
        total = self.verdict.size
        if not held:
            return f"holds in none of the {total} cells"
        return f"holds in {len(held)} of {total} cells: " + "; ".join(held)

    def to_json(self) -> dict:
        def clean(a: np.ndarray) -> list:
            return [[None if not math.isfinite(v) else float(v) for v in row] for row in a]

        return {
            "check": self.check,
            "law": self.law,
            "row": self.row,
            "label": self.label,
            "x": self.x,
            "x_values": list(self.x_values),
            "y": self.y,
            "y_values": list(self.y_values),
            "changes": self.changes,
            "base": self.base,
            "rel_error": clean(self.rel_error),
            "tolerance": clean(self.tolerance),
            "fraction": None if self.fraction is None else clean(self.fraction),
            "verdict": self.verdict.tolist(),
            "note": self.note.tolist(),
            "counts": self.counts(),
        }


# A derived axis sets these fields in every cell; naming them too would be overwritten.
SETS = {"eta_lam": ("weight_decay",)}


def _axis_value(field: dataclasses.Field, value: float) -> int | float:
    """`value` as the field's type; ConfigError for a non-finite or non-integral int."""
    if not math.isfinite(value):
        raise ConfigError(f"map axis {field.name}={value!r}: values must be finite")
    if field.type in ("int", int):
        if value != int(value):
            raise ConfigError(f"map axis {field.name}={value!r}: expected an integer")
        return int(value)
    return float(value)


def check_axes(
    check: str,
    x: tuple[str, Sequence[float]],
    y: tuple[str, Sequence[float]],
    *,
    changes: Mapping[str, Any] | None = None,
    row: int = 0,
) -> None:
    """Refuse a map that cannot be drawn as asked, before anything runs or is written.

    Raises KeyError for an unknown check and ConfigError (one line) for an unknown,
    repeated or conflicting axis (an axis, or a fixed change, that a derived axis
    overwrites: eta_lam sets weight_decay), an empty axis, a repeated, non-finite or
    non-integral value, or a negative row.
    """
    from normtheory.verify import CHECKS

    if check not in CHECKS:
        raise KeyError(f"unknown check {check!r}; known: {', '.join(CHECKS)}")
    if isinstance(row, bool) or not isinstance(row, int) or row < 0:
        raise ConfigError(f"--row {row!r}: expected an integer >= 0")
    (x_name, x_values), (y_name, y_values) = x, y
    if x_name == y_name:
        raise ConfigError(f"the two axes must differ (both are {x_name!r})")
    fixed = dict(changes or {})
    for name in (x_name, y_name):
        for other in SETS.get(name, ()):
            if other in (x_name, y_name) or other in fixed:
                raise ConfigError(
                    f"axis {name} sets {other} in every cell, so {other} cannot also be an "
                    "axis or a --set; choose one of them"
                )
        if name in fixed:
            raise ConfigError(f"{name} is both an axis and a --set; choose one")
    fields = {f.name: f for f in dataclasses.fields(SimConfig)}
    for name, values in ((x_name, x_values), (y_name, y_values)):
        if not len(values):
            raise ConfigError(f"axis {name} needs at least one value")
        if name not in fields and name not in DERIVED:
            known = ", ".join([*fields, *DERIVED])
            raise ConfigError(f"unknown map axis {name!r}; known: {known}")
        if name in fields:
            typed = [_axis_value(fields[name], float(v)) for v in values]
        else:
            typed = [float(v) for v in values]
            if not all(math.isfinite(v) for v in typed):
                raise ConfigError(f"map axis {name}: values must be finite")
        if len(set(typed)) != len(typed):
            raise ConfigError(f"map axis {name}={list(values)!r} repeats a value")
    CHECKS[check][1].replace(**fixed)


def _cell_changes(base: SimConfig, cell: Mapping[str, float]) -> dict[str, Any]:
    """Config changes of one cell: fields as given, eta_lam turned into weight_decay."""
    fields = {f.name: f for f in dataclasses.fields(SimConfig)}
    changes: dict[str, Any] = {}
    for name, value in cell.items():
        if name in DERIVED:
            continue
        if name not in fields:
            known = ", ".join([*fields, *DERIVED])
            raise ConfigError(f"unknown map axis {name!r}; known: {known}")
        changes[name] = _axis_value(fields[name], float(value))
    if "eta_lam" in cell:
        lr = changes.get("lr", base.lr)
        changes["weight_decay"] = float(cell["eta_lam"]) / lr
    return changes


def validity_map(
    check: str,
    x: tuple[str, Sequence[float]],
    y: tuple[str, Sequence[float]],
    *,
    changes: Mapping[str, Any] | None = None,
    row: int = 0,
    progress: Callable[[str], object] | None = None,
) -> ValidityMap:
    """Run `check` at every cell of the x-by-y grid; see the module docstring.

    Args:
        check: a name of `normtheory.verify.CHECKS`.
        x, y: (axis name, values); the axes must differ.
        changes: fixed config changes applied in every cell (like verify's --set).
        row: which result row of the check the map shows (a check may return several).
        progress: called with a line per cell.

    Returns:
        The `ValidityMap`.

    Raises:
        KeyError, ConfigError: as `check_axes`, before any cell runs.
    """
    from normtheory.verify import CHECKS, run_checks

    check_axes(check, x, y, changes=changes, row=row)
    (x_name, x_values), (y_name, y_values) = x, y
    base = CHECKS[check][1].replace(**dict(changes or {}))
    _cell_changes(base, {x_name: x_values[0], y_name: y_values[0]} | dict.fromkeys(DERIVED, 0))
    shape = (len(y_values), len(x_values))
    rel_error, tolerance = np.full(shape, np.nan), np.full(shape, np.nan)
    fraction = np.full(shape, np.nan)
    verdict = np.full(shape, "invalid", dtype=object)
    note = np.full(shape, "", dtype=object)
    law = label = ""
    regime: dict[str, Any] = {}
    for i, yv in enumerate(y_values):
        for j, xv in enumerate(x_values):
            cell = {x_name: xv, y_name: yv}
            if progress is not None:
                progress(f"{check}: {x_name}={xv:g}, {y_name}={yv:g}")
            try:
                cell_changes = {**dict(changes or {}), **_cell_changes(base, cell)}
                base.replace(**cell_changes)  # an impossible cell is recorded, not run
            except ConfigError as error:
                note[i, j] = str(error)
                continue
            assignments = [f"{k}={v}" for k, v in cell_changes.items()]
            results, crashes = run_checks([check], assignments)
            if crashes:
                verdict[i, j] = "crashed"
                note[i, j] = crashes[check].strip().splitlines()[-1]
                continue
            if row >= len(results):
                raise ConfigError(f"check {check!r} returns {len(results)} rows; row={row}")
            result = results[row]
            law = law or result.law
            regime = regime or dict(result.config)
            label = label or result.row.split(" (--set ")[0]
            rel_error[i, j], tolerance[i, j] = result.rel_error, result.tolerance
            fraction[i, j] = result.fraction_holding
            verdict[i, j], note[i, j] = result.verdict, result.note
    return ValidityMap(
        check=check,
        law=law or check,
        row=row,
        x=x_name,
        x_values=tuple(float(v) for v in x_values),
        y=y_name,
        y_values=tuple(float(v) for v in y_values),
        changes=dict(changes or {}),
        label=label,
        fraction=fraction if np.isfinite(fraction).any() else None,
        rel_error=rel_error,
        tolerance=tolerance,
        verdict=verdict.astype(str),
        note=note.astype(str),
        base=regime,
    )


def draw(vmap: ValidityMap, path: Path | str) -> Path:
    """Heatmap of log10(error / tolerance); holds cells outlined, verdict letter in each."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from normtheory import figures

    ratio = np.log10(vmap.rel_error / vmap.tolerance)
    with figures.style():
        fig, ax = plt.subplots(
            figsize=(1.2 * len(vmap.x_values) + 2.5, 0.9 * len(vmap.y_values) + 1.8)
        )
        limit = max(1.0, float(np.nanmax(np.abs(ratio))) if np.isfinite(ratio).any() else 1.0)
        image = ax.imshow(ratio, cmap="RdBu_r", vmin=-limit, vmax=limit, origin="lower",
                          aspect="auto")  # fmt: skip
        for i in range(len(vmap.y_values)):
            for j in range(len(vmap.x_values)):
                mark = MARKS.get(vmap.verdict[i, j], "x")
                ax.text(j, i, mark, ha="center", va="center", fontsize=11)
                if vmap.verdict[i, j] == "holds":
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2.2,
                                           edgecolor="k"))  # fmt: skip
        ax.set_xticks(range(len(vmap.x_values)), [f"{v:g}" for v in vmap.x_values])
        ax.set_yticks(range(len(vmap.y_values)), [f"{v:g}" for v in vmap.y_values])
        ax.set_xlabel(vmap.x)
        ax.set_ylabel(vmap.y)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(vmap.counts().items()))
        row = f" ({vmap.label})" if vmap.label else ""
        ax.set_title(f"{vmap.check}{row}: {counts}", fontsize=10)
        fig.colorbar(image, ax=ax, label=r"$\log_{10}$(rel. error / tolerance)")
        key = (
            "H holds (outlined), P partial, F fails, I inconclusive, R not relaxed, "
            "- not applicable"
        )
        fig.text(0.5, 0.01, key, ha="center", va="bottom", fontsize=8)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        return figures.save(fig, Path(path))


def _row_verdict(results: Sequence[Any], law: str, label: str) -> str:
    """The verdict of `law`'s result row named `label` (a row whose fields a --set
    replaced is named "label (--set ...)"), else the law's first verdict, else "not run"."""
    first = None
    for r in results:
        if r.law != law:
            continue
        first = first or r.verdict
        if r.row == label or r.row.startswith(f"{label} (--set "):
            return r.verdict
    return first or "not run"


def section(record: Mapping[str, Any] | None, results: Sequence[Any]) -> list[str]:
    """REPORT.md's validity-map section from a maps.json record (`fig12_validity_maps`):
    per law, its verdict at the default, the cells holding, and each claim with its
    validation (test points agreeing) and the region stated only where it passed."""
    from normtheory.verify import claims as _claims

    if not record:
        return []
    data = record.get("maps", {})
    found = [_claims.Claim.from_json(c) for c in record.get("claims", [])]
    laws = [m.get("law", m["check"]) for m in data.values()]
    level = record.get("validation", "none")
    lines = [
        "## Validity maps",
        "",
        "Each approximate law's check run over a grid of two regime axes (figure 12, "
        "`figures/maps.json`; `normtheory map` draws any other), everything else at the "
        "check's base regime. A map's largest rectangle of cells with one verdict is a "
        "candidate claim; it is tested where the map did not look (random off-grid values "
        "of the two axes inside it, and one setting the map held fixed changed at a "
        f"time) and stated only when at least {_claims.MIN_AGREEMENT:.0%} of at least "
        f"{_claims.MIN_POINTS} test points agree. Validation here: {level} "
        "(`make validate` runs the full one). `normtheory verify --json` reports, as "
        "`claimed`, what a stated claim says about the regime it ran.",
        "",
        "| law | item | at its default | cells holding | axes | claim | test points agreeing "
        "| stated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in data.values():
        law, label = m.get("law", m["check"]), m.get("label", "")
        shown = f"{law} ({label})" if label and laws.count(law) > 1 else law
        item = next((r.item for r in results if r.law == law), "")
        cells = sum(len(row) for row in m["verdict"])
        held = sum(v == "holds" for row in m["verdict"] for v in row)
        mine = [c for c in found if c.check == m["check"] and c.row == m.get("row", 0)]
        if not mine:
            mine_rows = [("none", "", "")]
        else:
            mine_rows = []
            for c in mine:
                n = len(c.tests)
                agree = sum(t.verdict == c.verdict for t in c.tests)
                tested = f"{agree} of {n}" if n else "not validated"
                if c.stated:
                    stated = f"{c.verdict} for {c.region()}"
                elif n:
                    stated = f"{c.verdict} at the tested points only"
                else:
                    stated = "not stated (not validated)"
                cells_text = f"{c.cells} cell{'s' if c.cells != 1 else ''}"
                mine_rows.append((f"{c.verdict}: {c.region()} ({cells_text})", tested, stated))
        for claim, tested, stated in mine_rows:
            lines.append(
                f"| {shown} | {item} | {_row_verdict(results, law, label)} | {held} of {cells} "
                f"| {m['x']} x {m['y']} | {claim} | {tested} | {stated} |"
            )
    failed = [(c, t) for c in found for t in c.tests if t.verdict != c.verdict and c.tests]
    if failed:
        lines += ["", "Test points that disagreed with their claim:", ""]
        for c, t in failed:
            changes = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in t.changes.items())  # fmt: skip
            name = f"{c.law}, {c.label}" if c.label else c.law
            lines.append(f"- {name} ({c.verdict} claim, {t.kind}) at {changes}: {t.verdict}")
    return [*lines, ""]
