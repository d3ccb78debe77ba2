"""`normtheory verify`: each law of THEORY.md confronted with a simulation built to test it.

Every check is a function `check(config, overridden) -> list[Result]` with a base
configuration (the regime we chose) and a one-line docstring (`normtheory verify
--list`); `--set key=value` moves the regime, `overridden` names the fields it set (a
check's own per-row settings never replace them), and the verdict is computed for the
regime actually run. Verdicts: see normtheory.verify._record. Verification runs in
float64.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Iterable

from normtheory.config import SimConfig, parse_assignments
from normtheory.verify import accumulation, drift_heat, equilibria, exact, structure
from normtheory.verify._record import Result

CheckFunction = Callable[[SimConfig, frozenset[str]], list[Result]]

CHECKS: dict[str, tuple[CheckFunction, SimConfig]] = {
    **exact.CHECKS,
    **accumulation.CHECKS,
    **equilibria.CHECKS,
    **drift_heat.CHECKS,
    **structure.CHECKS,
}

__all__ = ["CHECKS", "Result", "run_checks"]

# Where the approximate checks that do not run a calibration take their inputs. The laws
# of items 5-8 and 12 are relations between quantities of one run (the norm and the
# gradient energy the same run received): they are conditional laws, judged on the run
# whose energies they take, and are not presented as predictions from the configuration.
# Item 18's signs are predicted from the configuration and the model at initialisation.
_CONDITIONAL = {
    "seeds": [],
    "regime": None,
    "measured": "conditional law: its inputs (gradient energies, budget terms) are "
    "measured on the judged run itself; it predicts nothing from another run",
}
_FROM_CONFIGURATION = {
    "seeds": [],
    "regime": None,
    "measured": "nothing: the prediction uses the configuration and the model at "
    "initialisation (item 18's mean field)",
}
_DECLARED = {"specificity": _FROM_CONFIGURATION, "uncertainty": _FROM_CONFIGURATION}


def _declared(result: Result) -> Result:
    """`result` with its calibration declared where its check did not record one."""
    if result.exact or result.calibration is not None or result.verdict == "not applicable":
        return result
    return dataclasses.replace(result, calibration=_DECLARED.get(result.law, _CONDITIONAL))


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
    changes = parse_assignments(overrides)
    overridden = frozenset(changes)
    configs = {name: CHECKS[name][1].replace(**changes) for name in names}
    results, crashes = [], {}
    for name in names:
        if progress is not None:
            progress(name)
        start = time.perf_counter()
        try:
            results += [_declared(r) for r in CHECKS[name][0](configs[name], overridden)]
        except Exception:  # reported, and reflected in the exit status
            crashes[name] = traceback.format_exc()
        if seconds is not None:
            seconds[name] = time.perf_counter() - start
    return results, crashes
