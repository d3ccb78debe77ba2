"""The workload on an accelerator: the engine against the PyTorch reference on one GPU.

    python -m benchmarks.gpu [--sizes small,medium,many,large10k,large] [--repeats 5]
                             [--seeds 32,256,1024,4096] [--out benchmarks/GPU.md]

Runs where JAX and PyTorch both see the same accelerator (JAX's default device and
torch's "cuda"); on a machine without one it runs on the CPU and says so. Both sides
compute in float32 at full precision: JAX's default matmul precision is set to
"highest" (on NVIDIA GPUs its default would use TF32 tensor cores) and PyTorch's TF32
is off, its default.

For each size:
- correctness: the engine runs the size's check prefix; the PyTorch reference replays the
  engine's own inputs (initial table, ids, view noise) on the GPU and must land on the
  engine's recorded norms within benchmarks/check.py's RTOL;
- speed: the engine with tracing off and with the full budget (simulate, the whole run
  in one jitted call) and the PyTorch eager loop (torch.optim.SGD, inputs drawn on the
  GPU by torch's generator), each warmed up once (JAX's compilation), then timed in
  `repeats` rounds that call each implementation once, in rotating order; the median
  per-step time is quoted. The engine's time includes
  copying the recorded norms to the host, PyTorch's the same (`.cpu()` at the end).

Writes GPU.md and GPU.json (next to --out), after every size, so an interrupted run keeps
the sizes it finished. The CPU runs of benchmarks/run.py are
unaffected; RESULTS.md links to GPU.md when it exists.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SIZES = ("small", "medium", "many", "large10k", "large")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _setup() -> dict[str, Any]:
    """Precision settings and what the run sees: devices and library versions."""
    import jax

    jax.config.update("jax_default_matmul_precision", "highest")
    import numpy as np
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = jax.devices()[0]
    cuda = torch.cuda.is_available()
    return {
        "jax_device": f"{device.platform}: {device.device_kind}",
        "torch_device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_on": "cuda" if cuda else "cpu",
        "accelerator": device.platform != "cpu" and cuda,
        "python": platform.python_version(),
        "versions": {
            "jax": jax.__version__,
            "numpy": np.__version__,
            "torch": torch.__version__,
        },
    }


def _alternating(runs: dict[str, Any], repeats: int) -> dict[str, dict[str, float]]:
    """Warm up each run(), then `repeats` rounds calling every run once, in rotating order.

    Returns per name the warm-up time and the median and minimum of its timed calls.
    """
    first, times = {}, {name: [] for name in runs}
    for name, run in runs.items():
        tic = time.perf_counter()
        run()
        first[name] = time.perf_counter() - tic
    names = list(runs)
    for k in range(repeats):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            tic = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - tic)
    return {
        name: {"first_s": first[name], "median_s": statistics.median(t), "min_s": min(t)}
        for name, t in times.items()
    }


def _check(size, device: str) -> dict[str, Any]:
    """The engine's norms after the check prefix against PyTorch replaying its inputs."""
    import normtheory

    from . import check, reference_torch
    from .workload import recorded_rows, sim_config

    config = sim_config(size, size.prefix)
    engine = normtheory.simulate(config, seeds=size.seeds, trace_budget=False, progress=False)
    seeds = min(size.seeds, check.CHECK_SEEDS)
    reference = engine.norm.reshape(size.seeds, *engine.norm.shape[-2:])[:seeds]
    rows = recorded_rows(size) if size.tracked else None
    tables, ids, noise = check.replayed_inputs(size, seeds)
    if size.seeds == 1:
        tables, ids, noise = tables[0], ids[:, 0], noise[:, 0]
    batches = reference_torch.replay(ids, noise, device=device)
    norms = reference_torch.train(tables, batches, rows=rows, device=device, **check.HYPER)
    result = check.agreement(reference, norms if size.seeds > 1 else norms[None])
    return {"steps": size.prefix, "seeds": seeds, **result}


def _engine_run(size, budget: bool):
    import normtheory

    from .workload import sim_config

    config = sim_config(size)

    def run():
        normtheory.simulate(config, seeds=size.seeds, trace_budget=budget, progress=False)

    return run


def _torch_run(size, device: str):
    from . import check, reference_torch
    from .workload import recorded_rows, zipf_cdf

    cdf = zipf_cdf(size.items)
    lead = size.seeds if size.seeds > 1 else 0
    table0 = reference_torch.initial_table(size.items, size.dim, seed=0, seeds=lead)
    rows = recorded_rows(size) if size.tracked else None

    def run():
        batches = reference_torch.sample(
            cdf, size.batch, size.dim, size.steps, seed=1, seeds=lead, device=device
        )
        reference_torch.train(table0, batches, rows=rows, device=device, **check.HYPER)

    return run


def _seed_sweep(count: int, repeats: int) -> dict[str, dict[str, float]]:
    """Tracing off and full budget with `count` vmapped seeds of "many" (small tables).

    500 steps, 100 recorded rows per seed (the recorded norms of all rows of thousands of
    seeds would dominate the host's memory, not the step).
    """
    from .workload import SIZES

    size = dataclasses.replace(
        SIZES["many"], name=f"many-{count}", seeds=count, steps=500, tracked=100
    )
    runs = {"normtheory": _engine_run(size, False), "normtheory+budget": _engine_run(size, True)}
    timings = _alternating(runs, repeats)
    for t in timings.values():
        t["ms_per_step"] = 1e3 * t["median_s"] / size.steps
        t["seed_steps_per_s"] = count * size.steps / t["median_s"]
    return timings


def _peak_device_mib() -> float | None:
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 2**20


def run(sizes: list[str], repeats: int, seed_counts: list[int] = (), save=None) -> dict[str, Any]:
    """Check and time every size, then the seed sweep; `save(results so far)` after each."""
    from .workload import SIZES

    start = time.perf_counter()
    info = _setup()
    device = info["torch_on"]
    _log(f"JAX on {info['jax_device']}, PyTorch on {info['torch_device']}")
    results: dict[str, Any] = {}
    sweep: dict[str, Any] = {}

    def record() -> dict[str, Any]:
        res = {
            **info,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(["python -m benchmarks.gpu", *sys.argv[1:]]),
            "repeats": repeats,
            "peak_device_mib": _peak_device_mib(),
            "sizes": results,
            "seed_sweep": sweep,
            "wall_s": time.perf_counter() - start,
        }
        if save is not None:
            save(res)
        return res

    for name in sizes:
        size = SIZES[name]
        entry: dict[str, Any] = {"check": _check(size, device)}
        _log(f"{name}: check {entry['check']}")
        runs = {
            "normtheory": _engine_run(size, False),
            "normtheory+budget": _engine_run(size, True),
            "torch": _torch_run(size, device),
        }
        timings = _alternating(runs, repeats)
        for impl, t in timings.items():
            t["ms_per_step"] = 1e3 * t["median_s"] / size.steps
            t["seed_steps_per_s"] = size.seeds * size.steps / t["median_s"]
            _log(f"{name}/{impl}: {t['ms_per_step']:.3f} ms/step (first call {t['first_s']:.1f} s)")
        entry["timings"] = timings
        results[name] = entry
        record()
    for count in seed_counts:
        sweep[str(count)] = _seed_sweep(count, repeats)
        off = sweep[str(count)]["normtheory"]
        _log(
            f"{count} seeds: {off['ms_per_step']:.3f} ms/step, "
            f"{off['seed_steps_per_s']:,.0f} seed-steps/s"
        )
        record()
    return record()


def render(res: dict[str, Any]) -> str:
    """GPU.md from the results of `run`."""
    from .workload import SIZES

    lines = [
        "# Benchmarks on an accelerator: the engine against PyTorch eager",
        "",
        f"Generated by `{res['command']}` on {res['date']}; do not edit by hand. "
        f"Wall time {res['wall_s'] / 60:.1f} min; {res['repeats']} alternating timed rounds "
        "after a warm-up run of each implementation, median quoted.",
        "",
        f"- JAX device: {res['jax_device']}; PyTorch device: {res['torch_device']}.",
        f"- Python {res['python']}; "
        + ", ".join(f"{k} {v}" for k, v in res["versions"].items())
        + ".",
        "- float32 at full precision on both sides (JAX matmul precision 'highest', "
        "PyTorch TF32 off). Workload and sizes as in RESULTS.md (benchmarks/workload.py).",
        "- Times are of whole calls: the engine's include drawing the initial table on the "
        "device and copying the recorded norms to the host (a visible share of 200 steps of "
        "the 1,000,000-row table), PyTorch's include copying its table from the host.",
    ]
    if res.get("peak_device_mib") is not None:
        lines.append(f"- Peak device memory of the JAX process: {res['peak_device_mib']:.0f} MiB.")
    if not res["accelerator"]:
        lines.append("- **No accelerator was found: these numbers are from the CPU.**")
    lines += [
        "",
        "| size | check (engine vs PyTorch, final rel. diff) | implementation | ms/step | "
        "seed-steps/s | first call s | vs PyTorch |",
        "|---|---|---|---|---|---|---|",
    ]
    labels = {
        "normtheory": "normtheory, tracing off",
        "normtheory+budget": "normtheory, full budget",
        "torch": "PyTorch eager",
    }
    for name, entry in res["sizes"].items():
        c = entry["check"]
        verdict = f"{c['final_rel']:.2e} ({'ok' if c['ok'] else '**failed**'})"
        torch_ms = entry["timings"]["torch"]["ms_per_step"]
        for impl, t in entry["timings"].items():
            lines.append(
                f"| {name} | {verdict} | {labels[impl]} | {t['ms_per_step']:.3g} | "
                f"{t['seed_steps_per_s']:,.0f} | {t['first_s']:.2f} | "
                f"{torch_ms / t['ms_per_step']:.2f}x |"
            )
    lines += ["", "Ratios:", ""]
    for name, entry in res["sizes"].items():
        t = entry["timings"]
        off, on = t["normtheory"]["ms_per_step"], t["normtheory+budget"]["ms_per_step"]
        lines.append(
            f"- {name} ({SIZES[name].items:,} x {SIZES[name].dim}, B = {SIZES[name].batch}, "
            f"{SIZES[name].seeds} seed(s)): tracing off {t['torch']['ms_per_step'] / off:.2f}x "
            f"PyTorch eager; the full budget costs {on / off:.2f}x tracing off."
        )
    sizes = res["sizes"]
    if "large" in sizes and "large10k" in sizes:
        big = sizes["large"]["timings"]["normtheory"]["ms_per_step"]
        small = sizes["large10k"]["timings"]["normtheory"]["ms_per_step"]
        lines.append(
            f"- large against large10k, per step (tracing off): {big / small:.2f}x "
            "(V = 1,000,000 against 10,000 at the same B and d)."
        )
    if res.get("seed_sweep"):
        lines += [
            "",
            "## Seeds in one vmapped run",
            "",
            "The small table (V = 1,000, d = 32, B = 256) with S seeds vmapped in one jitted "
            "run, 500 steps, 100 recorded rows per seed:",
            "",
            "| seeds | tracing off ms/step | seed-steps/s | full budget ms/step | budget / off |",
            "|---|---|---|---|---|",
        ]
        for count, t in res["seed_sweep"].items():
            off, on = t["normtheory"], t["normtheory+budget"]
            lines.append(
                f"| {count} | {off['ms_per_step']:.3g} | {off['seed_steps_per_s']:,.0f} | "
                f"{on['ms_per_step']:.3g} | {on['ms_per_step'] / off['ms_per_step']:.2f}x |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--seeds",
        default="32,256,1024,4096",
        help="seed counts of the vmapped sweep (comma-separated; empty: none)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "GPU.md")
    parser.add_argument("--render-only", action="store_true", help="GPU.md again from GPU.json")
    args = parser.parse_args(argv)
    json_path = args.out.with_suffix(".json")
    if args.render_only:
        args.out.write_text(render(json.loads(json_path.read_text())))
        return 0
    from .workload import SIZES

    sizes = args.sizes.split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown sizes {unknown}; known: {', '.join(SIZES)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save(res: dict[str, Any]) -> None:  # after every size: an interrupted run keeps them
        json_path.write_text(json.dumps(res, indent=1) + "\n")
        args.out.write_text(render(res))

    seed_counts = [int(c) for c in args.seeds.split(",") if c]
    res = run(sizes, args.repeats, seed_counts, save)
    _log(f"wrote {args.out} and {json_path}")
    return 0 if all(e["check"]["ok"] for e in res["sizes"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
