"""One measurement process: an implementation of the workload, run on command.

    python -m benchmarks.worker SPEC_JSON

The parent (run.py) starts one worker per implementation with its thread settings in
the environment, so that peak memory and thread pools never mix. The worker first pins
itself to the CPUs listed in BENCH_CPUS (comma-separated), before any library that starts
threads is imported: only the standard library is imported at module level.
The worker builds its implementation, prints {"ready": ..., "rss_mib": ...}, then reads
commands from stdin: "run" performs one timed run and prints its clock; "quit" prints
{"peak_rss_mib": ...} (VmHWM of this process) and exits. One JSON object per line.

A run's clock marks the wall and CPU time at every chunk boundary: for the engine, the
simulate call's progress-bar updates (after each jitted chunk, results on the host);
for the references, every `chunk` batches requested from the batch iterator. The first
chunk of the first run is the warm-up (it holds JAX's compilation).

SPEC: impl ("normtheory", "numpy", "torch", "jax-lean-<variant>", "roofline"), size
(a name in workload.SIZES), steps, chunk, threads, budget (engine: trace the norm
budget), bare (engine: no alignment or uniformity either), rows (recorded
row ids, or null for all), shapes (roofline: [[B, d], ...]).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .machine import busy_seconds

if TYPE_CHECKING:
    from .workload import Size


class Clock:
    """Marks (steps done, wall s, own cpu s, machine busy s) at chunk boundaries of a run.

    Machine busy time (all CPUs, from /proc/stat) minus this process's CPU time is the
    load other processes put on the machine during a chunk.
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: list[tuple[int, float, float, float]] = []
        self.done = 0

    def mark(self, steps: int) -> None:
        self.done += steps
        now = (self.done, time.perf_counter(), time.process_time(), busy_seconds())
        self.marks.append(now)

    def wrap(self, batches: Iterable[Any], chunk: int) -> Iterator[Any]:
        """Yield batches, marking before the first and after every `chunk` steps."""
        self.mark(0)
        for step, batch in enumerate(batches, start=1):
            yield batch
            if step % chunk == 0:
                self.mark(chunk)

    def summary(self) -> dict[str, Any]:
        """Time before the first mark, and each chunk's (steps, wall, cpu, busy) seconds."""
        chunks = [
            tuple(y - x for x, y in zip(a, b, strict=True))
            for a, b in zip(self.marks, self.marks[1:], strict=False)
        ]
        first = self.marks[0][1] - self.start if self.marks else 0.0
        return {"pre": first, "chunks": chunks, "total": time.perf_counter() - self.start}


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _engine(spec: dict, size: Size) -> Callable[[Clock], None]:
    import normtheory
    import normtheory._drive as _drive

    from . import workload

    config = workload.sim_config(size, spec["steps"])
    clocks: list[Clock] = []

    class Bar:  # stands in for the engine's tqdm bar: marks each finished chunk
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            clocks[-1].mark(0)

        def update(self, steps: int) -> None:
            if steps:  # the engine reports the steps a resumed run starts from (0 here)
                clocks[-1].mark(steps)

        def close(self) -> None:
            pass

    _drive.tqdm = Bar

    def run(clock: Clock) -> None:
        clocks.append(clock)
        normtheory.simulate(
            config,
            seeds=size.seeds,
            trace_budget=bool(spec["budget"]),
            trace_energy=bool(spec["budget"]),
            trace_diagnostics=not spec.get("bare"),
            progress=True,
            chunk=spec["chunk"],
        )

    return run


def _reference(spec: dict, size: Size) -> Callable[[Clock], None]:
    import numpy as np

    from . import workload

    module = importlib.import_module(f"{__package__}.reference_{spec['impl']}")
    if spec["impl"] == "torch":
        import torch

        torch.set_num_threads(spec["threads"])
    seeds = size.seeds if size.seeds > 1 else 0
    table0 = module.initial_table(size.items, size.dim, 0, seeds)
    cdf = workload.zipf_cdf(size.items)
    rows = spec.get("rows")
    train = module.train_batched if seeds and spec["impl"] == "numpy" else module.train
    hyper = {"lr": workload.LR, "tau": workload.TAU, "sigma": workload.VIEW_NOISE}

    def run(clock: Clock) -> None:
        batches = module.sample(cdf, size.batch, size.dim, spec["steps"], 1, seeds)
        train(
            table0,
            clock.wrap(batches, spec["chunk"]),
            stride=workload.STRIDE,
            rows=None if rows is None else np.asarray(rows),
            **hyper,
        )

    return run


def _lean(spec: dict, size: Size) -> Callable[[Clock], None]:
    import numpy as np

    from . import lean_jax

    rows = spec.get("rows")
    variant = spec["impl"].removeprefix("jax-lean-")
    train = lean_jax.make_trainer(size, variant, None if rows is None else np.asarray(rows))

    def run(clock: Clock) -> None:
        clock.mark(0)
        train(spec["steps"], spec["chunk"], clock.mark)

    return run


def build(spec: dict) -> Callable[[Clock], None]:
    from .workload import SIZES

    size = SIZES[spec["size"]]
    if spec["impl"] == "normtheory":
        return _engine(spec, size)
    if spec["impl"].startswith("jax-lean-"):
        return _lean(spec, size)
    return _reference(spec, size)


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _pin() -> None:
    cpus = os.environ.get("BENCH_CPUS")
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


def main(argv: list[str]) -> int:
    _pin()
    spec = json.loads(argv[0])
    if spec["impl"] == "roofline":
        from . import roofline

        _emit(roofline.measure([tuple(s) for s in spec["shapes"]], spec.get("tiny", False)))
        return 0
    run = build(spec)
    _emit({"ready": True, "rss_mib": _rss_mib("VmRSS")})
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            clock = Clock()
            run(clock)
            _emit(clock.summary())
        elif command == "quit":
            break
    _emit({"peak_rss_mib": _rss_mib("VmHWM")})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
