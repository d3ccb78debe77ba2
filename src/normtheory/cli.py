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
  derive   derive every law of THEORY.md in SymPy, check each derivation
           symbolically (exact residuals must reduce to 0), and write the
           equations as LaTeX (laws.tex) and Markdown (DERIVATIONS.md).
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
    return parser


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
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
