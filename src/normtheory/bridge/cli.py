"""`normtheory bridge`: the toy against the real model on the command line.

Registered by normtheory.cli through `add_parser`; `main` runs it, refusing bad input
in one line as every subcommand does (normtheory.cli._common). Neither jax nor the
model libraries are imported until `main` runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from normtheory.bridge.settings import (
    BASE,
    MODELS,
    MODES,
    OPTIMIZERS,
    SIGN_OPTIMIZERS,
    SIGN_SEEDS,
    SIGN_WORDS,
)
from normtheory.cli._common import add_no_cache, add_seeds, add_set, command, user_errors

__all__ = ["add_parser", "main"]

DESCRIPTION = """\
Train the hierarchy toy on real structure (data family "wordnet": the probe's nouns at
their first noun senses, joined by first-listed-hypernym paths, drawn with their
wordfreq frequencies) for every model x optimizer x frequency mode, and compare each
toy's final norms word by word with all-MiniLM-L6-v2's norms before normalisation:
Spearman rho with a bootstrap interval, its difference to the baselines that need no
training dynamics (log frequency, word pieces, depth, and their cross-validated linear
combination), and the probe's statistics on the toy's norms (frequency, partial depth,
hyponym-longer sign test). Also the real model's norm as an OOD filter (--no-ood skips
it), and the frequency-sign sweep (--no-signs skips it): which toy regimes (each model
x optimizer with and without weight decay, on the most frequent nouns, budget traced)
give frequent words smaller norms as the real encoders do, and which budget term sets
each sign; --set changes its regimes too. Prints the Markdown table (or the JSON
record with --json) and writes OUT/bridge.json, OUT/bridge.md and OUT/fig13_bridge.png.
Needs the probe extra (pip install -e '.[probe]') and WordNet (apt-get install
wordnet-base, or $NORMTHEORY_WORDNET). Toy runs are float32 and cached in the results cache.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `bridge` subcommand to `subparsers` (argparse's add_subparsers result)."""
    parser = subparsers.add_parser(
        "bridge",
        help="the toy trained on WordNet structure against all-MiniLM-L6-v2, word by word",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--words",
        type=int,
        default=BASE.num_items,
        help=f"number of nouns (default {BASE.num_items})",
    )
    add_seeds(parser, 3, "seeds per regime (default 3)")
    parser.add_argument(
        "--models", nargs="+", default=list(MODELS), help="toy models (default: %(default)s)"
    )
    parser.add_argument(
        "--optimizers",
        nargs="+",
        default=list(OPTIMIZERS),
        help="optimizers, with the settings of normtheory.bridge.run.OPTIMIZERS "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        default=list(MODES),
        help="frequency modes of the word-less synsets (default: %(default)s)",
    )
    add_set(parser, "change a config field of every regime, e.g. --set steps=1000 (repeatable)")
    parser.add_argument(
        "--model",
        default="minilm-l6",
        metavar="NAME",
        help="the real encoder: a name of normtheory.probe.encoders (minilm-l6, minilm-l3; "
        "default %(default)s)",
    )
    parser.add_argument("--no-ood", action="store_true", help="skip the OOD-filter analysis")
    parser.add_argument("--no-signs", action="store_true", help="skip the frequency-sign sweep")
    parser.add_argument(
        "--sign-optimizers",
        nargs="+",
        default=list(SIGN_OPTIMIZERS),
        help="optimizers of the frequency-sign sweep (default: %(default)s)",
    )
    parser.add_argument(
        "--sign-seeds",
        type=int,
        default=SIGN_SEEDS,
        help=f"seeds per regime of the frequency-sign sweep (default {SIGN_SEEDS})",
    )
    parser.add_argument(
        "--n-boot", type=int, default=1000, help="bootstrap resamples per interval (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap and CV seed (default 0)")
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default: bridge/ in the results cache; --out figures to "
        "write beside the report)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON record, not a table")
    add_no_cache(parser, "retrain")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _finite(value: Any) -> Any:
    """Non-finite floats as None, so that the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@command("bridge")
def main(args: argparse.Namespace) -> int:
    """Run the bridge with parsed `args`; 0 on success, 2 for a missing dependency or
    bad input (one line on standard error)."""
    from normtheory._files import write_text
    from normtheory.bridge.run import regimes, run_bridge, sign_regimes
    from normtheory.cache import cache_dir, check_location
    from normtheory.config import ConfigError, parse_assignments
    from normtheory.data.wordnet import DataMissing
    from normtheory.probe.model import ProbeExtraMissing

    start = time.perf_counter()
    log = (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else print
    with user_errors(ValueError, DataMissing, ProbeExtraMissing):
        if args.n_boot < 2:
            raise ConfigError(f"--n-boot {args.n_boot}: the number of resamples must be >= 2")
        out = args.out if args.out is not None else cache_dir() / "bridge"
        check_location(out, what="output folder", hint="choose another --out")
        changes = parse_assignments(args.assignments)
        selected = regimes(args.words, args.models, args.optimizers, args.modes, changes)
        signs = None
        if not args.no_signs:
            words = min(args.words, SIGN_WORDS)
            signs = sign_regimes(words, args.models, args.sign_optimizers, changes)
        result = run_bridge(
            selected,
            args.seeds,
            n_boot=args.n_boot,
            seed=args.seed,
            ood=not args.no_ood,
            model_name=args.model,
            signs=signs,
            sign_seeds=args.sign_seeds,
            use_cache=not args.no_cache,
            progress=not args.quiet,
            log=log,
        )
    from normtheory.bridge.figure import draw
    from normtheory.bridge.table import format_table

    record = _finite(result.record)
    text = json.dumps(record, indent=2, allow_nan=False) + "\n"
    json_path = write_text(out / "bridge.json", text)
    table = format_table(record)
    md_path = write_text(out / "bridge.md", table + "\n")
    fig_path = draw(record, out)
    elapsed = time.perf_counter() - start
    if args.json:
        sys.stdout.write(text)
    else:
        print(table)
        print()
    done = f"wrote {json_path}, {md_path} and {fig_path} in {elapsed:.0f} s"
    print(done, file=sys.stderr if args.json else sys.stdout)
    return 0
