"""Claims about where a law holds, tested before they are stated.

A validity map (`normtheory.verify.maps`) runs a check on a grid of two regime axes
with every other setting at the check's base regime. Read naively, its "holds" cells
say more than was tested: that the law holds between the grid values, and with the
settings that were held fixed changed. Here a map's cells become a *candidate claim*
(`candidates`): the largest rectangle of grid cells that share a verdict ("holds" or
"fails"), as intervals on the two swept axes. `validate` then tests the candidate
where the map did not look:

- interior points: random off-grid values of the two swept axes inside the intervals
  (log-uniform for positive axes), drawn with a fixed seed;
- unswept settings: one at a time, a setting the map held fixed (batch, num_items, dim,
  tau, zipf, loss, init_scale, steps) changed at the rectangle's central cell.

Each test point runs the check and records its verdict; it agrees when the verdict is
the claimed one. A claim is *stated* only when at least `MIN_AGREEMENT` of its test
points agree (and there are at least `MIN_POINTS`); otherwise the map says "holds at
the tested points only" and `claimed` never cites it.

`claimed(config, law, row, claims)` answers what the package stands behind for one
regime: "holds" or "fails" when the regime lies inside a stated claim of that law's row
(its swept axes within the intervals, every other setting equal to the claim's base
regime, or differing in exactly one setting that the validation changed with
agreement), else "none".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from normtheory.config import SUPPORTED, ConfigError, SimConfig

__all__ = [
    "DEFAULT_CLAIMS",
    "MIN_AGREEMENT",
    "MIN_POINTS",
    "UNSWEPT",
    "Claim",
    "TestPoint",
    "candidates",
    "claimed",
    "load_claims",
    "validate",
]

# The repository's validated claims (written by figures/fig12_validity_maps.py).
DEFAULT_CLAIMS = Path(__file__).resolve().parents[3] / "figures" / "maps.json"
MIN_AGREEMENT = 0.9
MIN_POINTS = 3
# The settings a map holds fixed that the validation changes, one at a time.
UNSWEPT = ("batch", "num_items", "dim", "tau", "zipf", "loss", "init_scale", "steps")
CLAIMABLE = ("holds", "fails")


@dataclasses.dataclass(frozen=True)
class TestPoint:
    """One test of a claim: its kind ("interior" or "unswept"), the config changes from
    the claim's base regime, the verdict the check gave there, and the rel. error and
    tolerance of the claimed row."""

    kind: str
    changes: dict[str, Any]
    verdict: str
    rel_error: float = math.nan
    tolerance: float = math.nan

    def to_json(self) -> dict:
        def clean(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "kind": self.kind,
            "changes": self.changes,
            "verdict": self.verdict,
            "rel_error": clean(self.rel_error),
            "tolerance": clean(self.tolerance),
        }


@dataclasses.dataclass(frozen=True)
class Claim:
    """A region of a map where one verdict is claimed, with the tests of that claim.

    check, row, law, label: which check's which result row (as the map).
    verdict: the claimed verdict, "holds" or "fails".
    x, x_range, y, y_range: the swept axes and the closed intervals claimed on them.
    changes: the map's fixed changes of the check's default (what the tests start from).
    base: the row's full regime (field -> value) every point shares apart from the axes.
    cells: how many grid cells the rectangle covers.
    tests: the validation's test points (empty before `validate`).
    """

    check: str
    row: int
    law: str
    label: str
    verdict: str
    x: str
    x_range: tuple[float, float]
    y: str
    y_range: tuple[float, float]
    changes: dict[str, Any]
    base: dict[str, Any]
    cells: int
    tests: tuple[TestPoint, ...] = ()

    @property
    def agreement(self) -> float:
        """Fraction of test points whose verdict is the claimed one (NaN if untested)."""
        if not self.tests:
            return math.nan
        return sum(t.verdict == self.verdict for t in self.tests) / len(self.tests)

    @property
    def stated(self) -> bool:
        """Whether the validation supports stating the claim."""
        return len(self.tests) >= MIN_POINTS and self.agreement >= MIN_AGREEMENT

    def region(self) -> str:
        """The claimed intervals as text, e.g. "lr in [0.1, 0.5], tau = 0.1"."""

        def axis(name: str, bounds: tuple[float, float]) -> str:
            lo, hi = bounds
            return f"{name} = {lo:g}" if lo == hi else f"{name} in [{lo:g}, {hi:g}]"

        return f"{axis(self.x, self.x_range)}, {axis(self.y, self.y_range)}"

    def agreed_changes(self) -> list[dict[str, Any]]:
        """The unswept single-setting changes whose test agreed with the claim."""
        return [t.changes for t in self.tests if t.kind == "unswept" and t.verdict == self.verdict]

    def to_json(self) -> dict:
        return {
            "check": self.check,
            "row": self.row,
            "law": self.law,
            "label": self.label,
            "verdict": self.verdict,
            "x": self.x,
            "x_range": list(self.x_range),
            "y": self.y,
            "y_range": list(self.y_range),
            "changes": self.changes,
            "base": self.base,
            "cells": self.cells,
            "tests": [t.to_json() for t in self.tests],
            "agreement": None if math.isnan(self.agreement) else self.agreement,
            "stated": self.stated,
            "region": self.region(),
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Claim:
        tests = tuple(
            TestPoint(
                kind=t["kind"],
                changes=dict(t["changes"]),
                verdict=t["verdict"],
                rel_error=math.nan if t.get("rel_error") is None else t["rel_error"],
                tolerance=math.nan if t.get("tolerance") is None else t["tolerance"],
            )
            for t in record.get("tests", ())
        )
        return cls(
            check=record["check"],
            row=int(record["row"]),
            law=record["law"],
            label=record.get("label", ""),
            verdict=record["verdict"],
            x=record["x"],
            x_range=(float(record["x_range"][0]), float(record["x_range"][1])),
            y=record["y"],
            y_range=(float(record["y_range"][0]), float(record["y_range"][1])),
            changes=dict(record.get("changes", {})),
            base=dict(record["base"]),
            cells=int(record["cells"]),
            tests=tests,
        )


def _largest_rectangle(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(i0, i1, j0, j1) inclusive of the largest all-True rectangle of `mask` (rows i,
    columns j); ties go to the first found. None when `mask` has no True."""
    best, size = None, 0
    rows, cols = mask.shape
    for i0 in range(rows):
        for i1 in range(i0, rows):
            for j0 in range(cols):
                for j1 in range(j0, cols):
                    area = (i1 - i0 + 1) * (j1 - j0 + 1)
                    if area > size and mask[i0 : i1 + 1, j0 : j1 + 1].all():
                        best, size = (i0, i1, j0, j1), area
    return best


def candidates(vmap: Any) -> list[Claim]:
    """The candidate claims of a `ValidityMap`: for "holds" and for "fails", the largest
    rectangle of cells with that verdict (none where no cell has it)."""
    out = []
    for verdict in CLAIMABLE:
        found = _largest_rectangle(np.asarray(vmap.verdict) == verdict)
        if found is None:
            continue
        i0, i1, j0, j1 = found
        xs = sorted(vmap.x_values[j0 : j1 + 1])
        ys = sorted(vmap.y_values[i0 : i1 + 1])
        # Grid values need not be sorted: the rectangle is in index space, so a claim
        # over a non-monotone axis covers only its own values' span if contiguous.
        if list(vmap.x_values) != sorted(vmap.x_values) or list(vmap.y_values) != sorted(
            vmap.y_values
        ):
            raise ConfigError(f"map {vmap.check}: axis values must be increasing to claim")
        out.append(
            Claim(
                check=vmap.check,
                row=vmap.row,
                law=vmap.law,
                label=vmap.label,
                verdict=verdict,
                x=vmap.x,
                x_range=(xs[0], xs[-1]),
                y=vmap.y,
                y_range=(ys[0], ys[-1]),
                changes=dict(vmap.changes),
                base=dict(vmap.base),
                cells=(i1 - i0 + 1) * (j1 - j0 + 1),
            )
        )
    return out


def _is_int_field(name: str) -> bool:
    fields = {f.name: f for f in dataclasses.fields(SimConfig)}
    return name in fields and fields[name].type in ("int", int)


def _draw(rng: np.random.Generator, name: str, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    if lo == hi:
        return lo
    if lo > 0:
        value = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    else:
        value = float(rng.uniform(lo, hi))
    return float(round(value)) if _is_int_field(name) else float(f"{value:.4g}")


def _interior(claim: Claim, n: int, grid: Mapping[str, Sequence[float]]) -> list[dict]:
    """n random off-grid points of the claim's rectangle (fewer where it has none)."""
    if claim.x_range[0] == claim.x_range[1] and claim.y_range[0] == claim.y_range[1]:
        return []
    seed = int(
        hashlib.sha256(f"{claim.check}/{claim.row}/{claim.verdict}".encode()).hexdigest(), 16
    )
    rng = np.random.default_rng(seed % 2**32)
    points: list[dict] = []
    for _ in range(20 * n):
        if len(points) == n:
            break
        point = {
            claim.x: _draw(rng, claim.x, claim.x_range),
            claim.y: _draw(rng, claim.y, claim.y_range),
        }
        on_grid = point[claim.x] in grid[claim.x] and point[claim.y] in grid[claim.y]
        if not on_grid and point not in points:
            points.append(point)
    return points


def _centre(values: Sequence[float], bounds: tuple[float, float]) -> float:
    inside = [v for v in values if bounds[0] <= v <= bounds[1]]
    return sorted(inside)[(len(inside) - 1) // 2]


def _changed(name: str, base: Mapping[str, Any]) -> Any:
    """A moderate change of one unswept setting (None where it does not apply)."""
    value = base[name]
    if name == "loss":
        others = [loss for loss in SUPPORTED[base["data"]][1] if loss != value]
        return others[0] if others else None
    if name == "zipf":
        return None if base["data"] != "frequency" else round(value + 0.4, 6)
    if name == "num_items" and base["data"] not in ("frequency", "ambiguity"):
        return None
    if name == "batch":
        return max(4, value // 2)
    if name in ("num_items", "dim"):
        return value * 2
    if name == "steps":
        return int(math.ceil(1.5 * value / base["stride"]) * base["stride"])
    if name == "tau":
        return round(value * 1.5, 6)
    if name == "init_scale":
        return value / 2
    return None


def test_points(
    claim: Claim,
    grid: Mapping[str, Sequence[float]],
    *,
    interior: int = 4,
    unswept: Sequence[str] = UNSWEPT,
) -> list[tuple[str, dict[str, Any]]]:
    """(kind, changes from the base regime) of every test of `claim`, in order."""
    out = [("interior", p) for p in _interior(claim, interior, grid)]
    centre = {
        claim.x: _centre(grid[claim.x], claim.x_range),
        claim.y: _centre(grid[claim.y], claim.y_range),
    }
    for name in unswept:
        if name in (claim.x, claim.y) or name not in claim.base:
            continue
        value = _changed(name, claim.base)
        if value is None or value == claim.base[name]:
            continue
        out.append(("unswept", {**centre, name: value}))
    return out


def validate(
    claim: Claim,
    grid: Mapping[str, Sequence[float]],
    *,
    interior: int = 4,
    unswept: Sequence[str] = UNSWEPT,
    progress: Callable[[str], object] | None = None,
) -> Claim:
    """`claim` with its tests run (see the module docstring).

    Args:
        claim: a candidate from `candidates`.
        grid: the map's axis values by axis name (interior points avoid them).
        interior: how many random interior points to try.
        unswept: which fixed settings to change, one at a time.
        progress: called with one line per test point.

    Returns:
        The claim with `tests` filled (a crashed or impossible point counts as a
        disagreement, with its verdict "crashed" or "invalid").
    """
    from normtheory.verify import CHECKS, run_checks
    from normtheory.verify.maps import _cell_changes

    default = CHECKS[claim.check][1]
    tests = []
    for kind, changes in test_points(claim, grid, interior=interior, unswept=unswept):
        if progress is not None:
            shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in changes.items())  # fmt: skip
            progress(f"{claim.check} ({claim.verdict} claim) {kind}: {shown}")
        axes = {k: v for k, v in changes.items() if k in (claim.x, claim.y)}
        rest = {k: v for k, v in changes.items() if k not in axes}
        try:
            fixed = {**claim.changes, **rest}
            fixed.update(_cell_changes(default.replace(**fixed), axes))
            default.replace(**fixed)
        except ConfigError:
            tests.append(TestPoint(kind, changes, "invalid"))
            continue
        results, crashes = run_checks([claim.check], [f"{k}={v}" for k, v in fixed.items()])
        if crashes or claim.row >= len(results):
            tests.append(TestPoint(kind, changes, "crashed"))
            continue
        result = results[claim.row]
        tests.append(TestPoint(kind, changes, result.verdict, result.rel_error, result.tolerance))
    return dataclasses.replace(claim, tests=tuple(tests))


def _axis_value(config: Mapping[str, Any], name: str) -> float:
    if name == "eta_lam":
        return float(config["lr"]) * float(config["weight_decay"])
    return float(config[name])


def covers(claim: Claim, config: Mapping[str, Any]) -> bool:
    """Whether `config` (field -> value) lies inside the claim (module docstring)."""
    for name, (lo, hi) in ((claim.x, claim.x_range), (claim.y, claim.y_range)):
        value = _axis_value(config, name)
        if not lo * (1 - 1e-9) <= value <= hi * (1 + 1e-9) + 1e-300:
            return False
    set_by_axes = {claim.x, claim.y} | (
        {"weight_decay"} if "eta_lam" in (claim.x, claim.y) else set()
    )
    differing = {k: v for k, v in config.items() if k not in set_by_axes and claim.base.get(k) != v}
    if not differing:
        return True
    agreed = [
        {k: v for k, v in c.items() if k not in (claim.x, claim.y)} for c in claim.agreed_changes()
    ]
    return differing in agreed


def claimed(config: Mapping[str, Any], law: str, row: str, claims: Sequence[Claim]) -> str:
    """ "holds" / "fails" when a stated claim of `law`'s row `row` covers `config`, else
    "none"."""
    for claim in claims:
        if claim.law == law and claim.label == row and claim.stated and covers(claim, config):
            return claim.verdict
    return "none"


def load_claims(path: str | Path) -> list[Claim]:
    """The claims recorded in a maps.json (its "claims" list); [] when it has none or the
    file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    record = json.loads(path.read_text())
    return (
        [Claim.from_json(c) for c in record.get("claims", [])] if isinstance(record, dict) else []
    )
