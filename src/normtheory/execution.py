"""How a run is executed, validated in one place for `simulate`, `run` and `trace`.

Execution settings never change a run's numbers and never enter a cache key: the
number of vmapped seeds and where they start, the steps per jitted call (`chunk`), and
whether a run that becomes non-finite is kept. Every entry point validates them with
the functions here, so `trace` accepts exactly what `simulate` accepts.

Before anything is allocated, `check_memory` compares an estimate of a run's memory
with what the machine has free and refuses a run that cannot fit, naming the estimate
(`estimate_bytes` counts the recorded arrays and the parameters with their optimizer
state; it is a lower bound, so a refused run could never have finished).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from normtheory.cache import format_bytes
from normtheory.config import SEED_LIMIT, ConfigError

__all__ = [
    "available_memory",
    "check_chunk",
    "check_flag",
    "check_memory",
    "check_seeds",
    "default_chunk",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_seeds(seeds: Any, first: Any = 0) -> int:
    """`seeds` runs with seeds first, first + 1, ...: an integer >= 1 whose last seed
    stays below 2**32 (keys are made from unsigned 32-bit seeds). Returns `seeds`."""
    if not _is_int(seeds) or seeds < 1:
        raise ConfigError(f"seeds={seeds!r} must be an integer >= 1")
    if not _is_int(first) or not 0 <= first < SEED_LIMIT:
        raise ConfigError(f"seed={first!r} must be an integer in [0, 2**32)")
    if first + seeds > SEED_LIMIT:
        raise ConfigError(
            f"seeds={seeds} from seed={first} would pass 2**32 - 1 (seeds would alias)"
        )
    return int(seeds)


def check_flag(name: str, value: Any) -> bool:
    """A True/False execution switch (never a truthy string such as "no")."""
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(f"{name}={value!r}: expected True or False")
    return bool(value)


def default_chunk(steps: int, stride: int, target: int = 500) -> int:
    """Steps per jitted call when none is given: about `target`, a multiple of `stride`.

    Prefers a length that divides the run into equal calls (each distinct length
    compiles once), when one is within a factor 4 of the target.
    """
    windows = steps // stride
    want = max(1, round(target / stride))
    if windows <= want:
        return steps
    divisors = [w for w in range(1, want + 1) if windows % w == 0]
    best = max(divisors)
    return stride * (best if 4 * best >= want else want)


def check_chunk(chunk: Any, steps: int, stride: int) -> int:
    """The chunk length to use: `default_chunk` for None, else a positive integer
    multiple of `stride` (0, negatives, floats and booleans are refused)."""
    if chunk is None:
        return default_chunk(steps, stride)
    if not _is_int(chunk) or chunk < 1:
        raise ConfigError(f"chunk={chunk!r} must be an integer >= 1")
    if chunk % stride:
        raise ConfigError(f"chunk={chunk} must be a multiple of stride={stride}")
    return int(chunk)


def available_memory() -> int | None:
    """Bytes of memory this process can still use (MemAvailable, or free pages); None
    when the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(parts: dict[str, float], hint: str) -> int:
    """Refuse a run whose estimated memory (`parts`: what -> bytes) exceeds what is free.

    Returns the total estimate in bytes. The error names the estimate, its largest part,
    the memory available and `hint` (what to reduce).
    """
    total = float(sum(parts.values()))
    free = available_memory()
    if free is not None and total > free:
        largest = max(parts, key=parts.__getitem__)
        raise ConfigError(
            f"this run needs at least {format_bytes(total)} of memory ({largest}: "
            f"{format_bytes(parts[largest])}) but {format_bytes(free)} is available; {hint}"
        )
    return int(min(total, 2**62))
