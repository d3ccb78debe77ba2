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
per depth, the parts and the parameter budget of the features themselves
(`normtheory.parameter_budget`: summed drift 2 theta . d theta, decay included, and heat
|d theta|^2 over the run). A diagnostic quoted in THEORY.md items 16 and 17; not a
check. Runs `seeds` float64 replays per row (about 5 s each on two cores).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def path_parts(initial: np.ndarray, final: np.ndarray, member: np.ndarray) -> dict[str, np.ndarray]:
    """Per node, growth = feature part + alignment part (exactly).

    initial, final (F, d): the features before and after training; member (I, F): 1 where
    feature f is on node i's path. Returns {"growth", "feature", "alignment"}, each (I,).
    """
    out = {}
    for name, theta in (("0", initial), ("T", final)):
        out["n2" + name] = np.sum((member @ theta) ** 2, axis=-1)
        out["s" + name] = member @ np.sum(theta**2, axis=-1)
    feature = 0.5 * np.log(out["sT"] / out["s0"])
    growth = 0.5 * np.log(out["n2T"] / out["n20"])
    return {"growth": growth, "feature": feature, "alignment": growth - feature}


def main(argv: list[str] | None = None) -> int:
    from normtheory import regimes

    base = regimes.HIERARCHY.replace(model="compositional")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=base.depth)
    parser.add_argument("--branching", type=int, default=base.branching)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    from normtheory.config import ConfigError

    try:
        base = base.replace(depth=args.depth, branching=args.branching)
    except ConfigError as error:
        parser.error(str(error))
    if args.seeds < 1:
        parser.error(f"--seeds must be a positive integer, got {args.seeds}")

    import jax

    jax.config.update("jax_enable_x64", True)
    from normtheory.confidence import spearman
    from normtheory.data.hierarchy import make_tree
    from normtheory.parameter_budget import trace_parameters
    from normtheory.verify.structure import OPTIMIZERS

    tree = make_tree(base.depth, base.branching)
    member = np.zeros((tree.num_nodes, tree.num_nodes))
    for node, path in enumerate(tree.ancestors):
        member[node, path[path >= 0]] = 1.0
    depth = np.asarray(tree.depth)
    levels = range(base.depth + 1)
    print(f"compositional encoder, depth {base.depth}, branching {base.branching}, "
          f"{args.seeds} seed(s), {base.steps} steps")  # fmt: skip
    for mode in ("decoupled", "coupled"):
        for name, changes in OPTIMIZERS.items():
            config = base.replace(frequency_mode=mode, **changes)
            parts, budget = [], []
            for seed in range(config.seed, config.seed + args.seeds):
                trace = trace_parameters(config, seed)
                feats = [x["anchor"]["features"] for x in (trace["initial"], trace["final"])]
                parts.append(path_parts(*feats, member))
                budget.append({k: trace[k].sum(axis=0) for k in ("drift", "heat")})
            mean = {k: np.mean([p[k] for p in parts], axis=0) for k in parts[0]}
            sums = {k: np.mean([b[k] for b in budget], axis=0) for k in budget[0]}
            rho = {k: spearman(v, depth) for k, v in mean.items()}
            print(f"\n{mode}, {name}: Spearman with depth: growth {rho['growth']:+.2f}, "
                  f"feature part {rho['feature']:+.2f}, alignment part "
                  f"{rho['alignment']:+.2f}")  # fmt: skip
            print("| depth | growth | feature part | alignment part | feature drift | "
                  "feature heat |\n|---|---|---|---|---|---|")  # fmt: skip
            for k in levels:
                at = depth == k
                cells = [mean[x][at].mean() for x in ("growth", "feature", "alignment")]
                cells += [sums[x][at].mean() for x in ("drift", "heat")]
                print(f"| {k} | " + " | ".join(f"{c:+.3f}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
