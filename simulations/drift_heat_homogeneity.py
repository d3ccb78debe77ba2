"""Item 12's balance with the N-scaling of an encoder homogeneous of degree p.

    python simulations/drift_heat_homogeneity.py [ROW ...]

For an encoder with z(s theta) = s^p z(theta) and a scale-invariant loss, a step's kick
scales as s^(p - 2) while N scales as s^p, so the drift goes as N^(2 - 2/p) and the heat
per step as N^(2 - 4/p); p = 1 (tables, sums of features) gives item 12's quadratic. Per
item, the drift and heat per step (the remainder booked with the heat) of the check's
calibration run at N_c^2 = <N^2> are carried to the judged run's weight decay by
solving k r N^2 = drift_c (N/N_c)^(2 - 2/p) + heat_c (N/N_c)^(2 - 4/p), k the measured
decay multiplier, and compared with the judged run's <N^2>. Prints the median
|log(measured / predicted)| for p = 1, p = 2 and p = k, per row of
`normtheory.verify.drift_heat.REGIMES` (default: all). A diagnostic quoted in THEORY.md
item 12; not a check.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def rates(config) -> dict[str, np.ndarray]:
    """Per item over the second half of `config`'s run: <N^2>, drift, heat, k."""
    from normtheory.verify import drift_heat
    from normtheory.verify._common import half_stats, simulate_cached

    traj = simulate_cached(config, 1)
    n2 = half_stats(config, traj.norm**2).mean
    decay = half_stats(config, traj.decay / config.stride).mean
    return {
        "n2": n2,
        "drift": half_stats(config, traj.drift / config.stride).mean,
        "heat": half_stats(config, (traj.heat + traj.remainder) / config.stride).mean,
        "k": -decay / n2 / drift_heat._decay_rate(config),
    }


def predicted(cal: dict, r: float, p: np.ndarray) -> np.ndarray:
    """Per item, the judged run's N^2 from the calibration rates, degree p (per item)."""
    from scipy.optimize import brentq

    out = np.full(cal["n2"].shape, np.nan)
    for i in range(out.size):
        k, nc2, drift, heat = cal["k"][i], cal["n2"][i], cal["drift"][i], cal["heat"][i]

        def balance(x, p=p[i], k=k, nc2=nc2, drift=drift, heat=heat):
            return k * r * nc2 * x - drift * x ** (1 - 1 / p) - heat * x ** (1 - 2 / p)

        try:
            out[i] = nc2 * brentq(balance, 1e-6, 1e6)
        except ValueError:  # no sign change: no positive root in the bracket
            pass
    return out


def main(argv: list[str] | None = None) -> int:
    from normtheory.runtime import prepare

    prepare()
    from normtheory.verify import drift_heat
    from normtheory.verify._common import row_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", default=list(drift_heat.REGIMES), metavar="ROW")
    args = parser.parse_args(argv)
    unknown = [row for row in args.rows if row not in drift_heat.REGIMES]
    if unknown:
        parser.error(f"unknown row(s) {unknown}; known: {list(drift_heat.REGIMES)}")
    for row in args.rows:
        config, _ = row_config(drift_heat.BASE, drift_heat.REGIMES[row], frozenset())
        if drift_heat._refusal(config):
            print(f"{row}: not applicable ({drift_heat._refusal(config)})")
            continue
        cal = rates(drift_heat.calibration_config(config))
        judged = rates(config)
        r = drift_heat._decay_rate(config)
        errors = []
        for label, p in (("p = 1", 1.0), ("p = 2", 2.0), ("p = k", cal["k"])):
            degree = np.broadcast_to(np.asarray(p, dtype=float), cal["n2"].shape)
            error = np.abs(np.log(judged["n2"] / predicted(cal, r, degree)))
            errors.append(f"{label}: {np.nanmedian(error):.3f}")
        print(f"{row} (median k = {np.median(cal['k']):.2f}): " + ", ".join(errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
