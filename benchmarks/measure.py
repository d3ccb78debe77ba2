"""Timing harness: worker processes per implementation, alternated run by run.

For one (size, thread count), every implementation gets its own long-lived worker
process (benchmarks/worker.py) with the thread settings in its environment and its CPU
affinity; the workers then run one at a time, round by round, the order rotating each
round, so that every round's ratios compare runs made side by side. A run is timed in
chunks; the first chunk of each worker's first run is its warm-up (JAX compiles there)
and every later chunk is a steady-state sample.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .machine import background_load

HERE = Path(__file__).resolve().parent

# XLA has no intra-op thread-count flag any more ("intra_op_parallelism_threads=1" in
# XLA_FLAGS is silently ignored, "--intra_op_parallelism_threads" aborts); its CPU thread
# pool follows the process's CPU affinity, which the workers get from here.
SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false"


def thread_env(threads: int) -> dict[str, str]:
    """The environment of a worker limited to `threads` threads (BLAS, OpenMP, XLA, CPUs)."""
    env = dict(os.environ)
    count = str(threads)
    env.update(
        BENCH_CPUS=",".join(str(c) for c in _cpus(threads)),
        OMP_NUM_THREADS=count,
        OPENBLAS_NUM_THREADS=count,
        MKL_NUM_THREADS=count,
        JAX_PLATFORMS="cpu",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "multi_thread_eigen" not in f]
    if threads == 1:
        flags.append(SINGLE_THREAD_XLA)
    env["XLA_FLAGS"] = " ".join(flags)
    return env


def _cpus(threads: int) -> list[int]:
    """The first `threads` CPUs this process may use."""
    return sorted(os.sched_getaffinity(0))[: max(1, threads)]


class Worker:
    """A worker process: send a command, read one JSON line back."""

    def __init__(self, spec: dict[str, Any], threads: int) -> None:
        self.spec = spec
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"{__package__}.worker", json.dumps(spec)],
            cwd=HERE.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=thread_env(threads),
            text=True,
        )

    def read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"worker {self.spec['impl']} exited with code {code}")
        return json.loads(line)

    def ask(self, command: str) -> dict[str, Any]:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> dict[str, Any]:
        final = self.ask("quit")
        self.proc.wait()
        return final


def roofline_rates(shapes: list[tuple[int, int]], threads: int, tiny: bool = False) -> dict:
    """Machine rates (roofline.measure) in a worker with the given thread settings.

    `tiny`: one short timing loop and a 32 MiB array, for the smoke test.
    """
    spec = {"impl": "roofline", "shapes": shapes, "tiny": tiny}
    return Worker(spec, threads).read()


# A chunk is clean when other processes (and the hypervisor's steal) kept fewer than
# LOAD_LIMIT cores busy during it, give or take /proc/stat's 10 ms ticks.
LOAD_LIMIT = 0.3
TICK_SLACK = 0.03


def _clean(chunk: tuple[int, float, float, float]) -> bool:
    _, wall, cpu, busy = chunk
    return busy - cpu <= LOAD_LIMIT * wall + TICK_SLACK


def _steady_chunks(runs: list[dict]) -> list[tuple[int, tuple]]:
    """(round, chunk) of every steady chunk: all but the first chunk of the first run."""
    out = [(run["round"], tuple(c)) for run in runs for c in run["chunks"]]
    return out[1:] if len(out) > 1 else out  # a single chunk is its own sample


def wait_for_quiet(limit_s: float = 90.0, window_s: float = 0.5) -> float:
    """Wait (at most `limit_s`) until other processes keep < LOAD_LIMIT cores busy.

    The machine may be shared: a run started while someone else's job runs is disturbed
    from its first chunk. Returns the seconds waited.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        if background_load(window_s) < LOAD_LIMIT:
            break
    return time.perf_counter() - start


def time_implementations(
    specs: dict[str, dict[str, Any]], threads: int, repeats: int, log=print, quiet_s: float = 90.0
) -> dict[str, dict[str, Any]]:
    """Start one worker per spec, run `repeats` alternating rounds, return raw records.

    Each run starts once the machine is quiet (wait_for_quiet, at most `quiet_s`); a run whose
    steady chunks were mostly disturbed by other processes (see _clean) is made once
    more in the same round.
    """
    workers = {name: Worker(spec, threads) for name, spec in specs.items()}
    records = {name: {"ready": w.read(), "runs": []} for name, w in workers.items()}
    names = list(workers)
    try:
        for round_index in range(repeats):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                runs = records[name]["runs"]
                for _attempt in range(2):
                    waited = wait_for_quiet(quiet_s) if quiet_s > 0 else 0.0
                    summary = {**workers[name].ask("run"), "round": round_index}
                    runs.append(summary)
                    chunks = [c for r, c in _steady_chunks(runs) if r == round_index]
                    clean = sum(map(_clean, chunks))
                    log(
                        f"    {name}: round {round_index + 1}/{repeats} "
                        f"{summary['total']:.1f} s, {clean}/{len(chunks)} clean chunks"
                        + (f" (waited {waited:.0f} s for a quiet machine)" if waited > 1 else "")
                    )
                    if 2 * clean >= len(chunks):
                        break
    finally:
        for name, worker in workers.items():
            records[name]["final"] = worker.close()
    return records


def _selected(runs: list[dict]) -> tuple[list[tuple[int, tuple]], bool]:
    """The clean steady chunks when at least half are clean, else all; and that flag."""
    steady = _steady_chunks(runs)
    clean = [(r, c) for r, c in steady if _clean(c)]
    ok = 2 * len(clean) >= len(steady)
    return (clean if ok else steady), ok


def summarize(record: dict[str, Any], seeds: int) -> dict[str, Any]:
    """Steps/s (median over steady chunks), first-call overhead, memory, CPU use, load."""
    runs = record["runs"]
    chosen, clean = _selected(runs)
    samples = [c[1] / c[0] for _, c in chosen if c[0]]
    per_step = statistics.median(samples)
    rounds = sorted({r for r, _ in chosen})
    per_round = [statistics.median(c[1] / c[0] for r, c in chosen if r == k) for k in rounds]
    first = runs[0]
    first_steps, first_wall, *_ = first["chunks"][0]
    later_pre = statistics.median(r["pre"] for r in runs[1:]) if len(runs) > 1 else 0.0
    overhead = first["pre"] + first_wall - first_steps * per_step - later_pre
    wall = sum(c[1] for _, c in chosen)
    cpu = sum(c[2] for _, c in chosen)
    busy = sum(c[3] for _, c in chosen)
    return {
        "seconds_per_step": per_step,
        "steps_per_s": 1.0 / per_step,
        "seed_steps_per_s": seeds / per_step,
        "spread": [min(samples), max(samples)],
        "samples": len(samples),
        "clean": clean,
        "round_rates": [1.0 / s for s in per_round],
        "first_call_s": max(overhead, 0.0),
        "peak_rss_mib": record["final"]["peak_rss_mib"],
        "ready_rss_mib": record["ready"]["rss_mib"],
        "cpu_util": cpu / wall if wall else float("nan"),
        # /proc/stat counts in 10 ms ticks: meaningless over less than a second.
        "other_load": max(busy - cpu, 0.0) / wall if wall >= 1.0 else float("nan"),
        "runs": runs,
    }


def round_ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Median over rounds of rate(a) / rate(b): each ratio from runs made side by side."""
    pairs = zip(a["round_rates"], b["round_rates"], strict=False)
    return statistics.median(x / y for x, y in pairs)
