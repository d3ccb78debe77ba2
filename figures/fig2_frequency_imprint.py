"""Figure 2 (THEORY.md items 8-9c, 11): the frequency imprint under SGD, SGD + L2, AdamW.

Final (or equilibrium) norm against the rate p at which an item is in a batch, log-log,
for the three free-table runs of `normtheory verify` (accumulation's frequency_imprint,
equilibria's SGD_L2 and ADAMW), five seeds. Points: the items binned by rate (log-spaced
bins; seed mean of the bin means, bars the standard deviation over the seeds). Solid
lines: each law evaluated per item with the traced gradient energy and binned the same
way (plain SGD: accumulation, item 6; SGD + L2: N*^4 = eta G^2 / (lam (2 - eta lam))
with the energy per step of a calibration run with seeds disjoint from the plotted
ones, item 9; AdamW: N* = sqrt(eta C / (2 lam)) with C = d,
item 11). Dashed: the laws as smooth functions of p with one energy per update for all
items (the median): item 8's 2 eta^2 p T G^2 and item 9b's sparse equilibrium. Dash-dot:
item 8b, 2 eta^2 T B pi epsilon with one energy per occurrence (the median) and the draw
probability pi of rate p; squares: item 9c, each item's N* from the per-update energies
of that calibration run (two seeds) and the shot-noise chain, binned.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures, laws
from normtheory.config import SimConfig
from normtheory.regimes import ADAMW, SGD_L2
from normtheory.runs import run
from normtheory.verify import CHECKS, SEED_GROUPS, Result, run_checks
from normtheory.verify._common import calibration_run
from normtheory.verify.accumulation import CHECKS as ACCUMULATION_CHECKS
from normtheory.verify.equilibria import JUDGED_SEEDS, kick_energies, shot_noise_domain

NAME = "fig2_frequency_imprint.png"
SEEDS = 5
BINS = 12


def configs(tiny: bool = False) -> dict[str, SimConfig]:
    """The three verification configs (tiny: fewer items and steps)."""
    sgd = ACCUMULATION_CHECKS["frequency_imprint"][1]
    cfgs = {"sgd": sgd, "sgd_l2": SGD_L2, "adamw": ADAMW}
    if tiny:
        cfgs = {
            "sgd": sgd.replace(num_items=40, steps=100, stride=10),
            "sgd_l2": SGD_L2.replace(num_items=40, steps=100, weight_decay=0.1),
            "adamw": ADAMW.replace(num_items=40, steps=100, lr=0.05),
        }
    return cfgs


def verdicts(cfgs: dict[str, SimConfig], seed_groups: int = SEED_GROUPS) -> dict[str, Result]:
    """The verdict rows the figure quotes, by law: `normtheory verify`'s checks run at the
    figure's own configs, on as many seed groups as `normtheory verify` judges (the rows
    REPORT.md renders at full size)."""
    checks = {
        "sgd": ("frequency_imprint", "frequency_imprint_occurrences"),
        "sgd_l2": ("sgd_decay_equilibrium",),
        "adamw": ("adamw_equilibrium",),
    }
    rows: dict[str, Result] = {}
    for name, names in checks.items():
        base = CHECKS[names[0]][1]
        changes = [
            f"{f}={getattr(cfgs[name], f)!r}"
            for f in ("num_items", "steps", "stride", "lr", "weight_decay")
            if getattr(cfgs[name], f) != getattr(base, f)
        ]
        results, crashes = run_checks(names, changes, seed_groups=seed_groups)
        if crashes:
            raise RuntimeError(f"the verdicts figure 2 quotes crashed: {crashes}")
        rows |= {r.law: r for r in results}
    return rows


def _half(values: np.ndarray) -> np.ndarray:
    return values[..., values.shape[-2] // 2 :, :]


def rate_bins(rate: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """(bin index of each item, geometric-mean rate of each non-empty bin), log-spaced."""
    edges = np.geomspace(rate.min(), rate.max() * (1 + 1e-12), bins + 1)
    index = np.clip(np.searchsorted(edges, rate, side="right") - 1, 0, bins - 1)
    used = np.unique(index)
    centre = np.array([np.exp(np.log(rate[index == b]).mean()) for b in used])
    return np.searchsorted(used, index), centre


def binned(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Mean of `values` (..., items) over the items of each bin: (..., bins)."""
    return np.stack([values[..., index == b].mean(axis=-1) for b in range(index.max() + 1)], -1)


def _kick_calibration(cfg: SimConfig) -> tuple[SimConfig, int]:
    """(config, seeds) of the calibration run whose kicks item 9c's verdict takes."""
    calibration = calibration_run(cfg, JUDGED_SEEDS, JUDGED_SEEDS, "item 9c's kicks")
    return calibration.config, calibration.seeds


def _points(ax: plt.Axes, centre: np.ndarray, per_seed: np.ndarray, label: str) -> None:
    mean, std = figures.mean_std(per_seed)
    ax.errorbar(centre, mean, yerr=std, fmt="o", ms=3, mfc="none", capsize=1.5, label=label)


def _panel(ax: plt.Axes, title: str, notes: list[str]) -> None:
    ax.set_title(title)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"rate $p$ (in a batch)")
    for note in notes:
        figures.legend_note(ax, note)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), handlelength=1.6, borderaxespad=0)


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (binned points, law lines)."""
    figures.enable_x64()
    cfgs = configs(tiny)
    trajs = {name: run(cfg, SEEDS, progress=False)[0] for name, cfg in cfgs.items()}
    rows = verdicts(cfgs, seed_groups=1 if tiny else SEED_GROUPS)
    numbers: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    with figures.style():
        fig, axes = figures.subplots(1, 3, width="full", height=4.4)
        axes = axes[0]
        axes[2].sharey(axes[1])  # N* under SGD + L2 and AdamW on one log scale

        # Plain SGD: growth N_T^4 - N_0^4 against the accumulation law (traced energy).
        cfg, traj = cfgs["sgd"], trajs["sgd"]
        index, centre = rate_bins(traj.rate)
        fine = np.geomspace(traj.rate.min(), traj.rate.max(), 200)
        start = traj.norm0**4
        measured = traj.norm[..., -1, :] ** 4 - start  # (seeds, items)
        total = traj.g2.sum(axis=-2)
        law = np.asarray(laws.get("accumulation")(N0=traj.norm0, eta=cfg.lr, S=total)) - start
        err = np.abs(law - measured) / traj.norm[..., -1, :] ** 4
        per_update = float(np.median(total / (traj.rate * cfg.steps)))
        ideal = np.asarray(
            laws.get("frequency_imprint")(eta=cfg.lr, p=fine, T=cfg.steps, G2=per_update)
        )
        draws = np.asarray(traj.info["probability"], float)
        per_occurrence = float(np.median(total / (cfg.steps * cfg.batch * draws)))
        occurrences = np.asarray(
            laws.get("frequency_imprint_occurrences")(
                eta=cfg.lr, T=cfg.steps, B=cfg.batch, pi=1 - (1 - fine) ** (1 / cfg.batch),
                epsilon=per_occurrence,
            )
        )  # fmt: skip
        imprint = rows["frequency_imprint"]
        slope, se = imprint.measured, imprint.spread
        occ = rows["frequency_imprint_occurrences"]
        pi_slope, pi_se = occ.measured, occ.spread
        numbers |= {"sgd_median_rel_error": float(np.median(err)), "sgd_slope": slope,
                    "sgd_slope_se": se, "sgd_occurrence_slope": pi_slope,
                    "sgd_occurrence_slope_se": pi_se}  # fmt: skip
        arrays |= {"sgd_rate": centre, "sgd_measured": binned(measured, index),
                   "sgd_law": binned(law, index).mean(axis=0), "sgd_ideal": ideal,
                   "sgd_occurrences": occurrences}  # fmt: skip
        _points(axes[0], centre, arrays["sgd_measured"], "simulation $N_T^4 - N_0^4$")
        axes[0].plot(centre, arrays["sgd_law"], "-", color="k", lw=1.2,
                     label="item 6: $2\\eta^2\\sum_t G_t^2$\n(traced $G^2$)")  # fmt: skip
        axes[0].plot(fine, ideal, "--", color="0.45", lw=1.0,
                     label="item 8: $2\\eta^2 p\\,T\\,G^2$\n(median $G^2$ per update)")  # fmt: skip
        axes[0].plot(fine, occurrences, "-.", color="C3", lw=1.0,
                     label="item 8b: $2\\eta^2 T B\\pi\\varepsilon$\n"
                     r"(median $\varepsilon$ per occurrence)")  # fmt: skip
        axes[0].set_ylabel(r"growth $N_T^4 - N_0^4$")
        _panel(axes[0], f"plain SGD, $\\eta$ = {cfg.lr:g}, $T$ = {cfg.steps}", [
            f"rel. error of $N_T^4$: median {figures.percent(numbers['sgd_median_rel_error'])}",
            f"slope {slope:.3f} $\\pm$ {se:.3f} (item 8: 1, {imprint.verdict})",
            f"on $\\log\\pi$: {pi_slope:.3f} $\\pm$ {pi_se:.3f} (8b: 1, {occ.verdict})",
        ])  # fmt: skip

        # SGD + L2: equilibrium N* from the per-step G^2 of a calibration run whose seeds
        # are disjoint from the plotted ones (the prediction never sees the runs it judges).
        cfg, traj = cfgs["sgd_l2"], trajs["sgd_l2"]
        calibration = calibration_run(cfg, SEEDS, 2, "G^2 per step and per update")
        fed = run(calibration.config, calibration.seeds, progress=False)[0]
        eta, lam = cfg.lr, cfg.weight_decay
        index, centre = rate_bins(traj.rate)
        fine = np.geomspace(traj.rate.min(), traj.rate.max(), 200)
        n4 = _half(traj.norm) ** 4
        per_seed = n4.mean(axis=-2) ** 0.25  # (seeds, items)
        g2 = _half(fed.g2).sum(axis=-2) / (n4.shape[-2] * cfg.stride)  # energy per step
        law = np.asarray(laws.get("sgd_decay_equilibrium")(eta=eta, lam=lam, G2=g2.mean(axis=0)))
        predicted = law**0.25
        measured = n4.mean(axis=(0, 1)) ** 0.25
        err = np.abs(predicted - measured) / measured
        per_update = float(np.median(g2.mean(axis=0) / traj.rate))
        sparse = laws.get("sparse_decay_equilibrium_quartic")(
            eta=eta, lam=lam, G2=per_update, p=fine
        )
        sparse = np.asarray(sparse) ** 0.25
        nine_c = rows["sparse_decay_shot_noise"]
        sparse_row = rows["sparse_decay_equilibrium"]
        slope, se = sparse_row.measured, sparse_row.spread
        numbers |= {"sgd_l2_median_rel_error": float(np.median(err)), "sgd_l2_slope": slope,
                    "sgd_l2_slope_se": se, "sgd_l2_shot_noise_slope": nine_c.measured,
                    "sgd_l2_shot_noise_slope_predicted": nine_c.predicted,
                    "sgd_l2_shot_noise_slope_error": nine_c.rel_error,
                    "sgd_l2_shot_noise_tolerance": nine_c.tolerance}  # fmt: skip
        # Item 9c's slope through the centre of the plotted items in its domain (the
        # measured fit passes through it too): the lines differ by slope only.
        inside = shot_noise_domain(traj.rate, cfg.eta_lam) > 2
        kicks = kick_energies(*_kick_calibration(cfg))
        inside &= kicks["counts"] > 0
        span = np.geomspace(traj.rate[inside].min(), traj.rate[inside].max(), 50)
        middle = np.exp(np.log(traj.rate[inside]).mean())
        level = np.exp(np.log(measured[inside]).mean())
        arrays |= {"sgd_l2_rate": centre, "sgd_l2_measured": binned(per_seed, index),
                   "sgd_l2_law": binned(predicted, index), "sgd_l2_sparse": sparse,
                   "sgd_l2_shot_noise": level * (span / middle) ** nine_c.predicted,
                   "sgd_l2_shot_noise_rate": span}  # fmt: skip
        _points(axes[1], centre, arrays["sgd_l2_measured"], r"simulation $N^*$ (2nd half)")
        label = (
            "item 9: $N^{*4} = \\eta G^2/(\\lambda(2-\\eta\\lambda))$\n($G^2$ of a calibration run)"
        )
        axes[1].plot(centre, arrays["sgd_l2_law"], "-", color="k", lw=1.2, label=label)
        axes[1].plot(fine, sparse, "--", color="0.45", lw=1.0,
                     label="item 9b: sparse equilibrium\n(median $G^2$ per update)")  # fmt: skip
        axes[1].plot(span, arrays["sgd_l2_shot_noise"], "-.", color="C3", lw=1.0,
                     label=f"item 9c: shot-noise slope {nine_c.predicted:.3f}\n(measured "
                     f"{nine_c.measured:.3f}, {nine_c.verdict})")  # fmt: skip
        axes[1].set_ylabel(r"equilibrium norm $N^*$")
        _panel(axes[1], f"SGD + L2, $\\eta$ = {eta:g}, $\\lambda$ = {lam:g}", [
            f"rel. error of $N^*$: median {figures.percent(numbers['sgd_l2_median_rel_error'])}",
            f"slope {slope:.3f} $\\pm$ {se:.3f} (item 9b: 1/4, {sparse_row.verdict})"])  # fmt: skip

        # AdamW: flat equilibrium.
        cfg, traj = cfgs["adamw"], trajs["adamw"]
        index, centre = rate_bins(traj.rate)
        n2 = _half(traj.norm) ** 2
        per_seed = np.sqrt(n2.mean(axis=-2))
        measured = np.sqrt(n2.mean(axis=(0, 1)))
        law = laws.get("adamw_equilibrium")(eta=cfg.lr, lam=cfg.weight_decay, C=cfg.dim, b1=cfg.b1)
        level = float(np.sqrt(law))
        err = np.abs(measured - level) / level
        flat = rows["adamw_frequency_independence"]
        slope, se = flat.measured, flat.spread
        numbers |= {"adamw_median_rel_error": float(np.median(err)), "adamw_slope": slope,
                    "adamw_slope_se": se, "adamw_law": level}  # fmt: skip
        arrays |= {"adamw_rate": centre, "adamw_measured": binned(per_seed, index)}
        _points(axes[2], centre, arrays["adamw_measured"], r"simulation $N^*$ (2nd half)")
        axes[2].axhline(
            level, color="k", lw=1.2, label=r"item 11: $N^* = \sqrt{\eta C/(2\lambda)}$"
        )
        axes[2].set_ylabel(r"equilibrium norm $N^*$")
        _panel(axes[2], f"AdamW, $\\eta$ = {cfg.lr:g}, $\\lambda$ = {cfg.weight_decay:g}", [
            f"rel. error of $N^*$: median {figures.percent(numbers['adamw_median_rel_error'])}",
            f"slope {slope:.3f} $\\pm$ {se:.3f} (item 11: 0, {flat.verdict})"])  # fmt: skip
        fig.suptitle("Frequency imprint: SGD writes $p$ into the norm, AdamW erases it")
        caption = (
            f"Items binned by rate p (points: mean over {SEEDS} seeds, bars: s.d. over seeds); "
            "N* under SGD + L2 and AdamW on one log scale, so each panel's visual slope is its "
            "exponent of p. "
            f"plain SGD: rel. error of N_T^4 median "
            f"{figures.percent(numbers['sgd_median_rel_error'])}; the slopes are the verdicts' "
            "(their runs, as REPORT.md quotes them): slope "
            f"{numbers['sgd_slope']:.3f} +- {numbers['sgd_slope_se']:.3f} on log p, "
            f"{numbers['sgd_occurrence_slope']:.3f} +- {numbers['sgd_occurrence_slope_se']:.3f} "
            f"on log pi (item 8b: 1); SGD + L2: rel. error of N* median "
            f"{figures.percent(numbers['sgd_l2_median_rel_error'])} (item 9), slope "
            f"{numbers['sgd_l2_slope']:.3f} +- {numbers['sgd_l2_slope_se']:.3f}, item 9c's slope "
            f"over the items in its domain (the verdict's {JUDGED_SEEDS}-seed run) "
            f"{numbers['sgd_l2_shot_noise_slope']:.3f} against "
            f"{numbers['sgd_l2_shot_noise_slope_predicted']:.3f} predicted; AdamW: rel. "
            f"error median {figures.percent(numbers['adamw_median_rel_error'])}, slope "
            f"{numbers['adamw_slope']:.3f} +- {numbers['adamw_slope_se']:.3f} ({SEEDS} seeds)"
        )
        return figures.finish(
            fig, Path(out_dir) / NAME, caption, numbers, arrays, width="full", summary=__doc__
        )


if __name__ == "__main__":
    print(main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv).path)
