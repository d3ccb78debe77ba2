"""The benchmark workload, defined once: sizes, the engine config, and replayable inputs.

Every implementation runs the same free-table workload: a table of V items by d dims,
float32, initialised N(0, 1/d); each step draws B item ids from Zipf(s = 1.1); anchors
are the rows, positives are direction-space views normalize(u + 0.1 * noise) of the
anchors' directions u (constant in the gradient); the loss is symmetric InfoNCE on
cosine similarity at temperature 0.1, mean over the batch; plain SGD at lr 0.5; every
10 steps the norms of the recorded rows (all V, or a fixed subset for "large") are kept.

normtheory (and so JAX) is imported inside the functions that need it, so that the
NumPy and PyTorch measurement processes, which import this module, do not load JAX and
their peak memory is their own.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import normtheory

ZIPF = 1.1
VIEW_NOISE = 0.1
TAU = 0.1
LR = 0.5
STRIDE = 10


@dataclasses.dataclass(frozen=True)
class Size:
    """One benchmark size.

    items V, dim d, batch B, steps T, seeds S (vmapped / batched together; 1 = a single
    unbatched run); tracked k (0 = record the norms of all V rows every STRIDE steps,
    else k fixed rows, which bounds the trajectory's memory); check_steps: the prefix
    compared across implementations (0 = the full run); timed_steps: the steps of one
    timed run (0 = the full run); stage_steps: the steps of one per-stage timing run;
    rounds: the fewest timed rounds (alternating the implementations) at this size: a
    short run's ratio from one round is at the mercy of the shared machine's drift over
    the seconds between runs, so cheap sizes take several.
    """

    name: str
    items: int
    dim: int
    batch: int
    steps: int
    seeds: int = 1
    tracked: int = 0
    check_steps: int = 0
    timed_steps: int = 0
    stage_steps: int = 0
    rounds: int = 1

    @property
    def prefix(self) -> int:
        """Steps of the correctness check."""
        return self.check_steps or self.steps

    @property
    def timed(self) -> int:
        """Steps of one timed run."""
        return self.timed_steps or self.steps

    @property
    def recorded(self) -> int:
        """Number of rows whose norms are recorded."""
        return self.tracked or self.items


LARGE = Size(
    "large", 1_000_000, 64, 1024, 200, tracked=1000, check_steps=20, stage_steps=50, rounds=3
)
SIZES: dict[str, Size] = {
    s.name: s
    for s in (
        Size("small", 1000, 32, 256, 2000, rounds=5),
        Size("medium", 50_000, 64, 1024, 1000, check_steps=100, stage_steps=200),
        # 32 seeds of "small". One timed run covers 500 of the 2000 steps: the work per
        # step does not depend on the step, and full-length runs of every implementation
        # at both thread counts would not fit the benchmark's time budget.
        Size(
            "many", 1000, 32, 256, 2000, seeds=32, check_steps=200, timed_steps=500, stage_steps=200
        ),
        LARGE,
        # The comparison run of the "large" target: same B, d and tracking, V = 10,000.
        dataclasses.replace(LARGE, name="large10k", items=10_000),
        # The smoke-test size (tests/test_benchmarks.py, `run.py --tiny`).
        Size("tiny", 64, 8, 16, 20, stage_steps=20),
    )
}


def chunks_of(steps: int, parts: int = 5) -> int:
    """A chunk length: a multiple of STRIDE dividing `steps` into about `parts` chunks."""
    windows = steps // STRIDE
    for count in range(min(parts, windows), 0, -1):
        if windows % count == 0:
            return steps // count
    return steps


def sim_config(size: Size, steps: int | None = None) -> normtheory.SimConfig:
    """The normtheory SimConfig of `size`, for its first `steps` steps (default all).

    Run it with `simulate(..., chunk=chunks_of(steps))` (or `chunk=steps`: the whole run
    in one call, so each (size, steps) compiles once).
    """
    import normtheory

    steps = steps or size.steps
    return normtheory.SimConfig(
        num_items=size.items,
        dim=size.dim,
        batch=size.batch,
        steps=steps,
        zipf=ZIPF,
        view_noise=VIEW_NOISE,
        tau=TAU,
        lr=LR,
        stride=STRIDE,
        tracked=size.tracked,
        dtype="float32",
    )


def recorded_rows(size: Size) -> np.ndarray:
    """(I,) ids of the rows whose norms are recorded: all V, or the engine's tracked set."""
    from normtheory.problems import tracked_items

    return np.asarray(tracked_items(sim_config(size)))


def zipf_cdf(items: int, exponent: float = ZIPF) -> np.ndarray:
    """(V,) float32 cumulative Zipf probabilities over ranks 1..V (item 0 most frequent)."""
    weights = np.arange(1, items + 1, dtype=np.float64) ** (-exponent)
    return np.cumsum(weights / weights.sum()).astype(np.float32)


def reference_inputs(
    size: Size, seed: int, steps: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The engine's own inputs for one seed: (table0 (V, d), ids (T, B), noise (T, B, d)).

    `steps` (default: the correctness prefix) bounds the (T, B, d) noise: for "medium"
    the full run would be 262 MB of float32, the prefix is 26 MB. The first T steps of a
    longer run draw the same ids and noise, so a prefix is a faithful check.
    """
    from normtheory.engine import replay_inputs

    return replay_inputs(sim_config(size, steps or size.prefix), seed)
