"""Where a compositional node's norm growth comes from: its features, or their alignment.

    python simulations/path_features.py [--depth D] [--branching B] [--seeds S]

A node of the compositional encoder is the sum of the features on its root-to-node
path, z_i = sum_f theta_f, so its squared norm is the path's feature energy
S_i = sum_f |theta_f|^2 times an alignment factor a_i = N_i^2 / S_i (1 for mutually
orthogonal features, below 1 when they cancel). Its growth splits exactly:

    log(N_T / N_0) = (1/2) log(S_T / S_0)  +  (1/2) log(a_T / a_0)
                      feature part             alignment part

For each row of the specificity map (THEORY.md item 13: SGD, Adam, AdamW; coupled and
decoupled frequency) this prints the Spearman correlation of each part with depth and,
per depth, the parts and the parameter budget of the features themselves (summed drift
2 theta . d theta, decay included, and heat |d theta|^2 over the run), from
`normtheory.parameter_budget.path_summary` through the results cache. A diagnostic
quoted in THEORY.md item 17 (figure 14 draws its SGD and Adam rows); not a check. Each
row's seeds are float64 replays, about 5 s each on two cores when not cached.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from normtheory import regimes
    from normtheory.config import ConfigError

    base = regimes.HIERARCHY.replace(model="compositional")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=base.depth)
    parser.add_argument("--branching", type=int, default=base.branching)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        base = base.replace(depth=args.depth, branching=args.branching)
    except ConfigError as error:
        parser.error(str(error))
    if args.seeds < 1:
        parser.error(f"--seeds must be a positive integer, got {args.seeds}")

    from normtheory.runtime import prepare

    prepare()
    from normtheory.cache import CacheLocationError, cache_dir, check_location
    from normtheory.confidence import spearman
    from normtheory.parameter_budget import path_summary
    from normtheory.verify.structure import OPTIMIZERS

    try:
        check_location(cache_dir())
    except CacheLocationError as error:
        parser.error(str(error))
    print(f"compositional encoder, depth {base.depth}, branching {base.branching}, "
          f"{args.seeds} seed(s), {base.steps} steps")  # fmt: skip
    for mode in ("decoupled", "coupled"):
        for name, changes in OPTIMIZERS.items():
            config = base.replace(frequency_mode=mode, **changes)
            runs = [path_summary(config, s) for s in range(config.seed, config.seed + args.seeds)]
            mean = {k: np.mean([r[k] for r in runs], axis=0) for k in runs[0]}
            depth = mean["depth"]
            rho = {k: spearman(mean[k], depth) for k in ("growth", "feature", "alignment")}
            print(f"\n{mode}, {name}: Spearman with depth: growth {rho['growth']:+.2f}, "
                  f"feature part {rho['feature']:+.2f}, alignment part "
                  f"{rho['alignment']:+.2f}")  # fmt: skip
            print("| depth | growth | feature part | alignment part | feature drift | "
                  "feature heat |\n|---|---|---|---|---|---|")  # fmt: skip
            for k in np.unique(depth):
                at = depth == k
                cells = [mean[x][at].mean() for x in ("growth", "feature", "alignment")]
                cells += [mean[x][at].mean() for x in ("drift", "heat")]
                print(f"| {int(k)} | " + " | ".join(f"{c:+.3f}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
