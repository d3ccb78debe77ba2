"""Where the MLP's norm growth comes from, per optimizer: item 18's domain (THEORY.md).

    python simulations/mlp_budget_by_entropy.py [--classes 3 10] [--seeds 5]

Item 18 integrates each item's own heat and assumes no first-order drift in expectation.
For the MLP on the ambiguity data (the uncertainty map's cells of
`normtheory.verify.structure`, at each class count given), this runs the cell under SGD,
Adam and AdamW through the results cache and prints, per optimizer: the measured
Spearman rho of the seed-mean growth log(N_T / N_0) with the soft-label entropy, item 18's
predicted rho, and the traced budget summed over the run per item in units of its
initial N_0^2 (mean over items and seeds: heat, drift, decay), with the rho of each
term's per-item sum with entropy. A diagnostic quoted in THEORY.md item 18; not a check.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def budget_rows(classes: int, seeds: int) -> list[dict]:
    """One row per optimizer of `normtheory.verify.structure.OPTIMIZERS` for the MLP on
    the ambiguity data with `classes` classes: rho measured and predicted, and the mean
    and entropy rho of the heat, drift and decay summed over the run (units of N_0^2)."""
    from normtheory.confidence import spearman
    from normtheory.mean_field import predicted_sign
    from normtheory.regimes import AMBIGUITY
    from normtheory.verify._common import simulate_cached
    from normtheory.verify.structure import OPTIMIZERS

    rows = []
    for name, settings in OPTIMIZERS.items():
        # As the uncertainty map runs it: the MLP under SGD at lr 0.05.
        lr = {"lr": 0.05} if name == "sgd" else {}
        config = AMBIGUITY.replace(model="mlp", num_classes=classes, **(settings | lr))
        traj = simulate_cached(config, seeds)
        entropy = traj.info["entropy"]
        growth = np.log(traj.norm[..., -1, :] / traj.norm0).mean(axis=0)
        row = {
            "optimizer": name,
            "rho": float(spearman(growth, entropy)),
            "predicted": predicted_sign(config, seeds)[1],
        }
        for term in ("heat", "drift", "decay"):
            per_item = (getattr(traj, term).sum(axis=-2) / traj.norm0**2).mean(axis=0)
            row[term] = float(per_item.mean())
            row[f"{term}_rho"] = (
                float(spearman(per_item, entropy)) if np.ptp(per_item) > 0 else float("nan")
            )
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    if any(k < 2 for k in args.classes) or args.seeds < 2:
        parser.error("--classes must be >= 2 and --seeds >= 2")
    from normtheory.runtime import prepare

    prepare()
    print(
        "| classes | optimizer | rho measured | item 18 rho | heat / N0^2 (rho) "
        "| drift / N0^2 (rho) | decay / N0^2 (rho) |"
    )
    print("|---|---|---|---|---|---|---|")
    for classes in args.classes:
        for r in budget_rows(classes, args.seeds):
            terms = " | ".join(
                f"{r[t]:+.1f}" + (f" ({rho:+.2f})" if np.isfinite(rho := r[f"{t}_rho"]) else "")
                for t in ("heat", "drift", "decay")
            )
            print(
                f"| {classes} | {r['optimizer']} | {r['rho']:+.3f} | {r['predicted']:+.3f} | "
                f"{terms} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
