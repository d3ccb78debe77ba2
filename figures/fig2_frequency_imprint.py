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
from normtheory.laws.weight_decay import shot_noise_moments
from normtheory.regimes import ADAMW, SGD_L2
from normtheory.runs import run
from normtheory.verify._common import Calibration, calibration_run, fit_slope
from normtheory.verify.accumulation import CHECKS as ACCUMULATION_CHECKS
from normtheory.verify.equilibria import kick_energies, shot_noise_domain

NAME = "fig2_frequency_imprint.png"
SEEDS = 5
BINS = 12


def configs(tiny: bool = False) -> dict[str, SimConfig]:
    """The three verification configs (tiny: fewer items and steps)."""
    sgd = ACCUMULATION_CHECKS["frequency_imprint"][1]
    sgd = sgd.replace(stride=sgd.steps // 10)
    cfgs = {"sgd": sgd, "sgd_l2": SGD_L2, "adamw": ADAMW}
    if tiny:
        cfgs = {
            "sgd": sgd.replace(num_items=40, steps=100, stride=10),
            "sgd_l2": SGD_L2.replace(num_items=40, steps=100, weight_decay=0.1),
            "adamw": ADAMW.replace(num_items=40, steps=100, lr=0.05),
        }
    return cfgs


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


def _nan_binned(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Mean of `values` (items,) over the items of each bin, ignoring NaN (NaN if none)."""
    out = np.full(index.max() + 1, np.nan)
    for b in range(len(out)):
        chosen = values[index == b]
        if np.isfinite(chosen).any():
            out[b] = np.nanmean(chosen)
    return out


def _shot_noise(cfg: SimConfig, rate: np.ndarray, calibration: Calibration) -> np.ndarray:
    """Item 9c's N* per item (NaN outside its domain), from the kick energies of a
    calibration run with seeds disjoint from the plotted runs (as verify's check)."""
    kicks = kick_energies(calibration.config, calibration.seeds)
    inside = (kicks["counts"] > 0) & (shot_noise_domain(rate, cfg.eta_lam) > 2)
    energies, counts = kicks["energies"][inside], kicks["counts"][inside]
    chain = shot_noise_moments(
        energies,
        counts,
        kicks["p"][inside],
        cfg.lr,
        cfg.weight_decay,
        seed=calibration.config.seed,
    )
    valid = np.arange(energies.shape[1]) < counts[:, None]
    n4 = laws.get("sparse_decay_shot_noise")(
        eta=cfg.lr, lam=cfg.weight_decay, p=kicks["p"][inside],
        m1=np.where(valid, energies, 0).sum(1) / counts,
        m2=np.where(valid, energies**2, 0).sum(1) / counts, w=chain["inv_n4"],
    )  # fmt: skip
    out = np.full(len(rate), np.nan)
    out[inside] = np.asarray(n4) ** 0.25
    return out


def _points(ax: plt.Axes, centre: np.ndarray, per_seed: np.ndarray, label: str) -> None:
    mean, std = figures.mean_std(per_seed)
    ax.errorbar(centre, mean, yerr=std, fmt="o", ms=4, mfc="none", capsize=2, label=label)


def _panel(ax: plt.Axes, title: str, notes: list[str]) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"rate $p$ (probability of being in a batch)")
    for note in notes:
        figures.legend_note(ax, note)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), fontsize=7.5, frameon=False)


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (binned points, law lines)."""
    figures.enable_x64()
    cfgs = configs(tiny)
    trajs = {name: run(cfg, SEEDS, progress=False)[0] for name, cfg in cfgs.items()}
    numbers: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    with figures.style():
        fig, axes = plt.subplots(1, 3, figsize=(13, 5.4))
        fig.subplots_adjust(wspace=0.36, bottom=0.34, top=0.86, left=0.06, right=0.98)

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
        slope, se = fit_slope(np.log(traj.rate), np.log(measured.mean(axis=0)))
        pi_slope, pi_se = fit_slope(np.log(draws), np.log(measured.mean(axis=0)))
        numbers |= {"sgd_median_rel_error": float(np.median(err)), "sgd_slope": slope,
                    "sgd_slope_se": se, "sgd_occurrence_slope": pi_slope,
                    "sgd_occurrence_slope_se": pi_se}  # fmt: skip
        arrays |= {"sgd_rate": centre, "sgd_measured": binned(measured, index),
                   "sgd_law": binned(law, index).mean(axis=0), "sgd_ideal": ideal,
                   "sgd_occurrences": occurrences}  # fmt: skip
        _points(axes[0], centre, arrays["sgd_measured"], "simulation $N_T^4 - N_0^4$")
        axes[0].plot(centre, arrays["sgd_law"], "-", color="k", lw=1.2,
                     label=r"item 6: $2\eta^2\sum_t G_t^2$ (traced $G^2$)")  # fmt: skip
        axes[0].plot(fine, ideal, "--", color="0.45", lw=1.0,
                     label=r"item 8: $2\eta^2 p\,T\,G^2$ (median $G^2$ per update)")  # fmt: skip
        axes[0].plot(fine, occurrences, "-.", color="C3", lw=1.0,
                     label=r"item 8b: $2\eta^2 T B\pi\varepsilon$ (median $\varepsilon$ "
                     "per occurrence)")  # fmt: skip
        axes[0].set_ylabel(r"growth $N_T^4 - N_0^4$")
        _panel(axes[0], f"plain SGD, $\\eta$ = {cfg.lr:g}, $T$ = {cfg.steps}", [
            f"rel. error of $N_T^4$: median {figures.percent(numbers['sgd_median_rel_error'])}",
            f"fitted slope {slope:.3f} $\\pm$ {se:.3f} (item 8: 1)",
            f"on $\\log\\pi$: {pi_slope:.3f} $\\pm$ {pi_se:.3f} (item 8b: 1)"])  # fmt: skip

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
        shot = _shot_noise(cfg, traj.rate, calibration)
        shot_err = np.abs(shot - measured) / measured
        slope, se = fit_slope(np.log(traj.rate), np.log(measured))
        numbers |= {"sgd_l2_median_rel_error": float(np.median(err)), "sgd_l2_slope": slope,
                    "sgd_l2_slope_se": se,
                    "sgd_l2_shot_noise_error": float(np.nanmedian(shot_err))}  # fmt: skip
        arrays |= {"sgd_l2_rate": centre, "sgd_l2_measured": binned(per_seed, index),
                   "sgd_l2_law": binned(predicted, index), "sgd_l2_sparse": sparse,
                   "sgd_l2_shot_noise": _nan_binned(shot, index)}  # fmt: skip
        _points(axes[1], centre, arrays["sgd_l2_measured"], r"simulation $N^*$ (2nd half)")
        label = r"item 9: $N^{*4} = \eta G^2/(\lambda(2-\eta\lambda))$ ($G^2$ of a calibration run)"
        axes[1].plot(centre, arrays["sgd_l2_law"], "-", color="k", lw=1.2, label=label)
        axes[1].plot(fine, sparse, "--", color="0.45", lw=1.0,
                     label=r"item 9b: sparse equilibrium (median $G^2$ per update)")  # fmt: skip
        axes[1].plot(centre, arrays["sgd_l2_shot_noise"], "s", color="C3", ms=4, mfc="none",
                     label=r"item 9c: shot-noise chain (calibration run's kicks)")  # fmt: skip
        axes[1].set_ylabel(r"equilibrium norm $N^*$")
        _panel(axes[1], f"SGD + L2, $\\eta$ = {eta:g}, $\\lambda$ = {lam:g}", [
            f"rel. error of $N^*$: median {figures.percent(numbers['sgd_l2_median_rel_error'])}",
            f"item 9c: median {figures.percent(numbers['sgd_l2_shot_noise_error'])}",
            f"fitted slope {slope:.3f} $\\pm$ {se:.3f} (item 9: 1/4)"])  # fmt: skip

        # AdamW: flat equilibrium.
        cfg, traj = cfgs["adamw"], trajs["adamw"]
        index, centre = rate_bins(traj.rate)
        n2 = _half(traj.norm) ** 2
        per_seed = np.sqrt(n2.mean(axis=-2))
        measured = np.sqrt(n2.mean(axis=(0, 1)))
        law = laws.get("adamw_equilibrium")(eta=cfg.lr, lam=cfg.weight_decay, C=cfg.dim, b1=cfg.b1)
        level = float(np.sqrt(law))
        err = np.abs(measured - level) / level
        slope, se = fit_slope(np.log(traj.rate), np.log(measured))
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
            f"fitted slope {slope:.3f} $\\pm$ {se:.3f} (item 11: 0)"])  # fmt: skip
        axes[2].set_yscale("linear")
        fig.suptitle(
            f"Frequency imprint: SGD writes $p$ into the norm, AdamW erases it (items binned by "
            f"rate; points: mean over {SEEDS} seeds, bars: s.d. over seeds)"
        )
        caption = (
            f"plain SGD: rel. error of N_T^4 median "
            f"{figures.percent(numbers['sgd_median_rel_error'])}, slope "
            f"{numbers['sgd_slope']:.3f} +- {numbers['sgd_slope_se']:.3f} on log p, "
            f"{numbers['sgd_occurrence_slope']:.3f} +- {numbers['sgd_occurrence_slope_se']:.3f} "
            f"on log pi (item 8b: 1); SGD + L2: rel. error of N* median "
            f"{figures.percent(numbers['sgd_l2_median_rel_error'])} (item 9), "
            f"{figures.percent(numbers['sgd_l2_shot_noise_error'])} (item 9c), slope "
            f"{numbers['sgd_l2_slope']:.3f} +- {numbers['sgd_l2_slope_se']:.3f}; AdamW: rel. "
            f"error median {figures.percent(numbers['adamw_median_rel_error'])}, slope "
            f"{numbers['adamw_slope']:.3f} +- {numbers['adamw_slope_se']:.3f} ({SEEDS} seeds)"
        )
        return figures.finish(fig, Path(out_dir) / NAME, caption, numbers, arrays)


if __name__ == "__main__":
    print(main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv).path)
