"""Time the README's two commands from a fresh clone: `make test`, then `make reproduce`.

Clones the repository's committed HEAD into a temporary folder (no .venv, no results
cache, nothing but what `git clone` gives a new user; the commands get a temporary
folder of their own, so no compiled program of an earlier run is reused; pip's download
cache is the machine's), runs each command there with
the wall time, the CPU time of the command's processes and the load other processes
put on the machine, and writes benchmarks/fresh_clone.json, which RESULTS.md quotes.
After `make test`, `make test-end-to-end` (the suite's end-to-end runs, which `make test`
leaves out) and CI's `.ci/run` (which adds the probe's extra to the same .venv and runs
the whole suite with the real-model tests) are timed, and after `make reproduce` a
second `make reproduce` (the cached rerun).

With --bench, `make bench` runs last in the same clone (about 20 minutes), and its
benchmarks/RESULTS.json is copied into this checkout and RESULTS.md rendered from it:
the committed benchmark results are then those of a fresh clone's `make bench`.

    python -m benchmarks.fresh_clone [--keep] [--bench] [--only test,ci,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .machine import busy_seconds

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "fresh_clone.json"
COMMANDS = (
    ("make test", "test"),
    ("make test-end-to-end", "end_to_end"),
    (".ci/run", "ci"),
    ("make reproduce", "reproduce"),
    ("make reproduce", "rerun"),
    ("make bench", "bench"),
)
# Seconds: the project's targets (None: none). .ci/run (after make test) adds the probe's
# extra and runs the whole suite with the real-model tests required.
LIMITS = {
    "test": 300.0,
    "end_to_end": None,
    "ci": 600.0,
    "reproduce": 600.0,
    "rerun": 60.0,
    "bench": None,
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: str, cwd: Path, log: Path, env: dict[str, str]) -> dict:
    cpu0, busy0, tic = _children_cpu(), busy_seconds(), time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(
            command.split(), cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    wall = time.perf_counter() - tic
    cpu = _children_cpu() - cpu0
    other = max(busy_seconds() - busy0 - cpu, 0.0) / wall
    return {
        "command": command,
        "returncode": done.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "other_load_cores": round(other, 2),
        "log_tail": log.read_text(errors="replace").splitlines()[-3:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (path printed)")
    parser.add_argument(
        "--bench", action="store_true", help="also run make bench; adopt its RESULTS.json"
    )
    parser.add_argument(
        "--only",
        help="comma-separated subset of test,end_to_end,ci,reproduce,rerun,bench; the other "
        "entries of an existing fresh_clone.json are kept (each entry records its own revision)",
    )
    args = parser.parse_args(argv)
    default = {name for _, name in COMMANDS if name != "bench" or args.bench}
    wanted = set(args.only.split(",")) if args.only else default
    unknown = wanted - {name for _, name in COMMANDS}
    if unknown:
        parser.error(f"unknown commands {sorted(unknown)}")
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="normtheory-clone-"))
    clone = work / "normtheory"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env_note = {k: os.environ[k] for k in ("XLA_FLAGS", "NORMTHEORY_CACHE") if k in os.environ}
    if env_note:
        print(f"note: the environment sets {env_note}; the clone inherits it", file=sys.stderr)
    # The commands' own temporary folder: the tests' compiled-program cache (under the
    # temporary directory, tests/conftest.py) starts empty, as on a new machine, and is
    # shared by the clone's later commands only.
    scratch = work / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    previous = json.loads(OUT.read_text())["results"] if args.only and OUT.exists() else {}
    results = {k: v for k, v in previous.items() if k not in wanted}
    for command, name in COMMANDS:
        if name not in wanted:
            continue
        print(f"{name}: {command} in {clone} ...", flush=True)
        results[name] = _timed(command, clone, work / f"{name}.log", env)
        results[name]["limit_s"] = LIMITS[name]
        results[name]["revision"] = revision
        print(f"  {results[name]['wall_s']:.0f} s, exit {results[name]['returncode']}", flush=True)
        if results[name]["returncode"] != 0:
            break
    results = {name: results[name] for _, name in COMMANDS if name in results}
    record = {
        "revision": revision,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}")
    if "bench" in wanted and results.get("bench", {}).get("returncode") == 0:
        shutil.copyfile(clone / "benchmarks" / "RESULTS.json", HERE / "RESULTS.json")
        subprocess.run(
            [sys.executable, "-m", "benchmarks.run", "--render-only"], cwd=ROOT, check=True
        )
        print(f"adopted the clone's RESULTS.json; rendered {HERE / 'RESULTS.md'}")
    if args.keep:
        print(f"clone kept in {clone}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["returncode"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
