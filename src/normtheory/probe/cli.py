"""`normtheory probe`: the real-model probe on the command line.

Registered by normtheory.cli through `add_parser`; `main` runs it, refusing bad input
in one line as every subcommand does (normtheory.cli._common). Nothing heavy is
imported until `main` runs, so `normtheory --help` works without the probe extra.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from normtheory.cli._common import Refused, command, user_errors
from normtheory.probe.frames import DEFAULT_FRAMES

__all__ = ["add_parser", "main"]

DESCRIPTION = """\
Embed the N most frequent English nouns (wordfreq order, WordNet noun senses) with a
real encoder (--model: minilm-l6 = all-MiniLM-L6-v2, minilm-l3 = paraphrase-MiniLM-L3-v2
as ONNX, or all) and test whether the norm of the mean-pooled vector before its final
normalisation carries (1) frequency and specificity (rank correlations with log
frequency, WordNet depth and hyponym count, partial given frequency and word pieces),
(2) hypernym -> hyponym order (sign test per sentence frame) and (3) confidence for
word -> definition retrieval (AUROC, AURC, selective accuracy), and (4) out of
distribution: held-out WordNet subtrees, rarer nouns and multi-word lemmas, each AUROC
beside word pieces, characters and log frequency, within piece-count strata, on a
length-matched sample and as what the norm adds to those baselines (--no-ood skips it).
Prints a table (or the JSON record with --json) and writes OUT/probe.json and
OUT/fig10_probe.png for minilm-l6, OUT/probe_NAME.json and OUT/fig10_probe_NAME.png for
another model NAME.
Needs the probe extra: pip install -e '.[probe]' (or make probe).
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `probe` subcommand to `subparsers` (argparse's add_subparsers result)."""
    parser = subparsers.add_parser(
        "probe",
        help="real-model probe: does all-MiniLM-L6-v2's norm carry frequency, specificity, "
        "confidence?",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        default="minilm-l6",
        metavar="NAME",
        help="encoder: a name of normtheory.probe.encoders (minilm-l6, minilm-l3) or all "
        "(default %(default)s)",
    )
    parser.add_argument("--no-ood", action="store_true", help="skip the OOD analysis (4)")
    parser.add_argument("--words", type=int, default=5000, help="vocabulary size (default 5000)")
    parser.add_argument(
        "--frames",
        nargs="+",
        default=list(DEFAULT_FRAMES),
        metavar="FRAME",
        help="sentence frames with {w} for the word; 'a {w}' becomes 'an {w}' before a "
        "vowel (default: %(default)s)",
    )
    parser.add_argument(
        "--wordnet",
        type=Path,
        default=None,
        metavar="DIR",
        help="WordNet 3.0 database folder (default $NORMTHEORY_WORDNET or /usr/share/wordnet)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default: probe/ in the results cache; make probe writes to figures/)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON record, not a table")
    parser.add_argument("--batch-size", type=int, default=256, help="texts per forward pass")
    parser.add_argument(
        "--n-boot", type=int, default=1000, help="bootstrap resamples per interval (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap and CV seed (default 0)")
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


def record_names(model: str) -> tuple[str, str]:
    """(record file, figure file) of `model` in the output folder: probe.json and
    fig10_probe.png for the default encoder, probe_NAME.json and fig10_probe_NAME.png
    for another."""
    from normtheory.probe.encoders import DEFAULT

    suffix = "" if model == DEFAULT else f"_{model}"
    return f"probe{suffix}.json", f"fig10_probe{suffix}.png"


@command("probe")
def main(args: argparse.Namespace) -> int:
    """Run the probe with parsed `args`; 0 on success, 2 for a missing extra or bad input."""
    from normtheory.cache import cache_dir, check_location
    from normtheory.probe import encoders
    from normtheory.probe.model import ProbeExtraMissing

    out = args.out if args.out is not None else cache_dir() / "probe"
    with user_errors():
        check_location(out, what="output folder", hint="choose another --out")
    models = list(encoders.names()) if args.model == "all" else [args.model]
    if encoders.DEFAULT in models:  # the default first, as the report lists it
        models.insert(0, models.pop(models.index(encoders.DEFAULT)))
    for name in models:
        try:
            encoders.require(name)
        except encoders.UnknownModel as error:
            raise Refused(f"{error} (or all)") from None
        except ProbeExtraMissing as error:
            raise Refused(str(error)) from None
    for name in models:
        _run_one(args, name, out)
    return 0


def _run_one(args: argparse.Namespace, name: str, out: Path) -> None:
    """Run the probe for encoder `name`; write its record and figure into `out`.

    Raises:
        Refused: the probe extra is missing or an argument is out of range.
    """
    from normtheory._files import write_text
    from normtheory.probe.model import ProbeExtraMissing
    from normtheory.probe.run import run_probe
    from normtheory.probe.table import format_table

    start = time.perf_counter()
    with user_errors(ProbeExtraMissing, ValueError):
        result = run_probe(
            args.words,
            args.frames,
            args.wordnet,
            batch_size=args.batch_size,
            n_boot=args.n_boot,
            seed=args.seed,
            model_name=name,
            ood_test=not args.no_ood,
            progress=not args.quiet,
        )
    from normtheory.probe.figure import draw

    record = _finite(result.record)
    json_name, fig_name = record_names(name)
    text = json.dumps(record, indent=2, allow_nan=False) + "\n"
    json_path = write_text(out / json_name, text)
    fig_path = draw(result, out, fig_name)
    elapsed = time.perf_counter() - start
    if args.json:
        sys.stdout.write(text)
    else:
        print(format_table(record))
        print()
    done = f"wrote {json_path} and {fig_path} in {elapsed:.0f} s"
    print(done, file=sys.stderr if args.json else sys.stdout)
