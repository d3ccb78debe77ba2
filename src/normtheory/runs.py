"""Cached simulation runs: `run` computes a trajectory once per config and reuses it.

The cache key is a hash of the full config, the seed count, the grid and the tracing
flag, plus the package version (see `normtheory.cache`), so a changed config never
reuses a stale result and a corrupt file is reported and recomputed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from normtheory import cache
from normtheory.config import SimConfig
from normtheory.engine import Trajectory, simulate


def run_spec(
    config: SimConfig,
    seeds: int,
    grid: Mapping[str, Sequence[float]] | None,
    trace_budget: bool,
) -> dict:
    """Everything that determines a run's arrays, as a JSON-ready dict."""
    return {
        "config": dataclasses.asdict(config),
        "seeds": seeds,
        "grid": {k: [float(v) for v in vals] for k, vals in (grid or {}).items()},
        "trace_budget": trace_budget,
    }


def from_arrays(config: SimConfig, arrays: Mapping[str, np.ndarray]) -> Trajectory:
    """Rebuild a Trajectory from `Trajectory.arrays()` output."""
    fields = {f.name for f in dataclasses.fields(Trajectory)} - {"config", "grid", "info"}
    grid = {k[len("grid_") :]: v for k, v in arrays.items() if k.startswith("grid_")}
    info = {k[len("info_") :]: v for k, v in arrays.items() if k.startswith("info_")}
    return Trajectory(config=config, grid=grid, info=info, **{k: arrays[k] for k in fields})


def run(
    config: SimConfig,
    seeds: int = 1,
    grid: Mapping[str, Sequence[float]] | None = None,
    *,
    trace_budget: bool = True,
    directory: Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
    log=print,
) -> tuple[Trajectory, Path | None, bool]:
    """(trajectory, npz path or None, whether it came from the cache)."""
    config = config.validate()
    if not use_cache:
        return (
            simulate(config, seeds, grid, trace_budget=trace_budget, progress=progress),
            None,
            False,
        )
    spec = run_spec(config, seeds, grid, trace_budget)
    key = cache.config_key(spec)

    def compute():
        traj = simulate(config, seeds, grid, trace_budget=trace_budget, progress=progress)
        return traj.arrays(), {"config": spec}

    entry = cache.load_or_compute(
        directory or cache.cache_dir(), key, compute, log=log, expected_config=spec
    )
    return from_arrays(config, entry.arrays), entry.path, entry.from_cache
