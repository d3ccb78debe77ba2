"""`normtheory verify`: confront each law with a simulation built to test it."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from normtheory.cli._common import add_set, command, user_errors

__all__ = ["add_parser", "main"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `verify` subcommand to `subparsers` (argparse's add_subparsers result)."""
    parser = subparsers.add_parser(
        "verify",
        help="test each law against a simulation; print predicted, measured, verdict",
        description="Run the verification of each law (default: all; see --list) in float64. "
        "Exit status 0 when every check ran, whatever the verdicts; 1 when a check crashed "
        "or an exact fact failed in the regime it assumes.",
    )
    parser.add_argument("laws", nargs="*", metavar="LAW", help="laws to verify (default: all)")
    add_set(parser, "change the regime of every check, e.g. --set lr=0.1 (repeatable)")
    parser.add_argument("--json", action="store_true", help="one JSON record per result")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="also write the Markdown report (make reproduce: figures/REPORT.md)",
    )
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.add_argument(
        "--seed-groups",
        type=int,
        default=None,
        metavar="N",
        help="judge every approximate verdict on N independent seed groups; a split makes "
        "it inconclusive (default: normtheory.verify.SEED_GROUPS; 1 judges one group)",
    )
    parser.add_argument(
        "--claims",
        type=Path,
        metavar="PATH",
        help="the validated claims (a maps.json; default: the repository's "
        "figures/maps.json): --json's `claimed` says what they state about each regime",
    )
    return parser


@command("verify")
def main(args: argparse.Namespace) -> int:
    """Run the checks `args.laws` (default all); 0 when every check ran, 1 when one
    crashed or an exact fact failed, 2 for an unknown check or a bad --set."""
    from normtheory.runtime import prepare

    prepare()
    from normtheory.verify import CHECKS, SEED_GROUPS, claims, run_checks

    if args.list:
        width = max(map(len, CHECKS))
        for name, (check, _) in CHECKS.items():
            summary = (check.__doc__ or "").strip().splitlines()
            print(f"{name:{width}s}  {summary[0] if summary else ''}")
        return 0
    seconds: dict[str, float] = {}
    with user_errors(KeyError):
        results, crashes = run_checks(
            args.laws or None,
            args.assignments,
            progress=None if args.json else lambda n: print(f"verifying {n} ...", flush=True),
            seconds=seconds,
            seed_groups=SEED_GROUPS if args.seed_groups is None else args.seed_groups,
        )
    stated = claims.load_claims(args.claims or claims.DEFAULT_CLAIMS)
    if args.json:
        for result in results:
            record = result.to_json()
            record["claimed"] = claims.claimed(result.config, result.law, result.row, stated)
            print(json.dumps(record, sort_keys=True))
    else:
        _print_table(results, stated)
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


def _print_table(results: list[Any], stated: Any) -> None:
    """Print one block per result: the numbers, the quantity, why, the regime, the claim."""
    from normtheory.verify import claims

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


def _why(r: Any) -> str:
    """One line saying why a verdict is not "holds" (the tolerance or the item rule)."""
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
