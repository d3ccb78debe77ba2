"""`normtheory verify`: each law of THEORY.md confronted with a simulation built to test it.

Every check is a function `check(config) -> list[Result]` with a base configuration (the
regime we chose); `--set key=value` moves the regime and the verdict is computed for
the regime actually run. Verification runs in float64.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable

from normtheory.config import SimConfig, override
from normtheory.verify import accumulation, drift_heat, equilibria, exact, structure
from normtheory.verify._record import Result

Check = Callable[[SimConfig], list[Result]]

CHECKS: dict[str, tuple[Check, SimConfig]] = {
    **exact.CHECKS,
    **accumulation.CHECKS,
    **equilibria.CHECKS,
    **drift_heat.CHECKS,
    **structure.CHECKS,
}

__all__ = ["CHECKS", "Result", "run_checks"]


def run_checks(
    names: Iterable[str] | None = None,
    overrides: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
    seconds: dict[str, float] | None = None,
) -> tuple[list[Result], dict[str, str]]:
    """(results, crashes by law name). Unknown names raise KeyError; bad --set, ConfigError.

    When `seconds` is given, the wall time of each check is stored in it by name.
    """
    names = list(names or CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise KeyError(f"unknown law(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    overrides = list(overrides)
    configs = {name: override(CHECKS[name][1], overrides) for name in names}
    results, crashes = [], {}
    for name in names:
        if progress is not None:
            progress(name)
        start = time.perf_counter()
        try:
            results += CHECKS[name][0](configs[name])
        except Exception:  # reported, and reflected in the exit status
            crashes[name] = traceback.format_exc()
        if seconds is not None:
            seconds[name] = time.perf_counter() - start
    return results, crashes
