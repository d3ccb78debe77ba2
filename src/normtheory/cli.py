"""The `normtheory` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from normtheory._version import __version__

DESCRIPTION = """\
normtheory: why the norms of scale-invariant contrastive embeddings carry meaning.

Subcommands:
  derive    derive every law of THEORY.md in SymPy, check each derivation
            symbolically (exact residuals must reduce to 0), and write the
            equations as LaTeX (laws.tex) and Markdown (DERIVATIONS.md).
  simulate  train a toy InfoNCE model (a named experiment, fields changed with
            --set key=value) for several seeds and hyper-parameter grid points
            in one vmapped jit, tracing norms and the exact norm budget; results
            are cached in results/ (or $NORMTHEORY_CACHE).
  verify    confront each law with a simulation designed to test it (float64):
            predicted and measured values, relative error, tolerance from the
            neglected order, and a verdict (holds, partial, fails, not relaxed,
            not applicable); --set moves
            the regime, --json prints one record per result.
  probe     a real contrastive text encoder (all-MiniLM-L6-v2, needs the probe
            extra): does its norm before normalisation carry word frequency,
            WordNet specificity and word -> definition retrieval confidence?
  bridge    the toy trained on WordNet structure (data=wordnet) against the
            real model, word by word, next to no-dynamics baselines.
  map       a validity map: one verify check swept over two regime axes (for
            example --x eta_lam=... --y zipf=...), drawn with the cells where the
            law holds outlined.
  calibrate the norm as a confidence score for retrieval: train each regime
            (data x model family x optimizer), retrieve top-1 by cosine, and
            score norm, top-1 cosine, margin and their combination (AUROC with
            bootstrap CI, accuracy per norm bin, selective accuracy, AURC).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="normtheory",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"normtheory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    derive = sub.add_parser(
        "derive",
        help="derive and symbolically check the laws; write LaTeX and Markdown",
        description="Derive the laws of THEORY.md with SymPy, reduce every symbolic check, "
        "and write DERIVATIONS.md and laws.tex. Exits with status 1 if any check fails.",
    )
    derive.add_argument(
        "laws", nargs="*", metavar="LAW", help="law names (default: all; see --list)"
    )
    derive.add_argument(
        "--out",
        type=Path,
        default=Path("derivations"),
        help="folder for DERIVATIONS.md and laws.tex (default: ./derivations)",
    )
    derive.add_argument("--list", action="store_true", help="list the law names and exit")
    derive.add_argument("--no-write", action="store_true", help="check only; write no files")

    sim = sub.add_parser(
        "simulate",
        help="run a named experiment; trace norms and the norm budget; cache the result",
        description="Run a named experiment (see --list) for --seeds seeds and every point "
        "of --grid, vmapped in one jit; print a summary and where the arrays went.",
    )
    sim.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    sim.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a config field, e.g. --set lr=0.1 (repeatable)",
    )
    sim.add_argument("--seeds", type=int, default=1, help="number of seeds (default 1)")
    sim.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="sweep a hyper-parameter (lr, weight_decay, tau, momentum, b1, b2, view_noise)",
    )
    sim.add_argument(
        "--shard",
        metavar="I/N",
        help="run only grid points I, I+N, I+2N, ... (one of N independent processes)",
    )
    sim.add_argument(
        "--merge",
        type=int,
        metavar="N",
        help="join the cached results of the N shards into the full-grid result",
    )
    sim.add_argument(
        "--chunk",
        type=int,
        metavar="STEPS",
        help="steps per jitted call, a multiple of stride (progress granularity; default "
        "about 500; never changes the numbers or the cache key)",
    )
    sim.add_argument(
        "--keep-divergent",
        action="store_true",
        help="keep (and cache) a run that becomes non-finite instead of stopping",
    )
    sim.add_argument("--no-budget", action="store_true", help="trace norms only (faster)")
    sim.add_argument("--no-cache", action="store_true", help="always recompute; save nothing")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.add_argument("--list", action="store_true", help="list the experiments and exit")

    ver = sub.add_parser(
        "verify",
        help="test each law against a simulation; print predicted, measured, verdict",
        description="Run the verification of each law (default: all; see --list) in float64. "
        "Exit status 0 when every check ran, whatever the verdicts; 1 when a check crashed "
        "or an exact fact failed in the regime it assumes.",
    )
    ver.add_argument("laws", nargs="*", metavar="LAW", help="laws to verify (default: all)")
    ver.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change the regime of every check, e.g. --set lr=0.1 (repeatable)",
    )
    ver.add_argument("--json", action="store_true", help="one JSON record per result")
    ver.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="also write the Markdown report (make reproduce: figures/REPORT.md)",
    )
    ver.add_argument("--list", action="store_true", help="list the checks and exit")
    ver.add_argument(
        "--claims",
        type=Path,
        metavar="PATH",
        help="the validated claims (a maps.json; default: the repository's "
        "figures/maps.json): --json's `claimed` says what they state about each regime",
    )

    vmap = sub.add_parser(
        "map",
        help="a validity map: one verification check over two regime axes",
        description="Run the verification check LAW at every cell of an x-by-y grid of "
        "regimes (float64, through the cache) and draw where the law holds: a heatmap of "
        "relative error / tolerance with the holding cells outlined, and a JSON record.",
    )
    vmap.add_argument("law", metavar="LAW", help="a check name (normtheory verify --list)")
    vmap.add_argument("--x", required=True, metavar="NAME=V1,V2,...", help="first axis")
    vmap.add_argument("--y", required=True, metavar="NAME=V1,V2,...", help="second axis")
    vmap.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change the regime of every cell (repeatable)",
    )
    vmap.add_argument("--row", type=int, default=0, help="which result row of the check")
    vmap.add_argument("--out", type=Path, help="folder for the PNG and JSON (default: maps/ "
                      "in the results cache)")  # fmt: skip

    from normtheory.probe.cli import add_parser as add_probe_parser

    add_probe_parser(sub)

    from normtheory.bridge.cli import add_parser as add_bridge_parser

    add_bridge_parser(sub)

    cal = sub.add_parser(
        "calibrate",
        help="the norm as a retrieval confidence score, against top-1 cosine and margin",
        description="Train every regime (data family x model family x optimizer; float32), "
        "retrieve each query's top-1 by cosine, and measure how well the query norm, the "
        "top-1 cosine, the top-2 margin and their cross-validated logistic combination "
        "predict a correct top-1. Prints the table; writes calibration.json and "
        "fig9_calibration.png into --out.",
    )
    cal.add_argument("--data", nargs="+", default=["ambiguity", "hierarchy"], help="data families")
    cal.add_argument(
        "--optimizers",
        nargs="+",
        default=["sgd", "sgd+wd", "adamw"],
        help="optimizer regimes (sgd, sgd+wd, adamw)",
    )
    cal.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a config field of every regime, e.g. --set steps=1000 (repeatable)",
    )
    cal.add_argument("--seeds", type=int, default=3, help="seeds per regime (default 3)")
    cal.add_argument("--boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    cal.add_argument(
        "--out",
        type=Path,
        help="folder for the JSON and the figure (default: calibrate/ in the results cache; "
        "make reproduce writes to figures/)",
    )
    cal.add_argument("--json", action="store_true", help="print the JSON records, not the table")
    cal.add_argument("--no-cache", action="store_true", help="always retrain; save nothing")
    return parser


def _verify(args: argparse.Namespace) -> int:
    import json

    import jax

    jax.config.update("jax_enable_x64", True)
    from normtheory.config import ConfigError
    from normtheory.verify import CHECKS, run_checks

    if args.list:
        width = max(map(len, CHECKS))
        for name, (check, _) in CHECKS.items():
            summary = (check.__doc__ or "").strip().splitlines()
            print(f"{name:{width}s}  {summary[0] if summary else ''}")
        return 0
    seconds: dict[str, float] = {}
    try:
        results, crashes = run_checks(
            args.laws or None,
            args.assignments,
            progress=None if args.json else lambda n: print(f"verifying {n} ...", flush=True),
            seconds=seconds,
        )
    except (KeyError, ConfigError) as error:
        print(f"normtheory verify: {error.args[0]}", file=sys.stderr)
        return 2
    from normtheory.verify import claims

    stated = claims.load_claims(args.claims or claims.DEFAULT_CLAIMS)
    if args.json:
        for result in results:
            record = result.to_json()
            record["claimed"] = claims.claimed(result.config, result.law, result.row, stated)
            print(json.dumps(record, sort_keys=True))
    else:
        header = f"{'law':34s} {'item':>4s} {'verdict':14s} {'predicted':>11s} {'measured':>11s}"
        print(header + f" {'rel.err':>9s} {'tol':>9s}")
        for r in results:
            print(
                f"{r.law:34s} {r.item:4d} {r.verdict:14s} {r.predicted:11.4g} {r.measured:11.4g}"
                f" {r.rel_error:9.2g} {r.tolerance:9.2g}"
            )
            print(f"    quantity: {r.quantity}")
            why = _why(r)
            if why:
                print(f"    why: {why}")
            print(f"    regime: {r.regime}" + (f"\n    note: {r.note}" if r.note else ""))
            claim = claims.claimed(r.config, r.law, r.row, stated)
            if not r.exact and r.verdict != "not applicable":
                print(f"    claimed by the validated maps: {claim}")
    for name, trace in crashes.items():
        print(f"normtheory verify: {name} crashed:\n{trace}", file=sys.stderr)
    if args.report:
        from normtheory.report import write_report

        path = write_report(results, crashes, seconds, args.report)
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    broken = [r.law for r in results if r.exact and r.verdict != "holds"]
    if broken:
        print(f"exact facts failed (a bug): {', '.join(broken)}", file=sys.stderr)
    return 1 if crashes or broken else 0


def _why(r) -> str:
    """One line saying why a verdict is not "holds" (the tolerance or the item rule)."""
    import math

    from normtheory.verify._record import HOLD_FRACTION

    if r.verdict in ("holds", "not applicable"):
        return ""
    if r.verdict == "not relaxed":
        return "too few items reached their equilibrium in the first half (see note)"
    if r.verdict == "inconclusive":
        return "a predicted 0 whose interval neither excludes 0 nor lies inside the margin"
    if math.isfinite(r.fraction_holding):
        return (
            f"{r.fraction_holding:.0%} of the items are within tolerance "
            f"(95% interval {r.fraction_low:.0%}-{r.fraction_high:.0%}); "
            f"'holds' needs {HOLD_FRACTION:.0%}"
        )
    if math.isfinite(r.rel_error) and math.isfinite(r.tolerance):
        return f"rel. error {r.rel_error:.3g} exceeds the tolerance {r.tolerance:.3g} ({r.basis})"
    return ""


def _calibrate(args: argparse.Namespace) -> int:
    import json
    import time

    from normtheory import calibrate
    from normtheory.cache import CacheLocationError, cache_dir, check_location, write_text
    from normtheory.config import ConfigError, parse_assignments

    start = time.perf_counter()
    try:
        if args.boot < 1:
            raise ConfigError(f"--boot {args.boot}: the number of resamples must be >= 1")
        if args.seeds < 1:
            raise ConfigError(f"--seeds {args.seeds}: the number of seeds must be >= 1")
        out = args.out if args.out is not None else cache_dir() / "calibrate"
        check_location(out, what="output folder", hint="choose another --out")
        changes = parse_assignments(args.assignments)
        selected = calibrate.regimes(args.data, args.optimizers, changes)
        log = (lambda message: print(message, file=sys.stderr)) if args.json else print
        results = calibrate.calibrate(
            selected, args.seeds, n_boot=args.boot, use_cache=not args.no_cache, log=log
        )
    except (ConfigError, ValueError, CacheLocationError) as error:
        print(f"normtheory calibrate: {error}", file=sys.stderr)
        return 2
    records = calibrate.records(results)
    summary = {
        "seeds": args.seeds,
        "bootstrap": args.boot,
        "set": args.assignments,
        "seconds": round(time.perf_counter() - start, 1),
        "regimes": records,
    }
    path = write_text(out / "calibration.json", json.dumps(summary, indent=1) + "\n")
    figure = calibrate.draw(results, out / "fig9_calibration.png")
    if args.json:
        print(json.dumps(records, indent=1))
    else:
        print("\n".join(calibrate.format_table(records)))
        print(f"wrote {path} and {figure}")
    return 0


def _map(args: argparse.Namespace) -> int:
    import json

    import jax

    jax.config.update("jax_enable_x64", True)
    from normtheory.cache import CacheLocationError, cache_dir, check_location, write_text
    from normtheory.config import ConfigError, parse_assignments
    from normtheory.verify import maps

    try:
        axes = []
        for flag, text in (("--x", args.x), ("--y", args.y)):
            parsed = _parse_grid([text], flag)
            axes.append(next(iter(parsed.items())))
        changes = parse_assignments(args.assignments)
        maps.check_axes(args.law, axes[0], axes[1], changes=changes, row=args.row)
        out = args.out if args.out is not None else cache_dir() / "maps"
        check_location(out, what="output folder", hint="choose another --out")
        result = maps.validity_map(
            args.law,
            axes[0],
            axes[1],
            changes=changes,
            row=args.row,
            progress=lambda line: print(line, flush=True),
        )
    except (ConfigError, CacheLocationError) as error:
        print(f"normtheory map: {error}", file=sys.stderr)
        return 2
    except KeyError as error:
        print(f"normtheory map: {error.args[0]}", file=sys.stderr)
        return 2
    stem = f"map_{args.law}_{result.x}_{result.y}"
    path = write_text(out / f"{stem}.json", json.dumps(result.to_json(), indent=1) + "\n")
    figure = maps.draw(result, out / f"{stem}.png")
    print(result.holds_region())
    print(f"wrote {path} and {figure}")
    return 0


def _parse_grid(items: list[str], flag: str = "--grid") -> dict[str, list[float]]:
    """NAME=V1,V2,... items as {name: values}; ConfigError naming `flag` when malformed,
    non-finite or repeated."""
    import math

    from normtheory.config import ConfigError

    grid: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if name in grid:
            raise ConfigError(f"{flag} {name}= is given twice; list all values once")
        try:
            parsed = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ConfigError(f"{flag} {item!r}: values must be numbers") from None
        if not sep or not name or not parsed:
            raise ConfigError(f"{flag} {item!r}: expected NAME=V1,V2,...")
        if not all(math.isfinite(v) for v in parsed):
            raise ConfigError(f"{flag} {item!r}: values must be finite")
        if len(set(parsed)) != len(parsed):
            raise ConfigError(f"{flag} {item!r} repeats a value; give each once")
        grid[name] = parsed
    return grid


def _parse_shard(text: str) -> tuple[int, int]:
    from normtheory.config import ConfigError

    index, sep, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected I/N with integers") from None
    if not sep or not 0 <= shard[0] < shard[1]:
        raise ConfigError(f"--shard {text!r}: expected I/N with 0 <= I < N")
    return shard


def _simulate(args: argparse.Namespace) -> int:
    from normtheory.experiments import EXPERIMENTS

    if args.list:
        for name, (_, text) in EXPERIMENTS.items():
            print(f"{name:22s} {text}")
        return 0
    if not args.experiment:
        print(
            "normtheory simulate: name an experiment (`normtheory simulate --list` shows them)",
            file=sys.stderr,
        )
        return 2
    import jax
    import numpy as np

    from normtheory.cache import CacheLocationError, CorruptCacheError
    from normtheory.checkpoint import RunInterrupted
    from normtheory.config import ConfigError, override
    from normtheory.engine import check_execution
    from normtheory.experiments import get_experiment
    from normtheory.runs import merge, run

    try:
        config = override(get_experiment(args.experiment), args.assignments)
        grid = _parse_grid(args.grid)
        if args.merge is not None and args.shard:
            raise ConfigError("--shard and --merge exclude each other: run the shards, then merge")
        if config.dtype == "float64":
            jax.config.update("jax_enable_x64", True)
        if args.merge is not None:
            traj, path = merge(
                config, args.seeds, grid, args.merge, trace_budget=not args.no_budget
            )
            cached = False
        else:
            shard = _parse_shard(args.shard) if args.shard else None
            check_execution(config, args.seeds, args.chunk, args.keep_divergent)
            print(f"simulating {args.experiment} ({config.dtype}) with {args.seeds} seed(s)")
            traj, path, cached = run(
                config,
                args.seeds,
                grid or None,
                trace_budget=not args.no_budget,
                use_cache=not args.no_cache,
                progress=not args.quiet,
                shard=shard,
                chunk=args.chunk,
                record_divergence=args.keep_divergent,
            )
    except (
        ConfigError,
        FloatingPointError,
        FileNotFoundError,
        CacheLocationError,
        CorruptCacheError,
    ) as error:
        print(f"normtheory simulate: {error}", file=sys.stderr)
        return 2
    except RunInterrupted as stopped:
        print(f"normtheory simulate: {stopped}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("normtheory simulate: stopped; nothing was saved (--no-cache)", file=sys.stderr)
        return 130
    norms = traj.norm[..., -1, :]
    print(
        f"final norm: mean {np.mean(norms):.4g}, min {np.min(norms):.4g}, max {np.max(norms):.4g}"
        f"; final loss {np.mean(traj.loss[..., -1]):.4g}"
    )
    if path is not None:
        print(f"{'loaded from cache' if cached else 'wrote'} {path} (+ .json sidecar)")
    elif not args.no_cache:
        print("the result could not be saved (see the warning above)")
    return 0


def _derive(args: argparse.Namespace) -> int:
    from normtheory import derive, laws

    if args.list:
        for name in laws.names():
            print(name)
        return 0
    unknown = [name for name in args.laws if name not in laws.names()]
    if unknown:
        print(
            f"normtheory derive: unknown law(s) {', '.join(unknown)}; "
            "`normtheory derive --list` shows the names",
            file=sys.stderr,
        )
        return 2
    results = derive.derive(
        args.laws or None, progress=lambda name: print(f"deriving {name} ...", flush=True)
    )
    for result in results:
        status = "ok" if result.ok else "FAILED"
        print(f"{result.law.name:32s} {status:6s} {result.seconds:6.2f} s")
        for check, residual in result.results:
            if residual != 0:
                print(f"    check {check.name!r} leaves residual {residual}")
    if not args.no_write:
        for path in derive.write_outputs(results, args.out):
            print(f"wrote {path}")
    failed = [r.law.name for r in results if not r.ok]
    if failed:
        print(f"symbolic checks failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(results)} derivations check out")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "derive":
        return _derive(args)
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "verify":
        return _verify(args)
    if args.command == "probe":
        from normtheory.probe.cli import main as probe_main

        return probe_main(args)
    if args.command == "bridge":
        from normtheory.bridge.cli import main as bridge_main

        return bridge_main(args)
    if args.command == "calibrate":
        return _calibrate(args)
    if args.command == "map":
        return _map(args)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
