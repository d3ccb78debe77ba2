"""Table cells shared by the report sections' Markdown renderers."""

from __future__ import annotations


def interval(value: float | None, lo: float | None, hi: float | None, fmt: str) -> str:
    """A value with its confidence interval, "v [lo, hi]", each formatted with `fmt`.

    Args:
        value: the estimate (None: "n/a").
        lo, hi: the interval's ends (either None: the value alone).
        fmt: a format spec such as ".3f" or "+.2f".

    Returns:
        The cell's text.
    """
    if value is None:
        return "n/a"
    if lo is None or hi is None:
        return format(value, fmt)
    return f"{value:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


__all__ = ["interval"]
