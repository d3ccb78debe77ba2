"""Figure 12 (THEORY.md items 5-12): where each approximate law holds.

Each panel is a validity map (`normtheory map`): one verification check run at every
cell of a grid over the two regime axes that matter most for its law, the verdict as a
letter, the cells where the law holds outlined, the settings held fixed under the title,
and as colour the statistic the verdict turns on: for a per-item check the fraction of
items within tolerance (centred on the 90% that "holds" needs), for the others the
relative error against the tolerance; cells that were not judged (not relaxed, not
applicable) are grey. The maps are written as one JSON record (maps.json) that
the report reads. Grids are 3 x 3, or 3 x 2 and 2 x 2 where an axis recompiles or a
check is slow, at the checks' own default sizes; most axes are traced hyper-parameters,
so a map's cells share one compiled program.

Each map's candidate claims (`normtheory.verify.claims`: the largest rectangle of
"holds" cells and of "fails" cells) are then tested off the grid and with the fixed
settings changed, and recorded with their tests in maps.json, with the code identity of
verify (`normtheory.verify.code_identity`). The validation is "full" with `--full` or
NORMTHEORY_VALIDATION=full (both claims, four interior points and every unswept setting;
`make validate`) and "reduced" by default (`make reproduce`): a full validation already
in maps.json, of the same cells by the same code, is kept as it is; otherwise the "holds"
claims alone are tested, at one interior point and three unswept settings.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.patches import Rectangle

from normtheory import figures
from normtheory._files import write_text
from normtheory.verify import claims, code_identity, maps
from normtheory.verify._record import HOLD_FRACTION

NAME = "fig12_validity_maps.png"
RECORD = "maps.json"
# check or check/row (a result row other than the first): (x axis, values, y axis,
# values, fixed changes)
MAPS = {
    # Items 5 and 6 are judged against a declared 1% accuracy; their error grows with
    # eta / init_scale^2, so the maps sweep both.
    "modified_flow": ("init_scale", [0.15, 0.3, 1.0], "lr", [0.5, 5.0, 20.0], {}),
    "accumulation": ("init_scale", [0.15, 0.3, 1.0], "lr", [0.5, 5.0, 20.0], {}),
    "effective_learning_rate": ("lr", [0.1, 0.5, 2.0], "tau", [0.05, 0.1, 0.5], {}),
    "frequency_imprint": ("tau", [0.05, 0.1, 0.5], "dim", [8, 16, 32], {}),
    "frequency_imprint_occurrences": ("tau", [0.05, 0.1, 0.5], "dim", [8, 16, 32], {}),
    # Item 8c: the slope 8b leaves open, predicted from the configuration; 8b's runs.
    "occurrence_energy_slope": ("tau", [0.05, 0.1, 0.5], "dim", [8, 16, 32], {}),
    "sgd_decay_equilibrium": ("eta_lam", [1e-3, 5e-3, 2e-2], "zipf", [0.8, 1.1], {}),
    # Row 3 of the same check: item 9c, on the same runs.
    "sgd_decay_equilibrium/3": ("eta_lam", [1e-3, 5e-3, 2e-2], "zipf", [0.8, 1.1], {}),
    # Row 4: item 9d, the same equilibrium from the configuration; the same cells' runs.
    "sgd_decay_equilibrium/4": ("eta_lam", [1e-3, 5e-3, 2e-2], "zipf", [0.8, 1.1], {}),
    "li_arora": ("eta_lam", [0.01, 0.05, 0.15], "lr", [0.1, 0.5], {}),
    "adamw_equilibrium": ("eta_lam", [3e-4, 1e-3, 3e-3], "b1", [0.0, 0.9, 0.99], {}),
    # Item 11b: the draw rates that decide a row's regime (p against 1 - b2) move with the
    # batch and the Zipf exponent, where item 11's flat law failed.
    "adamw_rare_rows": ("batch", [16, 32, 64], "zipf", [0.8, 1.1, 1.5], {}),
    "drift_heat_equilibrium": ("eta_lam", [2.5e-4, 1e-3], "momentum", [0.5, 0.9], {}),
    # Row 2: the compositional encoder, rates through the kernel; the same cells' runs.
    "drift_heat_equilibrium/2": ("eta_lam", [2.5e-4, 1e-3], "momentum", [0.5, 0.9], {}),
}
LABELS = {
    "eta_lam": r"$\eta\lambda$",
    "lr": r"$\eta$",
    "tau": r"$\tau$",
    "dim": "$d$",
    "b1": r"$\beta_1$",
    "zipf": "Zipf exponent",
    "init_scale": "initial scale",
    "momentum": r"momentum $\alpha$",
    "batch": "batch $B$",
}
TINY = {"num_items": 40, "dim": 4, "batch": 16, "steps": 100}
# Validation levels: which claims are tested, and with how many points.
VALIDATION = {
    "reduced": {"verdicts": ("holds",), "interior": 1, "unswept": ("batch", "tau", "dim")},
    "full": {"verdicts": claims.CLAIMABLE, "interior": 4, "unswept": claims.UNSWEPT},
    "tiny": {"verdicts": ("holds",), "interior": 1, "unswept": ("batch",)},
}


def validate(data: dict[str, maps.ValidityMap], level: str) -> list[claims.Claim]:
    """Every map's candidate claims, those of `level`'s verdicts tested (`VALIDATION`)."""
    spec = VALIDATION[level]
    out = []
    for vmap in data.values():
        grid = {vmap.x: list(vmap.x_values), vmap.y: list(vmap.y_values)}
        for claim in claims.candidates(vmap):
            if claim.verdict in spec["verdicts"]:
                claim = claims.validate(
                    claim,
                    grid,
                    interior=spec["interior"],
                    unswept=spec["unswept"],
                    progress=lambda line: print(line, flush=True),
                )
            out.append(claim)
    return out


def reusable(path: Path, data: dict[str, maps.ValidityMap], code: str) -> list[claims.Claim] | None:
    """The claims of a full validation recorded at `path`, when it holds for these maps:
    written by the same verify code (`code`) from the same cells. Else None.

    `make reproduce` (the reduced level) keeps such a record instead of testing a subset
    of it again; `make validate` always tests afresh.
    """
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("validation") != "full":
        return None
    if record.get("code") != code:
        return None
    cells = {name: vmap.to_json() for name, vmap in data.items()}
    if json.dumps(record.get("maps"), sort_keys=True) != json.dumps(cells, sort_keys=True):
        return None  # (text, so that a NaN cell compares equal to itself)
    return [claims.Claim.from_json(c) for c in record.get("claims", [])]


def measure(tiny: bool = False) -> dict[str, maps.ValidityMap]:
    """Every map of MAPS (at a tiny size and on 2 x 1 grids when `tiny`)."""
    out = {}
    for name, (x, xs, y, ys, changes) in MAPS.items():
        check, _, row = name.partition("/")
        if tiny:
            if check != "modified_flow":
                continue
            xs, ys, changes = xs[:2], ys[:1], {**changes, **TINY}
        out[name] = maps.validity_map(check, (x, xs), (y, ys), changes=changes, row=int(row or 0))
    return out


# The settings a map holds fixed, as written under each panel's title.
FIXED = {"optimizer": "{}", "batch": "B={}", "num_items": "V={}", "dim": "d={}",
         "tau": "tau={:g}", "zipf": "zipf={:g}", "loss": "{} loss",
         "init_scale": "init {:g}", "steps": "T={}"}  # fmt: skip


def _fixed(vmap: maps.ValidityMap) -> str:
    """The map's fixed settings (its base regime less the two axes), for the figure."""
    swept = {vmap.x, vmap.y} | ({"weight_decay"} if "eta_lam" in (vmap.x, vmap.y) else set())
    shown = [fmt.format(vmap.base[k]) for k, fmt in FIXED.items()
             if k in vmap.base and k not in swept]  # fmt: skip
    if not shown:
        return ""
    half = (len(shown) + 1) // 2  # two short lines fit a panel's width
    return "fixed: " + ", ".join(shown[:half]) + "\n" + ", ".join(shown[half:])


# A per-item map is coloured by the fraction of items within tolerance (the statistic its
# verdict turns on: "holds" needs HOLD_FRACTION), centred on that threshold.
FRACTION_NORM = TwoSlopeNorm(vmin=0.5, vcenter=HOLD_FRACTION, vmax=1.0)


def _panel(ax: plt.Axes, vmap: maps.ValidityMap, shared: bool) -> tuple[object, str]:
    """One map; `shared`: another panel shows the same law, so name the row too.

    Returns the image and what its colour shows: "fraction" for a per-item check (the
    fraction of items within tolerance), "ratio" for the others (log10 error/tolerance).
    """
    # Only judged cells are coloured: a "not relaxed", "not applicable", invalid or
    # crashed cell has no error to compare and is drawn grey, not as a failure.
    judged = np.isin(vmap.verdict, ["holds", "partial", "fails", "inconclusive"])
    if vmap.fraction is not None:
        kind, shown = "fraction", np.where(judged, vmap.fraction, np.nan)
        cmap = plt.get_cmap("RdBu").with_extremes(bad="0.88")
        image = ax.imshow(shown, cmap=cmap, norm=FRACTION_NORM, origin="lower", aspect="auto")
        strong = np.isfinite(shown) & ((shown < 0.62) | (shown > 0.985))
    else:
        ratio = np.log10(vmap.rel_error / vmap.tolerance)
        kind, shown = "ratio", np.where(judged, ratio, np.nan)
        cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.88")
        image = ax.imshow(shown, cmap=cmap, vmin=-2, vmax=2, origin="lower", aspect="auto")
        strong = np.isfinite(shown) & (np.abs(shown) > 1.2)
    for i in range(len(vmap.y_values)):
        for j in range(len(vmap.x_values)):
            dark = bool(strong[i, j])
            ax.text(j, i, maps.MARKS.get(vmap.verdict[i, j], "x"), ha="center", va="center",
                    color="w" if dark else "k", fontsize=11)  # fmt: skip
            if vmap.verdict[i, j] == "holds":
                edge = "w" if dark else "k"
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2, ec=edge))
    ax.set_xticks(range(len(vmap.x_values)), [f"{v:g}" for v in vmap.x_values])
    ax.set_yticks(range(len(vmap.y_values)), [f"{v:g}" for v in vmap.y_values])
    ax.set_xlabel(LABELS.get(vmap.x, vmap.x))
    ax.set_ylabel(LABELS.get(vmap.y, vmap.y))
    held = int(np.sum(vmap.verdict == "holds"))
    row = f"\n{vmap.label}" if shared and vmap.label else ""
    tag = " (per item)" if kind == "fraction" else ""
    title = f"{vmap.law}{tag}: holds in {held} of {vmap.verdict.size}{row}"
    ax.set_title(title, fontsize=9, pad=22)
    fixed = ax.text(0.5, 1.01, _fixed(vmap), transform=ax.transAxes, ha="center",
                    va="bottom", fontsize=7, color="0.35")  # fmt: skip
    fixed.set_in_layout(False)  # the title's pad leaves it room; it must not shrink the axes
    return image, kind


def main(out_dir: Path, tiny: bool = False, level: str | None = None) -> figures.FigureRecord:
    """Draw the figure and write maps.json into out_dir; return the figure's record.

    `level`: the validation level of `VALIDATION` (default: NORMTHEORY_VALIDATION, else
    "reduced"; "tiny" when `tiny`).
    """
    figures.enable_x64()
    level = level or ("tiny" if tiny else os.environ.get("NORMTHEORY_VALIDATION", "reduced"))
    if level not in VALIDATION:
        raise SystemExit(f"fig12: unknown validation level {level!r}; known: {list(VALIDATION)}")
    data = measure(tiny)
    out_dir = Path(out_dir)
    code = code_identity()
    kept = reusable(out_dir / RECORD, data, code) if level == "reduced" else None
    if kept is not None:
        print(f"fig12: the claims of the full validation in {out_dir / RECORD} hold for these "
              f"maps and this code ({code}); kept (make validate tests them afresh)")  # fmt: skip
        level, tested = "full", kept
    else:
        tested = validate(data, level)
    record = {
        "validation": level,
        "code": code,
        "maps": {name: vmap.to_json() for name, vmap in data.items()},
        "claims": [claim.to_json() for claim in tested],
    }
    write_text(out_dir / RECORD, json.dumps(record, indent=1) + "\n")
    with figures.style():
        cols = min(4, len(data))
        rows = math.ceil(len(data) / cols)
        fig, axes = plt.subplots(
            rows, cols, figsize=(4.4 * cols, 3.8 * rows + 0.8), squeeze=False, layout="constrained"
        )
        images: dict[str, object] = {}
        laws = [vmap.law for vmap in data.values()]
        for ax, vmap in zip(axes.flat, data.values(), strict=False):
            image, kind = _panel(ax, vmap, laws.count(vmap.law) > 1)
            images.setdefault(kind, image)
        for ax in list(axes.flat)[len(data) :]:
            ax.axis("off")
        labels = {
            "fraction": "checks marked (per item): fraction of items within tolerance "
            f"('holds' needs {HOLD_FRACTION:.0%})",
            "ratio": r"the other checks: $\log_{10}$(rel. error / tolerance)",
        }
        for kind, image in images.items():
            fig.colorbar(image, ax=axes, label=labels[kind], shrink=0.6)
        fig.get_layout_engine().set(h_pad=0.12, w_pad=0.1)
        fig.supxlabel("H holds (outlined), P partial, F fails, I inconclusive; grey: R not "
                      "relaxed, - not applicable, x invalid or crashed", fontsize=9)  # fmt: skip
        fig.suptitle("Validity maps: each approximate law over the two axes that matter most")
        numbers = {}
        for name, vmap in data.items():
            numbers[f"{name}_holds"] = int(np.sum(vmap.verdict == "holds"))
            numbers[f"{name}_cells"] = int(vmap.verdict.size)
        caption = "cells where the law holds: " + ", ".join(
            f"{vmap.law}{f' ({vmap.label})' if laws.count(vmap.law) > 1 else ''} "
            f"{numbers[f'{name}_holds']} of {numbers[f'{name}_cells']}"
            for name, vmap in data.items()
        )
        arrays = {f"{name}/rel_error_over_tolerance": v.rel_error / v.tolerance
                  for name, v in data.items()}  # fmt: skip
        arrays |= {f"{name}/fraction_within_tolerance": v.fraction
                   for name, v in data.items() if v.fraction is not None}  # fmt: skip
        return figures.finish(fig, out_dir / NAME, caption, numbers, arrays, summary=__doc__)


if __name__ == "__main__":
    level = "full" if "--full" in sys.argv else None
    here = Path(__file__).resolve().parent
    print(f"wrote {main(here, tiny='--tiny' in sys.argv, level=level).path}")
