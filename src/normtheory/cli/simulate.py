"""`normtheory simulate`: run a named experiment through the results cache."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from normtheory.cli._common import (
    Refused,
    add_grid,
    add_no_cache,
    add_seeds,
    add_set,
    add_shard,
    command,
    parse_grid,
    parse_shard,
    user_errors,
)

__all__ = ["add_parser", "main"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `simulate` subcommand to `subparsers` (argparse's add_subparsers result)."""
    parser = subparsers.add_parser(
        "simulate",
        help="run a named experiment; trace norms and the norm budget; cache the result",
        description="Run a named experiment (see --list) for --seeds seeds and every point "
        "of --grid, vmapped in one jit; print a summary and where the arrays went.",
    )
    parser.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    add_set(parser, "change a config field, e.g. --set lr=0.1 (repeatable)")
    add_seeds(parser, 1, "number of seeds (default 1)")
    add_grid(parser)
    add_shard(parser)
    parser.add_argument(
        "--merge",
        type=int,
        metavar="N",
        help="join the cached results of the N shards into the full-grid result",
    )
    parser.add_argument(
        "--chunk",
        type=int,
        metavar="STEPS",
        help="steps per jitted call, a multiple of stride (progress granularity; default "
        "about 500; never changes the numbers or the cache key)",
    )
    parser.add_argument(
        "--keep-divergent",
        action="store_true",
        help="keep (and cache) a run that becomes non-finite instead of stopping",
    )
    parser.add_argument("--no-budget", action="store_true", help="trace norms only (faster)")
    add_no_cache(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    return parser


@command("simulate")
def main(args: argparse.Namespace) -> int:
    """Run (or load) `args.experiment`; 0 done, 2 bad input, 130 interrupted."""
    from normtheory.regimes import EXPERIMENTS

    if args.list:  # answered before jax is imported
        for name, experiment in EXPERIMENTS.items():
            print(f"{name:22s} {experiment.summary}")
        return 0
    if not args.experiment:
        raise Refused("name an experiment (`normtheory simulate --list` shows them)")
    import numpy as np

    from normtheory.cache import CorruptCacheError
    from normtheory.checkpoint import RunInterrupted

    try:
        with user_errors(FloatingPointError, FileNotFoundError, CorruptCacheError):
            traj, path, cached = _run(args)
    except RunInterrupted as stopped:  # its message says where the checkpoint is
        print(f"normtheory simulate: {stopped}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("normtheory simulate: stopped; nothing was saved (--no-cache)", file=sys.stderr)
        return 130
    norms = traj.norm[..., -1, :]
    print(
        f"final norm: mean {np.mean(norms):.4g}, min {np.min(norms):.4g}, max {np.max(norms):.4g}"
        f"; final loss {np.mean(traj.loss[..., -1]):.4g}"
    )
    if path is not None:
        print(f"{'loaded from cache' if cached else 'wrote'} {path} (+ .json sidecar)")
    elif not args.no_cache:
        print("the result could not be saved (see the warning above)")
    return 0


def _run(args: argparse.Namespace) -> tuple[Any, Any, bool]:
    """Parse the arguments, then run, load or merge (each validates what it is given once):
    (trajectory, path or None, cached)."""
    from normtheory.config import ConfigError, override
    from normtheory.regimes import get_experiment
    from normtheory.runs import merge, run
    from normtheory.runtime import prepare

    config = override(get_experiment(args.experiment), args.assignments)
    grid = parse_grid(args.grid)
    if args.merge is not None and args.shard:
        raise ConfigError("--shard and --merge exclude each other: run the shards, then merge")
    prepare(float64=config.dtype == "float64")
    if args.merge is not None:
        traj, path = merge(config, args.seeds, grid, args.merge, trace_budget=not args.no_budget)
        return traj, path, False
    shard = parse_shard(args.shard) if args.shard else None
    return run(
        config,
        args.seeds,
        grid or None,
        trace_budget=not args.no_budget,
        use_cache=not args.no_cache,
        progress=not args.quiet,
        shard=shard,
        chunk=args.chunk,
        record_divergence=args.keep_divergent,
    )
