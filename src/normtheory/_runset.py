"""The runs one `simulate` call vmaps together: grid points, shards, and their memory.

Validated before anything is compiled or allocated: a grid over a traced field that
cannot change the numbers, a repeated or empty axis, a shard without grid points, and a
set of runs that cannot fit in memory are refused with one line naming the problem.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from normtheory import execution as _execution
from normtheory import losses
from normtheory._trace import TRACE_FIELDS
from normtheory.config import ConfigError, SimConfig

SCALAR_FIELDS = ("loss", "alignment", "uniformity")


def inert_fields(config: SimConfig) -> dict[str, str]:
    """Traced hyper-parameters that cannot change `config`'s numbers, with the reason."""
    out = {}
    if config.optimizer not in ("momentum", "nesterov"):
        out["momentum"] = f"optimizer={config.optimizer!r} has no momentum"
    if config.optimizer not in ("adam", "adamw"):
        for name in ("b1", "b2"):
            out[name] = f"optimizer={config.optimizer!r} has no Adam moments"
    if config.data != "frequency":
        out["view_noise"] = f"data={config.data!r} draws no views"
    return out


def grid_points(
    config: SimConfig, grid: Mapping[str, Sequence[float]] | None
) -> tuple[list[str], list[tuple]]:
    """(axis names, every combination of their values), each a valid config of `config`."""
    grid = dict(grid or {})
    traced = SimConfig.traced_fields()
    for name, values in grid.items():
        if name not in traced:
            raise ConfigError(
                f"cannot sweep {name!r} inside one jit; sweepable: {', '.join(traced)}"
            )
        if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
            raise ConfigError(f"grid[{name!r}]={values!r}: expected a sequence of numbers")
        if len(values) == 0:
            raise ConfigError(f"grid[{name!r}] is empty: give at least one value")
        if len({float(v) for v in values}) != len(values):
            raise ConfigError(f"grid[{name!r}]={list(values)!r} repeats a value; give each once")
        inert = inert_fields(config).get(name)
        if inert:
            raise ConfigError(f"grid[{name!r}]: {inert}, so its grid points would be identical")
    names = list(grid)
    points = list(itertools.product(*(grid[n] for n in names))) or [()]
    for point in points:  # every grid point must be a valid config
        config.replace(**dict(zip(names, point, strict=True)))
    return names, points


def shard_slice(shard: Any, n_points: int) -> slice:
    """The grid points of shard (i, n) of `n_points`; ConfigError for a bad or empty one."""
    try:
        index, count = shard
    except (TypeError, ValueError):
        raise ConfigError(f"shard={shard!r}: expected a pair (i, n)") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (index, count)):
        raise ConfigError(f"shard={shard!r}: expected two integers")
    if not 0 <= index < count:
        raise ConfigError(f"shard {index}/{count}: need 0 <= i < n")
    if index >= n_points:
        raise ConfigError(f"shard {index}/{count} has no grid point ({count} > grid size)")
    return slice(index, None, count)


@dataclasses.dataclass(frozen=True, eq=False)
class Plan:
    """A validated batch of runs: what `normtheory.engine.execute` computes, and how.

    Made only by `plan`, which validates every argument once, before anything is
    compiled, allocated or looked up in the cache; `execute` and the results cache take
    it as it is. What changes the numbers (config, seeds, the grid, the shard and what is
    traced) and the execution settings (chunk, progress, divergence policy), which never
    do, are kept apart: `run` keys the cache on the first kind only.

    Attributes:
        config: the simulation.
        seeds: runs per grid point (seeds config.seed, config.seed + 1, ...).
        names: the grid's axis names; points: the grid points this plan runs (its shard
            of them), each a tuple of values in `names` order ([()] without a grid).
        gridded: whether a grid was given (results then have a leading grid axis).
        shard: (i, n) or None.
        trace_budget, trace_split, trace_energy, trace_diagnostics, dense, with_params:
            as `simulate`.
        chunk: steps per jitted call (resolved, a multiple of config.stride).
        progress, record_divergence: as `simulate`.
    """

    config: SimConfig
    seeds: int
    names: tuple[str, ...]
    points: tuple[tuple, ...]
    gridded: bool
    shard: tuple[int, int] | None
    trace_budget: bool
    trace_split: bool
    trace_energy: bool
    trace_diagnostics: bool
    dense: bool
    with_params: bool
    chunk: int
    progress: bool
    record_divergence: bool

    @property
    def n_runs(self) -> int:
        """Runs vmapped together: grid points times seeds."""
        return len(self.points) * self.seeds

    def hyper_rows(self) -> list[dict[str, float]]:
        """Each run's traced hyper-parameters, in run order (grid points, then seeds)."""
        rows = []
        for point in self.points:
            values = self.config.hyperparameters()
            values.update(dict(zip(self.names, point, strict=True)))
            rows += [values] * self.seeds
        return rows


def plan(
    config: SimConfig,
    seeds: Any = 1,
    grid: Mapping[str, Sequence[float]] | None = None,
    *,
    shard: tuple[int, int] | None = None,
    trace_budget: Any = True,
    trace_split: Any = False,
    trace_energy: Any = True,
    trace_diagnostics: Any = True,
    dense: Any = False,
    with_params: Any = False,
    chunk: Any = None,
    progress: Any = True,
    record_divergence: Any = False,
) -> Plan:
    """Validate a batch of runs (arguments as `normtheory.simulate`); ConfigError names
    the first problem: a config of another type, a bad seed count, grid or shard, a flag
    that is not True or False, a bad chunk, or runs that cannot fit in memory."""
    if not isinstance(config, SimConfig):
        raise ConfigError(f"config: expected a SimConfig, got {type(config).__name__}")
    seeds = _execution.check_seeds(seeds, config.seed)
    flags = {
        name: _execution.check_flag(name, value)
        for name, value in (
            ("trace_budget", trace_budget),
            ("trace_split", trace_split),
            ("trace_energy", trace_energy),
            ("trace_diagnostics", trace_diagnostics),
            ("dense", dense),
            ("with_params", with_params),
            ("progress", progress),
            ("record_divergence", record_divergence),
        )
    }
    chunk = _execution.check_chunk(chunk, config.steps, config.stride)
    names, points = grid_points(config, grid)
    if shard is not None:
        points = points[shard_slice(shard, len(points))]
        shard = (int(shard[0]), int(shard[1]))
    checked = Plan(
        config=config,
        seeds=seeds,
        names=tuple(names),
        points=tuple(points),
        gridded=bool(grid),
        shard=shard,
        chunk=chunk,
        **flags,
    )
    check_fits(config, checked.n_runs, checked.trace_budget)
    return checked


def default_chunk(config: SimConfig, target: int = 500) -> int:
    """Steps per jitted call when none is given (`execution.default_chunk`)."""
    return _execution.default_chunk(config.steps, config.stride, target)


def _parameter_count(config: SimConfig) -> int:
    """A lower bound on the trainable numbers of `config`'s model (one run)."""
    if config.model == "mlp":
        hidden = config.input_dim * config.width + (config.layers - 1) * config.width**2
        return hidden + config.width * config.dim + config.num_classes * config.dim
    rows = config.num_tracked_max * (2 if config.towers == 2 else 1)
    return rows * config.dim


def estimate_bytes(config: SimConfig, n_runs: int, trace_budget: bool) -> dict[str, float]:
    """A lower bound on a run's memory, by part (bytes): the records kept on the host
    (twice: the chunks and their concatenation) and the parameters with their gradient
    and optimizer state on the device."""
    itemsize = 8 if config.dtype == "float64" else 4
    windows = config.steps // config.stride
    tracked = config.tracked or config.num_tracked_max
    fields = len(TRACE_FIELDS) if trace_budget else 2
    per_run = windows * (tracked * fields + len(SCALAR_FIELDS)) * itemsize
    slots = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "adamw": 2}[config.optimizer]
    return {
        "records": 2.0 * n_runs * per_run,
        "parameters and optimizer state": float(n_runs)
        * _parameter_count(config)
        * (2 + slots)
        * itemsize,
    }


def check_fits(config: SimConfig, n_runs: int, trace_budget: bool) -> None:
    """Refuse, before allocating, `n_runs` runs of `config` that cannot fit in memory."""
    _execution.check_memory(
        estimate_bytes(config, n_runs, trace_budget),
        hint="use fewer seeds or grid points, fewer steps or a larger stride, or track "
        "fewer items (tracked=...)",
    )


def compile_flags(hp_rows: Sequence[Mapping[str, float]], dtype) -> tuple[bool, bool]:
    """(decay, shared_exp): compile-time facts of every run of one compiled call.

    decay=False (no run has weight decay) skips the sparse step's dense shrink;
    shared_exp=True (every tau at or above losses.shared_exp_min_tau) lets the symmetric
    loss share one exponential.
    """
    decay = any(row["weight_decay"] != 0 for row in hp_rows)
    shared_exp = min(row["tau"] for row in hp_rows) >= losses.shared_exp_min_tau(dtype)
    return decay, shared_exp
