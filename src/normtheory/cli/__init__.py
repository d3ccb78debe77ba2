"""The `normtheory` command line: the top-level parser and the dispatch to subcommands.

Each subcommand is a module with `add_parser(subparsers)`, which declares its options,
and `main(args) -> int`, which runs it: derive, simulate, verify, map and calibrate
here, probe and bridge in their own packages. What they share (`--set`, `--grid`,
`--shard`, `--seeds`, `--no-cache`, and the one-line exit-2 refusal) is in `_common`.
Building the parser imports no numeric library, so `normtheory --help`, every
subcommand's `--help` and `normtheory simulate --list` answer without jax.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from normtheory._version import __version__

__all__ = ["main"]

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
    """The full parser; each subcommand's parser carries its handler as `args.handler`."""
    from normtheory.bridge import cli as bridge
    from normtheory.cli import calibrate, derive, simulate, verify
    from normtheory.cli import map as validity_map
    from normtheory.probe import cli as probe

    parser = argparse.ArgumentParser(
        prog="normtheory",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"normtheory {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (derive, simulate, verify, validity_map, probe, bridge, calibrate):
        module.add_parser(subparsers).set_defaults(handler=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments after the program name (default: `sys.argv[1:]`).

    Returns:
        The exit status: 0 done, 1 a failed check or crash the command reports, 2 bad
        input (one line on standard error), 130 interrupted. `--help`, `--version`
        and argparse's own usage errors exit through SystemExit as argparse does.
    """
    args = _parser().parse_args(argv)
    return args.handler(args)
