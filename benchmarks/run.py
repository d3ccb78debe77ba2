"""Benchmark the normtheory engine against PyTorch and NumPy references; write RESULTS.md.

    python -m benchmarks.run [--sizes small,medium,many,large] [--repeats N]
                             [--threads 1,2] [--out benchmarks/RESULTS.md] [--tiny]

For each size: check that the engine, NumPy, PyTorch (when installed) and the lean JAX
kernels give the same norms on the same inputs; measure the machine's matmul rate and
bandwidth for the roofline floor; time every implementation in its own process at each
thread count, alternating run by run; time the engine's stages; evaluate the targets.
`--tiny` runs the smoke-test size only (tests/test_benchmarks.py). The results also go
to a JSON file beside the report (same name, .json).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import check, machine, measure, report, roofline, targets
from .workload import SIZES, Size, chunks_of, recorded_rows

HERE = Path(__file__).resolve().parent
DEFAULT_SIZES = ("small", "medium", "many", "large")
# Sizes timed together (alternating), because a target compares them.
COMPANIONS = {"large": ("large10k",)}
STAGE_VARIANTS = ("normtheory", "normtheory-bare", "jax-lean-dense", "jax-lean-sparse")
NOTES = [
    "Under plain SGD the engine updates and traces only the drawn rows (its sparse-row "
    "step, normtheory._step.sparse_step), as the NumPy reference does (np.add.at). optax updates, "
    "which the engine uses for the other optimizers, are dense: a (V, d) gradient and a "
    'write of every row, 2 x 256 MB per step at "large" (see the dense floor). PyTorch\'s '
    "autograd also makes a dense gradient and torch.optim.SGD a dense update.",
    '"large" records the norms of 1,000 tracked rows (SimConfig.tracked = 1000, the '
    "same rows in every implementation) instead of all 1,000,000, which bounds the "
    "trajectory's memory; its V = 10,000 comparison run tracks 1,000 rows too.",
    "The engine's chunks are timed through its progress bar: the measuring process "
    "replaces normtheory._drive.tqdm by a clock that marks each finished chunk. "
    "Tracing off means simulate(trace_budget=False, trace_energy=False): the step traces "
    "nothing; the norms, the loss and alignment/uniformity are recorded once per window.",
    "Compile time is the first call's extra time; each (size, steps, chunk) compiles once.",
]


def _log(message: str, start: float = time.perf_counter()) -> None:
    print(f"[{time.perf_counter() - start:7.1f} s] {message}", file=sys.stderr, flush=True)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(DEFAULT_SIZES))
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed rounds, at least (default 1; a size may ask for more: workload.Size.rounds)",
    )
    parser.add_argument("--threads", default=None, help="thread counts (default 1,2)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--tiny", action="store_true", help="the smoke-test size only")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage timings")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite RESULTS.md from RESULTS.json"
    )
    args = parser.parse_args(argv)
    args.sizes = ["tiny"] if args.tiny else [s for s in args.sizes.split(",") if s]
    unknown = [s for s in args.sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown sizes {unknown}; known: {', '.join(SIZES)}")
    args.threads = [int(t) for t in (args.threads or ("1" if args.tiny else "1,2")).split(",")]
    args.repeats = args.repeats or 1
    args.stages = not (args.no_stages or args.tiny)
    return args


def _all_sizes(sizes: list[str]) -> list[str]:
    out = []
    for name in sizes:
        out += [name, *COMPANIONS.get(name, ())]
    return list(dict.fromkeys(out))


def _spec(size: Size, impl: str, steps: int, threads: int, rows: list[int] | None) -> dict:
    base = {"size": size.name, "steps": steps, "chunk": chunks_of(steps), "threads": threads}
    base["rows"] = rows
    if impl.startswith("normtheory"):
        return {
            **base,
            "impl": "normtheory",
            "budget": impl == "normtheory+budget",
            "bare": impl == "normtheory-bare",
        }
    return {**base, "impl": impl}


def _rows(size: Size) -> list[int] | None:
    return recorded_rows(size).tolist() if size.tracked else None


def _rounds(group: list[str], repeats: int) -> int:
    """Timed rounds for a group of sizes timed together: --repeats, or more if one asks."""
    return max(repeats, *(SIZES[n].rounds for n in group))


def _time_group(
    names: list[str], impls: list[str], threads: int, repeats: int, steps_of, quiet_s: float
) -> dict[str, dict[str, Any]]:
    """Time `impls` on every size in `names` together; -> {size: {impl: summary}}."""
    specs = {}
    for name in names:
        size = SIZES[name]
        for impl in impls:
            specs[f"{name}/{impl}"] = _spec(size, impl, steps_of(size), threads, _rows(size))
    records = measure.time_implementations(specs, threads, repeats, log=_log, quiet_s=quiet_s)
    out: dict[str, dict[str, Any]] = {}
    for key, record in records.items():
        name, impl = key.split("/", 1)
        out.setdefault(name, {})[impl] = measure.summarize(record, SIZES[name].seeds)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Everything the report needs, as one dict."""
    start = time.perf_counter()
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    with_torch = check.torch_available()
    sizes = _all_sizes(args.sizes)
    _log(f"sizes {sizes}, threads {args.threads}, repeats {args.repeats}, torch {with_torch}")
    res: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
        "started": started,
        "repeats": args.repeats,
        "sizes_run": sizes,
        "rtol": check.RTOL,
        "machine": machine.describe(0.3 if args.tiny else 1.0),
        "thread_env": {t: {"XLA_FLAGS": measure.thread_env(t)["XLA_FLAGS"]} for t in args.threads},
        "notes": list(NOTES),
    }
    if not with_torch:
        res["notes"].append(
            "PyTorch is not installed: its rows are missing (pip install '.[bench]')."
        )
    res["checks"] = {}
    for name in sizes:
        _log(f"check {name}")
        res["checks"][name] = check.check_size(SIZES[name], with_torch, args.stages)
    shapes = sorted({(SIZES[n].batch, SIZES[n].dim) for n in sizes})
    res["rates"], res["floors"], res["timings"] = {}, {}, {}
    for threads in args.threads:
        _log(f"roofline rates, {threads} thread(s)")
        rates = measure.roofline_rates(shapes, threads, tiny=args.tiny)
        res["rates"][threads] = rates
        res["floors"][threads] = {n: roofline.floor_seconds(SIZES[n], rates) for n in sizes}
    impls = ["normtheory", "normtheory+budget", "numpy"] + (["torch"] if with_torch else [])
    rounds = {n: _rounds([n, *COMPANIONS.get(n, ())], args.repeats) for n in args.sizes}
    res["rounds"] = rounds
    quiet = 0.0 if args.tiny else 90.0  # seconds a run may wait for a quiet machine
    for threads in args.threads:
        timings: dict[str, Any] = {}
        for name in args.sizes:
            group = [name, *COMPANIONS.get(name, ())]
            _log(f"time {group}, {threads} thread(s)")
            timed = _time_group(group, impls, threads, rounds[name], lambda s: s.timed, quiet)
            timings.update(timed)
        res["timings"][threads] = timings
    res["stages"], res["stage_threads"] = {}, min(args.threads)
    if args.stages:
        for name in args.sizes:
            group = [name, *COMPANIONS.get(name, ())]
            _log(f"stages {group}, {res['stage_threads']} thread(s)")
            staged = _time_group(
                group, STAGE_VARIANTS, res["stage_threads"], 1, _stage_steps, quiet
            )
            res["stages"].update(staged)
    res["targets"] = targets.evaluate(res["timings"], res["floors"])
    res["bounds"] = targets.explain(
        res["targets"], res["timings"], res["stages"], res["floors"], res["stage_threads"]
    )
    res["notes"].append(
        "Timed rounds: each round runs every implementation once, in an order that rotates "
        "from round to round, and each run is sampled in about 5 chunks; steps/s is the median "
        "over the steady chunks of all rounds, and a target's ratio the median over rounds of "
        "that round's ratio. Short sizes take several rounds (workload.Size.rounds), since "
        "the shared machine's speed drifts over the seconds between two runs; the long ones "
        "one (--repeats N asks for at least N everywhere)."
    )
    res["background_end"] = machine.background_load(0.3 if args.tiny else 1.0)
    res["wall_s"] = time.perf_counter() - start
    return res


def _stage_steps(size: Size) -> int:
    return size.stage_steps or size.timed


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.render_only:  # RESULTS.md again from RESULTS.json (e.g. new fresh-clone times)
        res = json.loads(args.out.with_suffix(".json").read_text())
        args.out.write_text(report.render(res))
        _log(f"wrote {args.out} from {args.out.with_suffix('.json')}")
        return 0
    res = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report.render(res))
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    _log(f"wrote {args.out} ({res['wall_s'] / 60:.1f} min)")
    return 0 if all(a["ok"] for c in res["checks"].values() for a in c["vs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
