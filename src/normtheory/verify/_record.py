"""One verification result: a law confronted with a simulation, and its verdict."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

Verdict = Literal["holds", "fails", "partial"]


@dataclasses.dataclass(frozen=True)
class Result:
    """predicted and measured are summary numbers of the same quantity (`quantity`).

    rel_error = |measured - predicted| / |predicted| (or the absolute error when the
    prediction is 0, as for the Euler identity); `tolerance` is on that error and comes
    from the order of the terms the law neglects (stated in `basis`). `spread` is the
    spread of the measured value over seeds or items (say which in `quantity`).
    `exact` marks THEORY.md's exact facts, whose failure is a bug.
    """

    law: str
    item: int
    regime: str
    quantity: str
    predicted: float
    measured: float
    spread: float
    rel_error: float
    tolerance: float
    basis: str
    verdict: Verdict
    exact: bool = False
    note: str = ""

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None if math.isnan(value) else str(value)
        return out


def relative_error(measured: float, predicted: float) -> float:
    if predicted == 0:
        return abs(measured)
    return abs(measured - predicted) / abs(predicted)


def judge(error: float, tolerance: float, partial: bool = False) -> Verdict:
    """holds within tolerance; "partial" when the caller found it holds only somewhere."""
    if not math.isfinite(error) or error > tolerance:
        return "partial" if partial else "fails"
    return "holds"
