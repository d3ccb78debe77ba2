"""THEORY.md items 13-14: the sign of specificity and of uncertainty, as regime maps.

Each cell is a (model, optimizer, frequency mode) run; the statistic is Spearman's rank
correlation over items between the norm growth log(N_T / N_0) and depth (item 13, with
frequency held equal per node in the "decoupled" mode) or soft-label entropy (item 14).
The growth ratio removes the initial norm, which in the compositional encoder already
rises with depth. Every cell's sign is predicted from the data's sampling and soft-label
noise, the optimizer's step and the model at initialisation, THEORY.md item 18
(`normtheory.mean_field.predicted_sign`): item 16's mean field with each item's
own heat through its own kernel block (the self-heat closure); the predicted sign is 0
when the predicted correlation is below two standard errors. Item 16's kernel closure
(the whole kernel heat, refuted for shared encoders under Adam) and items 13-14's rule by
model family (free tables: generic and ambiguous items longer; shared encoders: specific
items longer, ambiguous shorter) are kept only to be reported beside it. A cell with a
predicted sign holds when the measured correlation has that sign beyond two standard
errors (about 2 / sqrt(n - 1)), fails when it has the opposite sign beyond them, and is
partial in between; a cell predicted 0 holds only when the measured interval lies inside
+-EQUIVALENCE_MARGIN (an equivalence test), fails when it excludes 0, and is
inconclusive otherwise. With five items or fewer two standard errors reach 1, so no
correlation could fail a predicted 0 or confirm a sign: such a cell is "not applicable".
A cell's
optimizer settings apply only to the fields the user did not set with --set; cells that
the user's settings make identical are run once.
"""

from __future__ import annotations

import functools

import numpy as np

from normtheory.confidence import spearman
from normtheory.config import SimConfig
from normtheory.mean_field import predicted_growth, predicted_sign
from normtheory.regimes import AMBIGUITY, HIERARCHY
from normtheory.verify._common import not_applicable, row_config, row_refusal
from normtheory.verify._common import simulate_cached as _run
from normtheory.verify._record import Result

# Items 13-14's rule by model family (refuted in part; item 16 predicts instead): free
# tables make generic and ambiguous items longer, shared encoders make specific items longer.
SPECIFICITY_SIGNS = {"table": -1, "compositional": +1}
UNCERTAINTY_SIGNS = {"table": +1, "mlp": -1}
OPTIMIZERS = {
    "sgd": {"optimizer": "sgd", "lr": 0.5},
    "adam": {"optimizer": "adam", "lr": 0.01},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
}


# Seeds of every sign-test cell: the judged run's and the mean-field prediction's models
# at initialisation. Figure 4 draws these runs and these cells (`specificity_cell`).
SEEDS = 5

# A predicted 0 is confirmed only by an equivalence test: the interval rho +- 2 se must
# lie inside +-EQUIVALENCE_MARGIN (a rank correlation below 0.2 in size is "no effect"
# here). A measurement that is merely not significant is inconclusive, never a confirmation.
EQUIVALENCE_MARGIN = 0.2


def _verdict(rho: float, sign: int, se: float) -> str:
    """Sign test of `rho` against a predicted sign in {-1, 0, +1}, at two standard errors;
    a predicted 0 by the equivalence test above ("inconclusive" when its interval neither
    excludes 0 nor lies inside the margin); "not applicable" when two standard errors
    reach 1 (|rho| <= 1 could not decide)."""
    if 2 * se >= 1:
        return "not applicable"
    if sign == 0:
        if abs(rho) > 2 * se:
            return "fails"
        return "holds" if abs(rho) + 2 * se <= EQUIVALENCE_MARGIN else "inconclusive"
    if rho * sign > 2 * se:
        return "holds"
    return "fails" if rho * sign < -2 * se else "partial"


def _cell(law, item, cfg, feature_name, rule_sign, seeds=SEEDS) -> Result:
    traj = _run(cfg, seeds=seeds)
    growth = np.log(traj.norm[..., -1, :] / traj.norm0).mean(axis=0)
    feature = traj.info[feature_name]
    rho = spearman(growth, feature)
    se = 1 / np.sqrt(len(growth) - 1)
    sign, rho_pred = self_sign(cfg, seeds)
    rho_kernel = kernel_rho(cfg, seeds)
    verdict = _verdict(rho, sign, se)
    return Result(
        law=law,
        item=item,
        config=cfg,
        quantity=f"Spearman(log N_T/N_0, {feature_name}) over items, seed-mean growth; "
        f"predicted sign {sign:+d} (predicted rho {rho_pred:+.3f})",
        predicted=float(sign),
        measured=rho,
        spread=float(se),
        rel_error=abs(rho - sign),
        tolerance=float(2 * se),
        basis="sign test at two standard errors of rho; the sign from the imprint mean field's "
        "self-heat closure (THEORY.md item 18), 0 when its |rho| is below two standard errors",
        verdict=verdict,
        note=f"predicted value is the sign; predicted rho {rho_pred:+.3f} "
        f"(normtheory.mean_field, item 18); item 16's kernel closure predicts rho "
        f"{rho_kernel:+.3f}; the rule by model family (items 13-14) says {rule_sign:+d}"
        + ("; no significant correlation" if verdict == "partial" else "")
        + ("; too few items for a sign test (2 se >= 1)" if 2 * se >= 1 else ""),
    )


def _cells(config, rows, overridden, law, item, feature, signs) -> list[Result]:
    """One sign-test cell per distinct config of `rows` (changes), its sign predicted."""
    results, seen = [], set()
    for changes in rows:
        refused = row_refusal(config, changes, overridden)
        if refused:
            quantity = f"Spearman(growth, {feature})"
            results.append(not_applicable(law, item, config, quantity, refused))
            continue
        cfg, _ = row_config(config, changes, overridden)
        if cfg in seen:
            continue
        seen.add(cfg)
        results.append(_cell(law, item, cfg, feature, signs[cfg.model]))
    return results


def specificity_cell(config: SimConfig, seeds: int = SEEDS) -> Result:
    """One cell of `specificity`: the sign of Spearman(norm growth, depth) in `config`
    (a hierarchy regime) over `seeds` seeds, against item 18's predicted sign."""
    return _cell("specificity", 13, config, "depth", SPECIFICITY_SIGNS[config.model], seeds)


def specificity(config: SimConfig, overridden: frozenset[str] = frozenset()) -> list[Result]:
    """Sign of Spearman(norm growth, tree depth) per cell (item 13) against item 18."""
    rows = [
        {"model": model, "frequency_mode": mode, **changes}
        for model in SPECIFICITY_SIGNS
        for mode in ("decoupled", "coupled")
        for changes in OPTIMIZERS.values()
    ]
    return _cells(config, rows, overridden, "specificity", 13, "depth", SPECIFICITY_SIGNS)


def uncertainty(config: SimConfig, overridden: frozenset[str] = frozenset()) -> list[Result]:
    """Sign of Spearman(norm growth, soft-label entropy) per cell (item 14) against item 18."""
    rows = []
    for model in UNCERTAINTY_SIGNS:
        for changes in OPTIMIZERS.values():
            row = {"model": model, **changes}
            if model == "mlp" and changes["optimizer"] == "sgd":
                row["lr"] = 0.05
            rows.append(row)
    return _cells(config, rows, overridden, "uncertainty", 14, "entropy", UNCERTAINTY_SIGNS)


# Away from the default regimes (`sign_maps`, `make signs`): tree shapes (depth,
# branching) besides HIERARCHY's (4, 3), class counts besides AMBIGUITY's 4. The first
# two shapes and the classes 3 and 8 were run when item 16 and the self-heat closure were
# formulated; the HELD_OUT shapes only after both were fixed; the last two shapes and
# 6 classes (FRESH) only after verify adopted the self-heat closure (item 18).
SHAPES = ((3, 4), (5, 2), (3, 5), (2, 8), (6, 2), (4, 2), (2, 5))
FRESH = ((4, 2), (2, 5))
HELD_OUT = ((3, 5), (2, 8), (6, 2), *FRESH)
CLASS_COUNTS = (3, 8, 6)
FRESH_CLASS_COUNTS = (6,)


def self_sign(config: SimConfig, seeds: int = SEEDS) -> tuple[int, float]:
    """(sign, rho) predicted by item 18's self-heat closure (`predicted_sign`).

    Memoised per (config, seeds): a cell's verdict and `sign_maps`' record both ask for it.
    """
    return _self_sign(config, int(seeds), predicted_sign)


@functools.lru_cache(maxsize=256)
def _self_sign(config: SimConfig, seeds: int, predict) -> tuple[int, float]:
    # `predict` is in the key, so a replaced predictor is never served a stale value.
    return predict(config, seeds)


def size_agrees(measured: float, predicted_rho: float, se: float) -> bool:
    """Whether item 18's predicted size of rho is the measured one: |measured -
    predicted| within two standard errors (the sign test's se, 1 / sqrt(I - 1))."""
    return bool(abs(measured - predicted_rho) <= 2 * se)


def size_tally(cells: list[dict]) -> list[dict]:
    """Item 18's sizes against the measured rho, per law, model and optimizer.

    Args:
        cells: `sign_maps` records (each with "predicted_rho", "measured", "spread",
            "size_agrees" and its config).

    Returns:
        One dict per (law, model, optimizer), in order of first appearance: "law",
        "model", "optimizer", "cells", "within" (cells whose size agrees), "mean_error"
        (mean of measured - predicted rho) and "mean_abs_error".
    """
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for c in cells:
        if c.get("size_agrees") is None:
            continue
        key = (c["law"], c["config"]["model"], c["config"]["optimizer"])
        groups.setdefault(key, []).append(c)
    out = []
    for (law, model, optimizer), chosen in groups.items():
        error = np.array([c["measured"] - c["predicted_rho"] for c in chosen])
        out.append(
            {
                "law": law,
                "model": model,
                "optimizer": optimizer,
                "cells": len(chosen),
                "within": int(sum(c["size_agrees"] for c in chosen)),
                "mean_error": float(error.mean()),
                "mean_abs_error": float(np.abs(error).mean()),
            }
        )
    return out


def sign_tally(cells: list[dict]) -> list[dict]:
    """Agreement of item 18's and item 16's signs with the measured one, among the cells
    whose measured interval excludes 0, per law and stage.

    Args:
        cells: `sign_maps` records.

    Returns:
        One dict per (law, stage) with cells: "law", "stage" (maps run when items 16 and
        18 were formulated; held-out maps; maps run after verify adopted item 18),
        "cells" (significant cells), "item_18" (cells whose sign item 18 predicted) and
        "item_16" (cells whose sign item 16's kernel closure predicted beyond two
        standard errors).
    """
    stages = (
        ("maps run when items 16 and 18 were formulated", False, False),
        ("held-out maps", True, False),
        ("maps run after verify adopted item 18", True, True),
    )
    out = []
    for law in ("specificity", "uncertainty"):
        for stage, held, fresh in stages:
            chosen = [
                c
                for c in cells
                if c["law"] == law
                and c["significant"]
                and c["held_out"] == held
                and c.get("fresh", False) == fresh
            ]
            if not chosen:
                continue
            kernel = sum(
                abs(c["kernel_rho"]) > c["tolerance"]
                and np.sign(c["kernel_rho"]) == np.sign(c["measured"])
                for c in chosen
            )
            out.append(
                {
                    "law": law,
                    "stage": stage,
                    "cells": len(chosen),
                    "item_18": int(sum(c["agrees"] for c in chosen)),
                    "item_16": int(kernel),
                }
            )
    return out


def kernel_rho(config: SimConfig, seeds: int = SEEDS) -> float:
    """Spearman rho predicted by item 16's kernel closure (refuted; reported, not judged).

    Memoised per (config, seeds): a cell's note and `sign_maps`' record both ask for it.
    """
    return _kernel_rho(config, int(seeds))


@functools.lru_cache(maxsize=256)
def _kernel_rho(config: SimConfig, seeds: int) -> float:
    growth, feature = predicted_growth(config, seeds, closure="kernel")
    return float(spearman(growth, feature))


def sign_maps(progress=None) -> list[dict]:
    """Items 13-14's maps at every shape of SHAPES and class count of CLASS_COUNTS.

    Returns one record per cell: the check's `Result.to_json()` with "map" (the shape or
    class count), "held_out" (run only after the predictions were fixed), "fresh" (run
    only after verify adopted item 18), "significant" (measured |rho| beyond two
    standard errors), "agrees" (item 18's sign is the measured one, among significant
    cells), "predicted_rho" (item 18's size of rho) with "size_agrees" (`size_agrees`:
    within two standard errors of the measured rho) and "kernel_rho", item 16's kernel
    closure's prediction (reported beside it, not judged).
    `progress(label)` is called before each map.
    """
    maps = [
        (f"depth {d}, branching {b}", (d, b) in HELD_OUT, (d, b) in FRESH, specificity,
         HIERARCHY.replace(depth=d, branching=b))
        for d, b in SHAPES
    ]  # fmt: skip
    maps += [
        (f"{k} classes", k in FRESH_CLASS_COUNTS, k in FRESH_CLASS_COUNTS, uncertainty,
         AMBIGUITY.replace(num_classes=k))
        for k in CLASS_COUNTS
    ]  # fmt: skip
    records = []
    for label, held_out, fresh, check, config in maps:
        if progress is not None:
            progress(label)
        for result in check(config):
            significant = abs(result.measured) > result.tolerance
            cfg = SimConfig(**result.config)
            rho_pred = self_sign(cfg)[1]
            judged = result.verdict != "not applicable"
            records.append(
                result.to_json()
                | {
                    "map": label,
                    "held_out": held_out,
                    "fresh": fresh,
                    "significant": bool(significant),
                    "agrees": bool(significant and result.predicted == np.sign(result.measured)),
                    "predicted_rho": rho_pred,
                    "size_agrees": size_agrees(result.measured, rho_pred, result.spread)
                    if judged
                    else None,
                    "kernel_rho": kernel_rho(cfg),
                }
            )
    return records


CHECKS = {
    "specificity": (specificity, HIERARCHY),
    "uncertainty": (uncertainty, AMBIGUITY),
}
