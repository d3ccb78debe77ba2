"""`normtheory derive`: derive the laws in SymPy, check them, write LaTeX and Markdown."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from normtheory.cli._common import Refused, command

__all__ = ["add_parser", "main"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `derive` subcommand to `subparsers` (argparse's add_subparsers result)."""
    parser = subparsers.add_parser(
        "derive",
        help="derive and symbolically check the laws; write LaTeX and Markdown",
        description="Derive the laws of THEORY.md with SymPy, reduce every symbolic check, "
        "and write DERIVATIONS.md and laws.tex. Exits with status 1 if any check fails.",
    )
    parser.add_argument(
        "laws", nargs="*", metavar="LAW", help="law names (default: all; see --list)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("derivations"),
        help="folder for DERIVATIONS.md and laws.tex (default: ./derivations)",
    )
    parser.add_argument("--list", action="store_true", help="list the law names and exit")
    parser.add_argument("--no-write", action="store_true", help="check only; write no files")
    return parser


@command("derive")
def main(args: argparse.Namespace) -> int:
    """Derive `args.laws` (default all); 0 when every check reduces to 0, 1 when one does
    not, 2 for an unknown law name."""
    from normtheory import derive, laws

    if args.list:
        for name in laws.names():
            print(name)
        return 0
    unknown = [name for name in args.laws if name not in laws.names()]
    if unknown:
        raise Refused(
            f"unknown law(s) {', '.join(unknown)}; `normtheory derive --list` shows the names"
        )
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
