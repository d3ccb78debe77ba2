"""Cached simulation runs: `run` computes a trajectory once per config and reuses it.

The cache key is a hash of what determines a run's arrays: the config, the seed count,
the grid, the tracing flag and the shard, plus the identity of the engine's code (see
`normtheory.cache`). Execution settings (chunk length, progress bar, divergence policy)
are not in the key: they do not change the numbers. The cache folder is checked before
anything is computed.

A grid too large for one machine is split over n independent processes with
`shard=(i, n)` (each caches its own part) and joined by `merge`. In float64 a merged
result is bit-identical to the unsharded run and is stored under its key. In float32,
XLA may round differently when a different number of runs is vmapped together (about
1e-6 after a few hundred steps), so a merged float32 result is keyed apart
("merged_from": n) and never passed off as the unsharded run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from normtheory import cache
from normtheory.config import ConfigError, SimConfig
from normtheory.engine import (
    SCALAR_FIELDS,
    SPLIT_FIELDS,
    TRACE_FIELDS,
    Checkpoint,
    Trajectory,
    estimate_bytes,
    execute,
    plan,
)
from normtheory.execution import check_seeds

# Arrays with a leading grid-point axis (the rest are shared by all points).
PER_POINT = {"norm0", *TRACE_FIELDS, *SCALAR_FIELDS}


def run_spec(
    config: SimConfig,
    seeds: int,
    grid: Mapping[str, Sequence[float]] | None,
    trace_budget: bool,
    shard: tuple[int, int] | None = None,
    merged_from: int | None = None,
    trace_split: bool = False,
) -> dict:
    """Everything that determines a run's arrays, as a JSON-ready dict."""
    spec = {
        "config": dataclasses.asdict(config),
        "seeds": seeds,
        # Axis order sets the layout of the grid-point axis, so it is part of the key.
        "grid": [[k, [float(v) for v in vals]] for k, vals in (grid or {}).items()],
        "trace_budget": trace_budget,
    }
    if trace_split:
        spec["trace_split"] = True
    if shard is not None:
        spec["shard"] = list(shard)
    if merged_from is not None and config.dtype != "float64":
        spec["merged_from"] = merged_from
    return spec


def from_arrays(config: SimConfig, arrays: Mapping[str, np.ndarray]) -> Trajectory:
    """Rebuild a Trajectory from `Trajectory.arrays()` output."""
    fields = {f.name for f in dataclasses.fields(Trajectory)} - {"config", "grid", "info", "params"}
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
    log: Callable[[str], object] | None = None,
    chunk: int | None = None,
    record_divergence: bool = False,
    checkpoint_seconds: float = 60.0,
    trace_split: bool = False,
) -> tuple[Trajectory, Path | None, bool]:
    """Simulate through the results cache.

    Args:
        config, seeds, grid, trace_budget, trace_split, shard: as `normtheory.simulate`;
            they (and the engine's code identity) make the cache key.
        directory: cache folder (default `cache.cache_dir()`), checked before computing.
        use_cache: False computes and saves nothing.
        progress, chunk, record_divergence: execution settings, as `simulate`; not in
            the key. A cached run that holds non-finite values raises FloatingPointError
            unless `record_divergence`, as a fresh one would.
        log: where warnings about corrupt entries go (default: standard error).
        checkpoint_seconds: a computed run saves its state to `<key>.checkpoint.npz`
            beside the entry at most this often, and on SIGINT/SIGTERM; a rerun resumes
            from it (bit-identical in float64) and removes it once the entry is saved.

    Returns:
        (trajectory, npz path or None, whether it came from the cache).
    """
    checked = plan(
        config,
        seeds,
        grid,
        shard=shard,
        trace_budget=trace_budget,
        trace_split=trace_split,
        chunk=chunk,
        progress=progress,
        record_divergence=record_divergence,
    )
    if not use_cache:
        return execute(checked), None, False
    spec = run_spec(config, seeds, grid, trace_budget, shard, trace_split=trace_split)
    directory = Path(directory or cache.cache_dir())
    key = cache.config_key(spec)
    point = Checkpoint(directory / f"{key}.checkpoint.npz", key, checkpoint_seconds)

    def compute():
        return execute(checked, point).arrays(), {"config": spec}

    need = estimate_bytes(config, checked.n_runs, trace_budget)["records"] / 2
    entry = cache.load_or_compute(
        directory, key, compute, log=log, expected_config=spec, need_bytes=need
    )
    if entry.path is not None:  # else the last checkpoint is all that is kept on disk
        point.path.unlink(missing_ok=True)
    trajectory = from_arrays(config, entry.arrays)
    if entry.from_cache and not record_divergence:
        fields = TRACE_FIELDS if trace_budget else ("norm", "g2")
        split_defined = trace_split or np.isfinite(trajectory.heat_self).all()
        fields = [f for f in fields if split_defined or f not in SPLIT_FIELDS]
        for name in (*fields, *SCALAR_FIELDS):
            if not np.isfinite(getattr(trajectory, name)).all():
                raise FloatingPointError(
                    f"the cached run {entry.path} holds non-finite {name} (it was kept with "
                    "record_divergence=True); pass record_divergence=True to load it "
                    "(--keep-divergent on the command line)"
                )
    return trajectory, entry.path, entry.from_cache


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

    In float64 writes the entry that `run(config, seeds, grid)` looks up (the merged
    arrays are bit-identical to an unsharded run); in float32 writes it under a key of
    its own (see the module docstring).

    Args:
        config, seeds, grid, trace_budget: exactly as the shards' `run` calls had them.
        shards: the number of shards N the grid was split into (>= 1).
        directory: the results cache (default `cache.cache_dir()`), checked first.

    Returns:
        (the merged Trajectory, with a leading grid axis as `run` returns it; the path
        of the entry written).

    Raises:
        FileNotFoundError: naming every shard still missing.
        ConfigError: a shard count below 1 or an empty grid.
    """
    if not isinstance(config, SimConfig):
        raise ConfigError(f"config: expected a SimConfig, got {type(config).__name__}")
    check_seeds(seeds, config.seed)
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ConfigError(f"--merge {shards!r}: the number of shards must be an integer >= 1")
    if not grid:
        raise ConfigError("merge needs the grid the shards ran (--grid)")
    directory = Path(directory or cache.cache_dir())
    merged_spec = run_spec(config, seeds, grid, trace_budget, merged_from=shards)
    done = cache.load(directory, cache.config_key(merged_spec), expected_config=merged_spec)
    if done is not None:  # merged before (a read-only archive needs no write)
        return from_arrays(config, done.arrays), done.path
    parts, missing = [], []
    for index in range(shards):
        spec = run_spec(config, seeds, grid, trace_budget, (index, shards))
        entry = cache.load(directory, cache.config_key(spec), expected_config=spec)
        if entry is None:
            missing.append(index)
        else:
            parts.append(entry.arrays)
    if missing:
        others = sorted(p.name for p in directory.glob("*.npz"))
        raise FileNotFoundError(
            f"shards {missing} of {shards} for this config, seed count and grid are not in "
            f"{directory} ({len(others)} other entries there); run them with --shard "
            f"i/{shards} and the same --set, --seeds and --grid first"
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
    cache.check_location(directory)
    entry = cache.store(directory, cache.config_key(merged_spec), arrays, {"config": merged_spec})
    return from_arrays(config, entry.arrays), entry.path
