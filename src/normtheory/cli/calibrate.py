"""`normtheory calibrate`: the norm as a retrieval confidence score."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from normtheory.cli._common import add_no_cache, add_seeds, add_set, command, user_errors

__all__ = ["add_parser", "main"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `calibrate` subcommand to `subparsers` (argparse's add_subparsers result)."""
    parser = subparsers.add_parser(
        "calibrate",
        help="the norm as a retrieval confidence score, against top-1 cosine and margin",
        description="Train every regime (data family x model family x optimizer; float32), "
        "retrieve each query's top-1 by cosine, and measure how well the query norm, the "
        "top-1 cosine, the top-2 margin and their cross-validated logistic combination "
        "predict a correct top-1. Prints the table; writes calibration.json and "
        "fig9_calibration.png into --out.",
    )
    parser.add_argument(
        "--data", nargs="+", default=["ambiguity", "hierarchy"], help="data families"
    )
    parser.add_argument(
        "--optimizers",
        nargs="+",
        default=["sgd", "sgd+wd", "adamw"],
        help="optimizer regimes (sgd, sgd+wd, adamw)",
    )
    add_set(parser, "change a config field of every regime, e.g. --set steps=1000 (repeatable)")
    add_seeds(parser, 3, "seeds per regime (default 3)")
    parser.add_argument("--boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the JSON and the figure (default: calibrate/ in the results cache; "
        "make reproduce writes to figures/)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON records, not the table")
    add_no_cache(parser, "retrain")
    return parser


@command("calibrate")
def main(args: argparse.Namespace) -> int:
    """Train and score every selected regime; 0 done, 2 bad input (before training)."""
    from normtheory import calibrate
    from normtheory._files import write_text
    from normtheory.cache import cache_dir, check_location
    from normtheory.config import ConfigError, parse_assignments
    from normtheory.runtime import prepare

    prepare(float64=False)  # training is float32 (each regime's config); metrics NumPy
    start = time.perf_counter()
    with user_errors(ValueError):
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
