"""Run every figure script's main at full size into figures/; print each path and wall time.

The scripts are independent (each simulates through the results cache and writes its own
files), so `--jobs N` draws N at a time in separate processes (default: 2, or 1 on a
one-core machine); a free process takes the next script in name order. Two processes
never write the same file: a run both need is computed by each and stored atomically.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import multiprocessing
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> list[Path]:
    """The figure scripts figures/fig*.py, in name order."""
    return sorted(HERE.glob("fig*.py"))


def load(path: Path):
    """Import a figure script as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def draw(path: Path) -> tuple[str, float]:
    """Draw one figure at full size into figures/: (its PNG's path, wall seconds)."""
    tic = time.perf_counter()
    record = load(path).main(HERE)
    return str(record.path), time.perf_counter() - tic


def default_jobs() -> int:
    """2 processes, or 1 where this process may use a single core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if (cores or 1) >= 2 else 1


def main(argv: list[str] | None = None) -> int:
    """Draw every figure, `--jobs` at a time, timing each; 1 if one failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None, help="figures drawn at once")
    args = parser.parse_args(argv)
    jobs = default_jobs() if args.jobs is None else args.jobs
    if jobs < 1:
        parser.error(f"--jobs {jobs}: must be at least 1")
    start = time.perf_counter()
    failed = []
    if jobs == 1:
        for path in scripts():
            png, seconds = draw(path)
            print(f"{png}  ({seconds:.1f} s)", flush=True)
    else:
        # spawn: JAX's threads do not survive a fork.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
            futures = {pool.submit(draw, path): path for path in scripts()}
            for future in concurrent.futures.as_completed(futures):
                try:
                    png, seconds = future.result()
                except Exception as error:  # reported, and the other figures go on
                    failed.append(futures[future].name)
                    print(f"{futures[future].name} failed: {error!r}", file=sys.stderr)
                    continue
                print(f"{png}  ({seconds:.1f} s)", flush=True)
    print(f"all figures in {time.perf_counter() - start:.1f} s ({jobs} at a time)")
    if failed:
        print(f"failed: {', '.join(sorted(failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
