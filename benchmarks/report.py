"""Render a benchmark run (the dict run.py builds) as RESULTS.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .roofline import counts
from .targets import largest_stages, stage_breakdown
from .workload import SIZES

LABELS = {
    "normtheory": "normtheory, tracing off",
    "normtheory+budget": "normtheory, full budget",
    "torch": "PyTorch eager",
    "numpy": "NumPy",
    "normtheory-bare": "normtheory, nothing traced (norms only)",
    "jax-lean-dense": "lean JAX step, dense update",
    "jax-lean-sparse": "lean JAX step, sparse update",
}


def _label(impl: str, seeds: int) -> str:
    if impl == "numpy" and seeds > 1:
        return "NumPy batched"
    if impl == "torch" and seeds > 1:
        return "PyTorch eager batched"
    return LABELS.get(impl, impl)


def _num(x: float, digits: int = 3) -> str:
    if x != x:  # nan
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _size_line(name: str) -> str:
    s = SIZES[name]
    parts = [f"V = {s.items:,}", f"d = {s.dim}", f"B = {s.batch}", f"T = {s.steps}"]
    if s.seeds > 1:
        parts.append(f"{s.seeds} seeds")
    parts.append(f"norms of {'all rows' if not s.tracked else f'{s.tracked} tracked rows'}")
    if s.timed != s.steps:
        parts.append(f"each timed run covers {s.timed} steps")
    return ", ".join(parts)


def _machine(res: dict[str, Any]) -> list[str]:
    m = res["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        "## Machine",
        "",
        f"- CPU: {m['cpu']} ({m['simd']}), {m['cores']} cores ({m['usable_cores']} usable), "
        f"{m['memory_gib']} GiB memory, Linux {m['kernel']}.",
        f"- Parallel capacity: two busy processes did {m['parallel_capacity']['ratio']:.2f}x "
        "the work of one (2.00 would be two free cores), while other processes kept "
        f"{m['parallel_capacity']['other_load']:.2f} cores busy.",
        f"- Load from other processes (the machine is shared): {m['background_load']:.2f} "
        f"cores busy at the start of the run, {res.get('background_end', float('nan')):.2f} "
        "at its end; the results tables give the median during each implementation's timed "
        "chunks (other load).",
        f"- Libraries: {versions}.",
        "- Thread settings, per measurement process: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and "
        "MKL_NUM_THREADS = n, torch.set_num_threads(n), CPU affinity to n cores (XLA sizes its "
        "thread pool by the affinity), and XLA_FLAGS as listed:",
    ]
    for threads, env in sorted(res["thread_env"].items()):
        lines.append(f"  - {threads} thread(s): XLA_FLAGS=`{env['XLA_FLAGS']}`")
    return [*lines, ""]


def _checks(res: dict[str, Any]) -> list[str]:
    rows = []
    for size, check in res["checks"].items():
        for impl, a in check["vs"].items():
            rows.append(
                [
                    size,
                    str(check["steps"]),
                    str(check["seeds"]),
                    str(check["rows"]),
                    impl,
                    f"{a['final_rel']:.2e}",
                    f"{a['max_rel']:.2e}",
                    "yes" if a["ok"] else "**NO**",
                ]
            )
    header = ["size", "steps", "seeds", "rows", "vs engine", "final rel. diff", "max rel. diff"]
    return [
        "## Correctness",
        "",
        "Each implementation is fed the engine's own inputs (normtheory.engine.replay_inputs: "
        "initial table, ids, view noise; the lean JAX kernels draw them from the same keys) "
        f"and must match the engine's recorded norms after the last window within rtol "
        f"{res['rtol']:g} (float32). Large sizes are compared on a prefix of their steps.",
        "",
        *_table([*header, "ok"], rows),
        "",
    ]


def _roofline(res: dict[str, Any]) -> list[str]:
    lines = [
        "## Roofline floor",
        "",
        "Counted per step (all seeds), see benchmarks/roofline.py: matmul FLOPs 4 B^2 d (cosine "
        "logits and the gradient G V), other FLOPs 8 B^2 + 30 B d charged at the matmul rate; "
        "sparse bytes = read + write of the B drawn rows + the recorded rows' norms every 10 "
        "steps; dense bytes = read + write of the whole V x d table (what a dense optimizer "
        "update moves) + norms. floor = max(FLOPs / matmul rate, sparse bytes / bandwidth); "
        "dense floor uses dense bytes.",
        "",
    ]
    rows = []
    for size in res["sizes_run"]:
        c = counts(SIZES[size])
        rows.append(
            [
                size,
                _num(c["matmul_flops"] / 1e6),
                _num(c["other_flops"] / 1e6),
                _num(c["bytes_sparse"] / 2**20),
                _num(c["bytes_dense"] / 2**20),
            ]
        )
    lines += [*_table(["size", "matmul MFLOP", "other MFLOP", "sparse MiB", "dense MiB"], rows), ""]
    rows = []
    for threads, rates in sorted(res["rates"].items()):
        for key, value in rates.items():
            if key.startswith("matmul_"):
                d = rates["detail"][key]
                detail = f"NumPy {_num(d['numpy'] / 1e9)}, JAX {_num(d['jax'] / 1e9)} GFLOP/s"
                rows.append([str(threads), key, _num(value / 1e9) + " GFLOP/s", detail])
        d = rates["detail"]["bandwidth"]
        detail = ", ".join(f"{k} {_num(v / 1e9)}" for k, v in d.items()) + " GB/s"
        rows.append([str(threads), "bandwidth", _num(rates["bandwidth"] / 1e9) + " GB/s", detail])
    lines += [*_table(["threads", "rate", "best", "measured"], rows), ""]
    rows = []
    for threads, floors in sorted(res["floors"].items()):
        for size, f in floors.items():
            rows.append(
                [
                    size,
                    str(threads),
                    _num(f["compute"] * 1e3),
                    _num(f["memory_sparse"] * 1e3),
                    _num(f["memory_dense"] * 1e3),
                    _num(f["floor"] * 1e3),
                    _num(f["floor_dense"] * 1e3),
                ]
            )
    header = ["size", "threads", "compute ms", "sparse mem ms", "dense mem ms", "floor ms"]
    return [*lines, *_table([*header, "dense floor ms"], rows), ""]


def _results(res: dict[str, Any]) -> list[str]:
    lines = [
        "## Results",
        "",
        "steps/s: median over steady-state chunks (one run is timed in about 5 chunks; the "
        "first chunk of each process's first run is its warm-up). first call: the warm-up "
        "chunk's extra time over a steady chunk (JAX tracing and compilation; for the "
        "references, their own warm-up). peak RSS: VmHWM of the implementation's own "
        "process (in brackets: after imports and setup, before the first run). CPU use: "
        "process CPU time / wall time over the steady chunks. other load: cores kept busy "
        "by other processes (and stolen by the hypervisor) during the chunks used, from "
        "/proc/stat busy time minus the process's own; only chunks under 0.3 cores are used "
        "when at least half are (else all, marked *); each run waits (up to 90 s) for the "
        "other load to drop below 0.3 cores before it starts, and a run with most chunks "
        "over it is made once more. x floor: time per step over the roofline floor (dense floor in "
        "brackets).",
        "",
    ]
    header = [
        "implementation",
        "threads",
        "steps/s",
        "seed-steps/s",
        "ms/step [range]",
        "first call s",
        "peak RSS MiB",
        "CPU use",
        "other load",
        "x floor",
    ]
    for size in res["sizes_run"]:
        seeds = SIZES[size].seeds
        rows = []
        for threads, sizes in sorted(res["timings"].items()):
            for impl, s in sizes.get(size, {}).items():
                f = res["floors"][threads][size]
                per = s["seconds_per_step"]
                rows.append(
                    [
                        _label(impl, seeds),
                        str(threads),
                        _num(s["steps_per_s"]),
                        _num(s["seed_steps_per_s"]),
                        f"{_num(per * 1e3)} [{_num(s['spread'][0] * 1e3)}-"
                        f"{_num(s['spread'][1] * 1e3)}]",
                        _num(s["first_call_s"]),
                        f"{_num(s['peak_rss_mib'])} ({_num(s['ready_rss_mib'])})",
                        f"{s['cpu_util']:.2f}",
                        f"{s['other_load']:.2f}" + ("" if s["clean"] else "*"),
                        f"{_num(per / f['floor'])} ({_num(per / f['floor_dense'])})",
                    ]
                )
        lines += [f"### {size}: {_size_line(size)}", "", *_table(header, rows), ""]
    return lines


def _targets(res: dict[str, Any]) -> list[str]:
    rows = []
    for t in res["targets"]:
        op = ">=" if t["at_least"] else "<="
        if "RSS" in t["target"]:
            measured, required = f"{_num(t['measured'])} MiB", f"< {_num(t['required'])} MiB"
        else:
            measured, required = f"{t['measured']:.2f}x", f"{op} {t['required']:g}x"
        verdict = "met" if t["met"] else "**missed**"
        load = f"{t['other_load']:.2f}" + ("" if t["clean"] else " (disturbed)")
        rows.append(
            [
                t["target"],
                t["size"],
                str(t["threads"]),
                measured,
                required,
                f"{verdict} by {t['margin']:.2f}x",
                load,
            ]
        )
    return [
        "## Targets",
        "",
        "Ratios from runs made side by side (median over rounds of per-round ratios). The "
        "budget row's measured value is time(full budget) / time(tracing off); the large "
        "row's is time per step at V = 1,000,000 / at V = 10,000. Margin: how many times "
        "better (met) or worse (missed) than required. other load: the most cores other "
        "processes kept busy during the compared runs' chunks; disturbed: fewer than half "
        "of a compared run's chunks stayed under 0.3 cores even after a second try, so "
        "that verdict is less reliable.",
        "",
        *_table(
            ["target", "size", "threads", "measured", "required", "verdict", "other load"], rows
        ),
        "",
    ]


def _stages(res: dict[str, Any]) -> list[str]:
    if not res.get("stages"):
        return []
    threads = res["stage_threads"]
    lines = [
        "## What bounds the engine: per-stage timings",
        "",
        f"Each size's step timed at {threads} thread(s) with parts removed, over "
        "`stage_steps` steps (benchmarks/workload.py): the engine with tracing off; the same "
        "with nothing traced (`trace_diagnostics=False`: norms only, no loss, alignment or "
        "uniformity); and lean JAX steps "
        "(benchmarks/lean_jax.py) drawing the same random inputs: with optax's dense update "
        "and with a sparse scatter update (both reproduce the engine's norms to float32 "
        "rounding). Differences of the engine, the engine with nothing traced and the sparse "
        "lean step time each stage (the second difference is what the engine's step does "
        "beyond the lean one: hyper-parameters traced per run, which keep true divisions "
        "where the lean step's constants let XLA multiply by a reciprocal, and the grouping "
        "of repeated rows that keeps its update bit-identical to optax's dense one); the "
        "dense lean step shows what a dense update would cost.",
        "",
    ]
    for size, stages in res["stages"].items():
        rows = [
            [
                LABELS.get(impl, impl),
                _num(s["seconds_per_step"] * 1e3),
                f"{s['cpu_util']:.2f}",
                f"{s['other_load']:.2f}" + ("" if s["clean"] else "*"),
            ]
            for impl, s in stages.items()
        ]
        header = ["variant", "ms/step", "CPU use", "other load"]
        lines += [f"### {size}", "", *_table(header, rows), ""]
        breakdown = stage_breakdown(stages)
        rows = [
            [b["stage"], _num(b["seconds"] * 1e3), f"{100 * b['share']:.0f}%"] for b in breakdown
        ]
        if rows:
            lines += [*_table(["stage", "ms/step", "share of the engine's step"], rows), ""]
            top = largest_stages(breakdown)
            text = "; ".join(f"{b['stage']} ({100 * b['share']:.0f}%)" for b in top)
            lines += [f"Largest stages: {text}.", ""]
            if any(b["seconds"] < 0 for b in breakdown):
                lines += [
                    "A negative stage: the variant without that part ran slower than the one "
                    "with it, so at this size these single-round timings do not resolve the "
                    "split (the machine's drift between runs, or, where the lean sparse step is "
                    "slower than the whole engine, a kernel that is not a lower bound here).",
                    "",
                ]
    return lines


def _bounds(res: dict[str, Any]) -> list[str]:
    lines = []
    for text in res.get("bounds", []):
        lines.append(f"- {text}")
    if not lines:
        return []
    return ["## What bounds each missed target", "", *lines, ""]


def _fresh_clone(path: Any = None) -> list[str]:
    """The README's two commands timed from a fresh clone (benchmarks/fresh_clone.py)."""
    import json

    path = Path(path or Path(__file__).resolve().parent / "fresh_clone.json")
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    names = {
        "test": "make test",
        "end_to_end": "make test-end-to-end (after make test)",
        "ci": ".ci/run (after make test)",
        "reproduce": "make reproduce",
        "rerun": "make reproduce again",
        "bench": "make bench (after the above)",
    }
    rows = []
    for name, r in data["results"].items():
        limit = r["limit_s"]
        if limit is None:  # no time target: it must only succeed
            verdict = "ran" if r["returncode"] == 0 else "**failed**"
        else:
            verdict = "met" if r["returncode"] == 0 and r["wall_s"] <= limit else "**missed**"
        rows.append(
            [
                names.get(name, name),
                f"{r['wall_s'] / 60:.1f} min ({r['wall_s']:.0f} s)",
                f"{r['cpu_s'] / 60:.1f} min",
                f"{r['other_load_cores']:.2f}",
                "none" if limit is None else f"< {limit / 60:g} min",
                ("exit 0" if r["returncode"] == 0 else f"exit {r['returncode']}")
                + f", {r.get('revision', data['revision'])[:12]}",
                verdict,
            ]
        )
    return [
        "## The two commands from a fresh clone",
        "",
        f"`python -m benchmarks.fresh_clone` (last on {data['date']}), "
        f"{data['cores']} cores, Python {data['python']}: a clone "
        "with no .venv, no results cache and an empty compilation cache runs `make test` "
        "(builds .venv, installs the "
        "pinned packages, runs the suite without its end-to-end runs), then "
        "`make test-end-to-end` (those runs), then CI's `.ci/run` (adds the probe's extra, "
        "runs the whole suite with the real-model tests), then `make reproduce` (derive, "
        "figures, calibrate, verify), then `make reproduce` again on the warm cache, and, "
        "when listed, `make bench`, whose results are the ones on this page. CPU: the "
        "command's processes; other load: cores other processes kept busy meanwhile.",
        "",
        *_table(
            ["command", "wall", "CPU", "other load", "target", "status, revision", "verdict"],
            rows,
        ),
        "",
    ]


def _rounds_text(res: dict[str, Any]) -> str:
    rounds = res.get("rounds")  # absent in results from before per-size rounds
    if not rounds:
        return str(res["repeats"])
    return ", ".join(f"{name} {count}" for name, count in rounds.items())


def render(res: dict[str, Any]) -> str:
    """The whole RESULTS.md."""
    head = [
        "# Benchmarks: the normtheory engine against PyTorch and NumPy references",
        "",
        f"Generated by `{res['command']}` (benchmarks/run.py) on {res['started']}; do not edit "
        f"by hand. Total wall time of the run: {res['wall_s'] / 60:.1f} min. Timed rounds per "
        f"implementation and thread count: {_rounds_text(res)}.",
        "",
        "Workload (benchmarks/workload.py): free per-item table V x d, float32, N(0, 1/d); "
        "each step B ids from Zipf(1.1); anchors are the rows, positives direction-space views "
        "normalize(u + 0.1 noise) of the anchors' directions (constant); symmetric InfoNCE on "
        "cosines at temperature 0.1, mean over the batch; plain SGD, lr 0.5; norms recorded "
        "every 10 steps. Each implementation draws its own inputs when timed (the engine with "
        "JAX's keys, the references with their own generators, same inverse-CDF sampler).",
        "",
    ]
    if (Path(__file__).resolve().parent / "GPU.md").exists():
        head += [
            "The same workload on a GPU, against PyTorch eager on the same card: GPU.md "
            "(benchmarks/gpu.py).",
            "",
        ]
    notes = ["## Notes", "", *(f"- {n}" for n in res["notes"]), ""]
    body = (
        head
        + _machine(res)
        + _checks(res)
        + _roofline(res)
        + _results(res)
        + _targets(res)
        + _fresh_clone()
        + _bounds(res)
        + _stages(res)
        + notes
    )
    return "\n".join(body).rstrip() + "\n"
