"""Run named experiments through the results cache (all of them by default).

    python simulations/run_experiments.py [NAME ...] [--seeds N] [--set KEY=VALUE ...]

Each experiment runs once per configuration; a rerun loads the cached arrays. `--set`
applies to every experiment named (for example --set steps=200 for a quick look).
"""

from __future__ import annotations

import argparse
import sys

from normtheory.config import override
from normtheory.regimes import EXPERIMENTS, get_experiment
from normtheory.runs import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(EXPERIMENTS), metavar="NAME")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--set", dest="assignments", action="append", default=[])
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    for name in args.names:
        config = override(get_experiment(name), args.assignments)
        _, path, cached = run(config, args.seeds, progress=not args.quiet)
        print(f"{name}: {'cached' if cached else 'computed'} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
