"""`Trajectory`: the recorded arrays of a run, a JAX pytree.

Every producer of runs returns one: `normtheory.simulate`, `normtheory.runs.run` (from the
cache), `normtheory.tracer.trace`. It is registered as a pytree whose leaves are its
arrays (grid values, item facts and the trained parameters included) and whose static
part is the config, so `jax.tree.map` reaches every array of it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from normtheory.config import SimConfig


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Recorded arrays of a run. Leading axes: `grid` points (if any), then seeds.

    norm (..., W, I): norm of each tracked item at the end of each window of `stride`
    steps; norm0 (..., I): initial norms; g2, heat, drift, decay (..., W, I): window sums;
    loss (..., W): mean loss over the window; alignment, uniformity (..., W): at the
    window's last step; step (W,): step count at each window end; items (I,): tracked
    item ids; rate (I,): probability that the item is in a batch; info: per-item facts
    of the data (probability, depth, leaves, entropy, ...). remainder (..., W, I) is the
    part of the change of N^2 beyond the first-order budget (zero for free tables,
    up to rounding). heat_self, heat_cross, heat_rest, drift_self, drift_cross,
    drift_rest (..., W, I): the kernel split of heat and drift (THEORY.md item 15; see
    `normtheory._trace`), each triple adding up to heat or drift. params: the trained
    parameters (pytree with the same leading axes) when `simulate(..., with_params=True)`,
    else None; never cached.
    """

    config: SimConfig | None
    grid: dict[str, np.ndarray]
    step: np.ndarray
    items: np.ndarray
    rate: np.ndarray
    info: dict[str, np.ndarray]
    norm0: np.ndarray
    norm: np.ndarray
    g2: np.ndarray
    heat: np.ndarray
    drift: np.ndarray
    decay: np.ndarray
    remainder: np.ndarray
    heat_self: np.ndarray
    heat_cross: np.ndarray
    heat_rest: np.ndarray
    drift_self: np.ndarray
    drift_cross: np.ndarray
    drift_rest: np.ndarray
    loss: np.ndarray
    alignment: np.ndarray
    uniformity: np.ndarray
    params: Any = None

    def arrays(self) -> dict[str, np.ndarray]:
        """All arrays by name (for saving); grid values as grid_<name>; not the params."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out.pop("config"), out.pop("params")
        grid, info = out.pop("grid"), out.pop("info")
        out.update({f"grid_{k}": v for k, v in grid.items()})
        out.update({f"info_{k}": v for k, v in info.items()})
        return out


jax.tree_util.register_dataclass(
    Trajectory,
    data_fields=[f.name for f in dataclasses.fields(Trajectory) if f.name != "config"],
    meta_fields=["config"],
)
