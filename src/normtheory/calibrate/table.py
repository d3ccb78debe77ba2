"""The calibration records as a Markdown table (the report's and the terminal's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["format_table"]


def _arrow(direction: int) -> str:
    return {1: "> 0.5", -1: "< 0.5", 0: "~ 0.5"}[direction]


def format_table(records: Sequence[Mapping]) -> list[str]:
    """A Markdown table of `records(...)`: per regime, AUROC [95% CI] of each score, AURC."""
    head = (
        "| regime | queries | accuracy | rho(norm, feature) | AUROC norm | AUROC top-1 cosine | "
        "AUROC margin | AUROC combined (without norm) | AURC norm / top-1 / combined | theory | "
        "verdict |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in records:
        by = {s["score"]: s for s in r["scores"]}

        def ci(name: str, by: dict = by) -> str:
            s = by[name]
            return f"{s['auroc']:.3f} [{s['auroc_lo']:.3f}, {s['auroc_hi']:.3f}]"

        aurc = " / ".join(f"{by[k]['aurc']:.3f}" for k in ("norm", "top1_cosine", "combined"))
        other = by.get("combined_without_norm")  # absent from files of older versions
        without = f"{other['auroc']:.3f}" if other else "n/a"
        lines.append(
            f"| {r['regime']} | {r['n']} | {r['accuracy']:.2f} | "
            f"{r['rho_norm_feature']:+.2f} ({r['feature']}) | {ci('norm')} | "
            f"{ci('top1_cosine')} | {ci('margin')} | {ci('combined')} "
            f"({without}) | {aurc} | "
            f"{_arrow(r['expected_direction'])} | {r['verdict']} |"
        )
    return lines
