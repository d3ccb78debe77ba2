"""What the subcommands share: the `--set`, `--grid`, `--shard`, `--seeds` and cache
options, their parsing, and the one way a user error ends a command.

A user error (a bad value, an unknown name, an unusable folder) ends the command with
one line on standard error, `normtheory COMMAND: MESSAGE`, and exit status 2; a bug
still ends with a traceback. Handlers mark the part of their work whose expected
errors are the user's with `user_errors`, and `command` turns those into the line and
the status. Importing this module loads no numeric library (the error types are
imported when a handler runs), so `--help` and `simulate --list` stay fast.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import sys
from collections.abc import Callable, Iterator

__all__ = [
    "Handler",
    "Refused",
    "add_grid",
    "add_no_cache",
    "add_seeds",
    "add_set",
    "add_shard",
    "command",
    "parse_grid",
    "parse_shard",
    "user_errors",
]

Handler = Callable[[argparse.Namespace], int]
"""A subcommand's `main`: parsed arguments in, exit status out."""


class Refused(Exception):
    """A command refused its input; the message is the one line the user sees."""


def _message(error: BaseException) -> str:
    """The one-line text of an expected error (a KeyError's argument without its quotes)."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


@contextlib.contextmanager
def user_errors(*expected: type[BaseException]) -> Iterator[None]:
    """Turn the user's errors raised inside the block into `Refused`.

    Always the user's: `ConfigError` (a bad config, option or name) and
    `CacheLocationError` (a results or output folder that cannot be used).

    Args:
        *expected: further exception types that mean bad input for this command (for
            example KeyError for an unknown check name, FileNotFoundError for a missing
            shard).

    Raises:
        Refused: in place of any of those, with the error's message.
    """
    from normtheory.cache import CacheLocationError
    from normtheory.config import ConfigError

    try:
        yield
    except (ConfigError, CacheLocationError, *expected) as error:
        raise Refused(_message(error)) from None


def command(name: str) -> Callable[[Handler], Handler]:
    """Decorate the `main` of subcommand `name`: `Refused` becomes one line and status 2.

    Args:
        name: the subcommand, as the user types it ("simulate"); the line reads
            "normtheory simulate: MESSAGE".

    Returns:
        A decorator for a handler `main(args) -> int`.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def main(args: argparse.Namespace) -> int:
            try:
                return handler(args)
            except Refused as refused:
                print(f"normtheory {name}: {refused}", file=sys.stderr)
                return 2

        return main

    return decorate


def add_set(parser: argparse.ArgumentParser, help: str) -> None:
    """Add the repeatable `--set KEY=VALUE` (into `args.assignments`, a list of str)."""
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=help,
    )


def add_grid(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable `--grid NAME=V1,V2,...` (into `args.grid`; see `parse_grid`)."""
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="sweep a hyper-parameter (lr, weight_decay, tau, momentum, b1, b2, view_noise)",
    )


def add_shard(parser: argparse.ArgumentParser) -> None:
    """Add `--shard I/N` (into `args.shard`, text or None; see `parse_shard`)."""
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="run only grid points I, I+N, I+2N, ... (one of N independent processes)",
    )


def add_seeds(parser: argparse.ArgumentParser, default: int, help: str) -> None:
    """Add `--seeds N` (into `args.seeds`); the handler checks N >= 1 in one line."""
    parser.add_argument("--seeds", type=int, default=default, help=help)


def add_no_cache(parser: argparse.ArgumentParser, verb: str = "recompute") -> None:
    """Add `--no-cache` (into `args.no_cache`): compute afresh, read and write nothing."""
    parser.add_argument("--no-cache", action="store_true", help=f"always {verb}; save nothing")


def parse_grid(items: list[str], flag: str = "--grid") -> dict[str, list[float]]:
    """Parse NAME=V1,V2,... items.

    Args:
        items: the texts as given, one per flag.
        flag: the flag they came from, for the error message ("--grid", "--x").

    Returns:
        {name: [value, ...]} in the order given.

    Raises:
        ConfigError: naming `flag` when an item is malformed, has a non-finite or
            repeated value, or names an axis twice.
    """
    from normtheory.config import ConfigError

    grid: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if name in grid:
            raise ConfigError(f"{flag} {name}= is given twice; list all values once")
        try:
            parsed = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ConfigError(f"{flag} {item!r}: values must be numbers") from None
        if not sep or not name or not parsed:
            raise ConfigError(f"{flag} {item!r}: expected NAME=V1,V2,...")
        if not all(math.isfinite(v) for v in parsed):
            raise ConfigError(f"{flag} {item!r}: values must be finite")
        if len(set(parsed)) != len(parsed):
            raise ConfigError(f"{flag} {item!r} repeats a value; give each once")
        grid[name] = parsed
    return grid


def parse_shard(text: str) -> tuple[int, int]:
    """Parse `--shard I/N` into (I, N); ConfigError unless integers with 0 <= I < N."""
    from normtheory.config import ConfigError

    index, sep, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected I/N with integers") from None
    if not sep or not 0 <= shard[0] < shard[1]:
        raise ConfigError(f"--shard {text!r}: expected I/N with 0 <= I < N")
    return shard
