"""THEORY.md items 13-14: the sign of specificity and of uncertainty, as regime maps.

Each cell is a (model, optimizer, frequency mode) run; the statistic is Spearman's rank
correlation over items between the norm growth log(N_T / N_0) and depth (item 13, with
frequency held equal per node in the "decoupled" mode) or soft-label entropy (item 14).
The growth ratio removes the initial norm, which in the compositional encoder already
rises with depth. THEORY.md predicts the sign by parameterization: free tables make
generic (and ambiguous) items longer (negative correlation with depth, positive with
entropy); shared encoders make specific items longer and ambiguous ones shorter.
A cell holds when the correlation has the predicted sign beyond two standard errors
(about 2 / sqrt(n - 1)), fails when it has the opposite sign beyond them, and is
partial in between. A cell's optimizer settings apply only to the fields the user did
not set with --set; cells that the user's settings make identical are run once.
"""

from __future__ import annotations

import numpy as np

from normtheory.confidence import spearman
from normtheory.config import SimConfig
from normtheory.verify._common import regime, row_config
from normtheory.verify._common import simulate_cached as _run
from normtheory.verify._record import Result

# THEORY.md's predicted sign of the correlation, by model: free tables make generic and
# ambiguous items longer, shared encoders make specific items longer.
SPECIFICITY_SIGNS = {"table": -1, "compositional": +1}
UNCERTAINTY_SIGNS = {"table": +1, "mlp": -1}
OPTIMIZERS = {
    "sgd": {"optimizer": "sgd", "lr": 0.5},
    "adam": {"optimizer": "adam", "lr": 0.01},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
}
HIERARCHY = SimConfig(
    data="hierarchy",
    depth=4,
    branching=3,
    dim=16,
    batch=64,
    steps=3000,
    stride=100,
    dtype="float64",
)
AMBIGUITY = SimConfig(
    data="ambiguity",
    loss="prototype",
    num_items=200,
    dim=16,
    batch=64,
    steps=3000,
    stride=100,
    dtype="float64",
    width=32,
)


def _cell(law, item, cfg, feature_name, predicted_sign, seeds=2) -> Result:
    traj = _run(cfg, seeds=seeds)
    growth = np.log(traj.norm[..., -1, :] / traj.norm0).mean(axis=0)
    feature = traj.info[feature_name]
    rho = spearman(growth, feature)
    se = 1 / np.sqrt(len(growth) - 1)
    if rho * predicted_sign > 2 * se:
        verdict = "holds"
    elif rho * predicted_sign < -2 * se:
        verdict = "fails"
    else:
        verdict = "partial"
    return Result(
        law=law,
        item=item,
        regime=regime(cfg),
        quantity=f"Spearman(log N_T/N_0, {feature_name}) over items, seed-mean growth",
        predicted=float(predicted_sign),
        measured=rho,
        spread=float(se),
        rel_error=abs(rho - predicted_sign),
        tolerance=float(2 * se),
        basis="sign test: predicted sign beyond two standard errors of rho",
        verdict=verdict,
        note="predicted value is the sign only"
        + ("; no significant correlation" if verdict == "partial" else "")
        + ("; too few items for a sign test (2 se >= 1)" if 2 * se >= 1 else ""),
    )


def _cells(config, rows, overridden, law, item, feature, signs) -> list[Result]:
    """One sign-test cell per distinct config of `rows` (changes); the model sets the sign."""
    results, seen = [], set()
    for changes in rows:
        cfg, _ = row_config(config, changes, overridden)
        if cfg in seen:
            continue
        seen.add(cfg)
        results.append(_cell(law, item, cfg, feature, signs[cfg.model]))
    return results


def specificity(config: SimConfig, overridden: frozenset[str] = frozenset()) -> list[Result]:
    """Sign of Spearman(norm growth, tree depth) by model and optimizer (item 13)."""
    rows = [
        {"model": model, "frequency_mode": mode, **changes}
        for model in SPECIFICITY_SIGNS
        for mode in ("decoupled", "coupled")
        for changes in OPTIMIZERS.values()
    ]
    return _cells(config, rows, overridden, "specificity", 13, "depth", SPECIFICITY_SIGNS)


def uncertainty(config: SimConfig, overridden: frozenset[str] = frozenset()) -> list[Result]:
    """Sign of Spearman(norm growth, soft-label entropy) by model and optimizer (item 14)."""
    rows = []
    for model in UNCERTAINTY_SIGNS:
        for changes in OPTIMIZERS.values():
            row = {"model": model, **changes}
            if model == "mlp" and changes["optimizer"] == "sgd":
                row["lr"] = 0.05
            rows.append(row)
    return _cells(config, rows, overridden, "uncertainty", 14, "entropy", UNCERTAINTY_SIGNS)


CHECKS = {
    "specificity": (specificity, HIERARCHY),
    "uncertainty": (uncertainty, AMBIGUITY),
}
