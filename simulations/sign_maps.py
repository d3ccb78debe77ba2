"""Items 13-14's sign maps away from the default regime, judged against item 18.

    python simulations/sign_maps.py [--out figures]

Runs the specificity map at every tree shape of `normtheory.verify.structure.SHAPES`
and the uncertainty map at every class count of `CLASS_COUNTS` (`SEEDS` seeds each,
float64, through the results cache) and writes `<out>/signs.json`: every cell judged
against item 18's sign, with item 18's predicted size of rho beside the measured one;
the signs' agreement tallied per law and stage (`sign_tally`) and the sizes per law,
model and optimizer (`size_tally`). `normtheory verify
--report` renders it as a section. The record carries the code identity
(`normtheory.verify.code_identity()`) that computed it; the report says when the code
has changed since.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures"))
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        parser.error(f"--out {args.out}: not a directory")
    from normtheory.runtime import prepare

    prepare()
    from normtheory.verify import code_identity
    from normtheory.verify.structure import sign_maps, sign_tally, size_tally

    cells = sign_maps(progress=lambda label: print(f"map at {label} ...", file=sys.stderr))
    path = args.out / "signs.json"
    # The code that computed the cells, so the report can tell a stale record.
    record = {
        "code": code_identity(),
        "cells": cells,
        "tally": sign_tally(cells),
        "sizes": size_tally(cells),
    }
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
