"""`normtheory map`: a validity map, one verify check over two regime axes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from normtheory.cli._common import add_set, command, parse_grid, user_errors

__all__ = ["add_parser", "main"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `map` subcommand to `subparsers` (argparse's add_subparsers result)."""
    parser = subparsers.add_parser(
        "map",
        help="a validity map: one verification check over two regime axes",
        description="Run the verification check LAW at every cell of an x-by-y grid of "
        "regimes (float64, through the cache) and draw where the law holds: a heatmap of "
        "relative error / tolerance with the holding cells outlined, and a JSON record.",
    )
    parser.add_argument("law", metavar="LAW", help="a check name (normtheory verify --list)")
    parser.add_argument("--x", required=True, metavar="NAME=V1,V2,...", help="first axis")
    parser.add_argument("--y", required=True, metavar="NAME=V1,V2,...", help="second axis")
    add_set(parser, "change the regime of every cell (repeatable)")
    parser.add_argument("--row", type=int, default=0, help="which result row of the check")
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the PNG and JSON (default: maps/ in the results cache)",
    )
    return parser


@command("map")
def main(args: argparse.Namespace) -> int:
    """Draw the map of `args.law` over `args.x` by `args.y`; 0 done, 2 bad input (checked
    before any cell runs)."""
    from normtheory.runtime import prepare

    prepare()
    from normtheory._files import write_text
    from normtheory.cache import cache_dir, check_location
    from normtheory.config import parse_assignments
    from normtheory.verify import maps

    with user_errors(KeyError):
        axes = [
            next(iter(parse_grid([text], flag).items()))
            for flag, text in (("--x", args.x), ("--y", args.y))
        ]
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
    stem = f"map_{args.law}_{result.x}_{result.y}"
    path = write_text(out / f"{stem}.json", json.dumps(result.to_json(), indent=1) + "\n")
    figure = maps.draw(result, out / f"{stem}.png")
    print(result.holds_region())
    print(f"wrote {path} and {figure}")
    return 0
