"""Cached simulation runs: `run` computes a trajectory once per config and reuses it.

The cache key is a hash of the full config, the seed count, the grid, the tracing flag
and the shard, plus the package version (see `normtheory.cache`), so a changed config
never reuses a stale result and a corrupt file is reported and recomputed.

A grid too large for one machine is split over n independent processes with
`shard=(i, n)` (each caches its own part) and joined by `merge`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from normtheory import cache
from normtheory.config import SimConfig
from normtheory.engine import SCALAR_FIELDS, TRACE_FIELDS, Trajectory, simulate

# Arrays with a leading grid-point axis (the rest are shared by all points).
PER_POINT = {"norm0", *TRACE_FIELDS, *SCALAR_FIELDS}


def run_spec(
    config: SimConfig,
    seeds: int,
    grid: Mapping[str, Sequence[float]] | None,
    trace_budget: bool,
    shard: tuple[int, int] | None = None,
) -> dict:
    """Everything that determines a run's arrays, as a JSON-ready dict."""
    spec = {
        "config": dataclasses.asdict(config),
        "seeds": seeds,
        "grid": {k: [float(v) for v in vals] for k, vals in (grid or {}).items()},
        "trace_budget": trace_budget,
    }
    if shard is not None:
        spec["shard"] = list(shard)
    return spec


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
    shard: tuple[int, int] | None = None,
    log=print,
) -> tuple[Trajectory, Path | None, bool]:
    """(trajectory, npz path or None, whether it came from the cache)."""
    config = config.validate()

    def compute_trajectory() -> Trajectory:
        return simulate(
            config, seeds, grid, trace_budget=trace_budget, progress=progress, shard=shard
        )

    if not use_cache:
        return compute_trajectory(), None, False
    spec = run_spec(config, seeds, grid, trace_budget, shard)

    def compute():
        return compute_trajectory().arrays(), {"config": spec}

    entry = cache.load_or_compute(
        directory or cache.cache_dir(),
        cache.config_key(spec),
        compute,
        log=log,
        expected_config=spec,
    )
    return from_arrays(config, entry.arrays), entry.path, entry.from_cache


def merge(
    config: SimConfig,
    seeds: int,
    grid: Mapping[str, Sequence[float]],
    shards: int,
    *,
    trace_budget: bool = True,
    directory: Path | None = None,
) -> tuple[Trajectory, Path]:
    """Join the cached results of `shards` processes that ran `run(..., shard=(i, shards))`.

    Writes the entry that `run(config, seeds, grid)` looks up, so a later run of the
    whole grid loads it. Raises FileNotFoundError naming every shard still missing.
    """
    config = config.validate()
    directory = Path(directory or cache.cache_dir())
    parts, missing = [], []
    for index in range(shards):
        spec = run_spec(config, seeds, grid, trace_budget, (index, shards))
        entry = cache.load(directory, cache.config_key(spec), expected_config=spec)
        if entry is None:
            missing.append(index)
        else:
            parts.append(entry.arrays)
    if missing:
        raise FileNotFoundError(
            f"shards {missing} of {shards} are not in {directory}; "
            f"run them with --shard i/{shards} first"
        )
    # Shard s holds grid points s, s + n, ...: point j is entry j // n of shard j % n.
    n_points = sum(len(part["norm"]) for part in parts)
    order = [(j % shards, j // shards) for j in range(n_points)]
    arrays = {}
    for name, first in parts[0].items():
        if name in PER_POINT or name.startswith("grid_"):
            arrays[name] = np.stack([parts[s][name][i] for s, i in order])
        else:
            arrays[name] = first
    spec = run_spec(config, seeds, grid, trace_budget)
    path = cache.save(directory, cache.config_key(spec), arrays, {"config": spec})
    return from_arrays(config, arrays), path
