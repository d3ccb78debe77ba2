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

from normtheory.config import ConfigError, SimConfig, parse_assignments
from normtheory.verify import accumulation, drift_heat, equilibria, exact, structure
from normtheory.verify._common import code_identity
from normtheory.verify._record import Result

CheckFunction = Callable[[SimConfig, frozenset[str]], list[Result]]

CHECKS: dict[str, tuple[CheckFunction, SimConfig]] = {
    **exact.CHECKS,
    **accumulation.CHECKS,
    **equilibria.CHECKS,
    **drift_heat.CHECKS,
    **structure.CHECKS,
}

__all__ = ["CHECKS", "SEED_GROUPS", "Result", "code_identity", "run_checks"]

# Seed groups. An approximate verdict is made again on independent seeds: group g runs the
# check's regime with its seeds moved to seed + g * GROUP_STRIDE (its calibration runs move
# with it and stay disjoint from every group's judged seeds: a calibration starts 10007
# seeds after the seeds it calibrates). The verdict stands when every group reaches it and
# is "inconclusive" when they split; the numbers reported are the first group's. Items
# 13-14's sign tests already pool their own seeds and an exact fact is exact: neither is
# grouped. `normtheory verify` uses SEED_GROUPS; the validity maps judge one group per cell.
SEED_GROUPS = 3
GROUP_STRIDE = 1000
_UNGROUPED = frozenset({"specificity", "uncertainty"})
_GROUPED_VERDICTS = frozenset({"holds", "partial", "fails", "inconclusive"})

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


def _groupable(result: Result) -> bool:
    return not result.exact and result.verdict in _GROUPED_VERDICTS


def _grouped(first: list[Result], others: list[list[Result]]) -> list[Result]:
    """`first` with each approximate verdict confronted with the same row of the other
    seed groups: kept when all groups agree, "inconclusive" when they split."""
    out = []
    for i, result in enumerate(first):
        if not _groupable(result):
            out.append(result)
            continue
        same = [o[i] for o in others if len(o) == len(first) and o[i].law == result.law]
        same = [o for o in same if o.row == result.row]
        if len(same) != len(others):
            note = "seed groups: the other groups' runs returned other rows; not grouped"
            out.append(dataclasses.replace(result, note=_joined(result.note, note)))
            continue
        verdicts = (result.verdict, *(o.verdict for o in same))
        if len(set(verdicts)) == 1:
            out.append(dataclasses.replace(result, groups=verdicts))
        else:
            note = f"seed groups disagree: {', '.join(verdicts)}"
            out.append(
                dataclasses.replace(
                    result, verdict="inconclusive", groups=verdicts, note=_joined(result.note, note)
                )
            )
    return out


def _joined(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more


def run_checks(
    names: Iterable[str] | None = None,
    overrides: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
    seconds: dict[str, float] | None = None,
    seed_groups: int = 1,
) -> tuple[list[Result], dict[str, str]]:
    """(results, crashes by law name). Unknown names raise KeyError; bad --set, ConfigError.

    When `seconds` is given, the wall time of each check is stored in it by name.
    `seed_groups` > 1 judges every approximate verdict again on that many independent seed
    groups in all (module docstring of SEED_GROUPS): a split makes it "inconclusive".
    """
    if isinstance(seed_groups, bool) or not isinstance(seed_groups, int) or seed_groups < 1:
        raise ConfigError(f"seed_groups={seed_groups!r} must be an integer >= 1")
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
            check, config = CHECKS[name][0], configs[name]
            first = [_declared(r) for r in check(config, overridden)]
            if seed_groups > 1 and name not in _UNGROUPED and any(map(_groupable, first)):
                others = [
                    check(config.replace(seed=config.seed + g * GROUP_STRIDE), overridden)
                    for g in range(1, seed_groups)
                ]
                first = _grouped(first, others)
            results += first
        except Exception:  # reported, and reflected in the exit status
            crashes[name] = traceback.format_exc()
        if seconds is not None:
            seconds[name] = time.perf_counter() - start
    return results, crashes
