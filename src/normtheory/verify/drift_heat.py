"""THEORY.md item 12: the drift-heat equilibrium N*^2 = (D + sqrt(D^2 + 2 V^2)) / 2.

The law (normtheory.laws.budget): per step, N^2 loses r N^2 to decay, with
r = eta lam (2 - eta lam), and gains a drift delta and a heat h / N^2; if delta and h do
not depend on N, stationarity gives the quadratic with D = delta / r, V^2 = 2 h / r.

Measured in the judged run's own equilibrium, decay + drift + heat = 0 holds by the
exact budget, so rates taken from the window being judged would only restate that
identity. The rates therefore come from a *calibration run*: the same regime at weight
decay CALIBRATION x lam, whose equilibrium norm is different. Over its second half, per
item: delta = mean drift (+ remainder, for nonlinear encoders) per step, h = mean of
N^2 x heat per step (the measured kick, as heat_scale defines it), and the decay
multiplier k = -<decay> / (<N^2> eta lam (2 - eta lam)) (1 for tables and sums of
features). The law then predicts the judged run's N*^2 with r = k eta lam (2 - eta lam)
at its own lam. The check fails when the rates are not N-independent, which is the
assumption that gives the quadratic its content. Adam + L2 has no separable decay and
is not covered.

A shared encoder with a constant kernel (the compositional encoder under SGD, heavy ball
or Nesterov; `rate_source`) takes the rates from the kernel, not from the engine's
traced budget: `normtheory.kernel_budget` computes each item's drift and heat in the
calibration run from the items' gradients through K_ij = m_ij I and the optimizer's
velocity filter (item 15), and the judged <N^2> from the replayed norms. The drift
there is the kernel's alone (no measured remainder is added), so a wrong kernel gives
wrong D and V and the row fails (tested); with the right one the rates equal the
traced budget's to rounding (tested), because that kernel is exact.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from normtheory import laws, regimes
from normtheory.config import SimConfig
from normtheory.kernel_budget import kernel_budget_cached, kernel_refusal
from normtheory.verify._common import (
    Relaxation,
    half_stats,
    judge_items,
    norms_before,
    not_applicable,
    relaxation,
    row_config,
    row_refusal,
)
from normtheory.verify._common import simulate_cached as _run
from normtheory.verify._record import MAX_TOLERANCE, Result, capped, log_error

BASE = regimes.HEAVY_BALL
REGIMES = {
    "table, heavy ball": {},
    "table, adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
    "compositional, heavy ball": {"data": "hierarchy", "model": "compositional"},
    "mlp, heavy ball": {
        "data": "ambiguity",
        "model": "mlp",
        "loss": "prototype",
        "lr": 0.02,
        "width": 32,
    },
}
CALIBRATION = 2.0  # weight decay of the calibration run, relative to the judged run's
PARTS = ("self", "cross", "rest")  # the kernel split (THEORY.md item 15)


def _decay_rate(config: SimConfig) -> float:
    return config.eta_lam * (2 - config.eta_lam)


def calibration_config(config: SimConfig) -> SimConfig:
    """The calibration run of `config`: weight decay x CALIBRATION (x 1/CALIBRATION when
    that would make eta lam >= 1)."""
    factor = CALIBRATION if CALIBRATION * config.eta_lam < 1 else 1 / CALIBRATION
    return config.replace(weight_decay=config.weight_decay * factor)


def _rates(cfg: SimConfig, source: str = "traced") -> dict[str, np.ndarray]:
    """Per item over the second half of the run `cfg`: N^2 statistics and the law's rates.

    source "traced": the engine's budget, the drift with the remainder a nonlinear
    encoder leaves; "kernel": `kernel_budget`'s terms from the gradients through the
    kernel, the drift without the remainder (which only measures the kernel's error).

    The mean drift's standard error comes from the exact budget: over the half, the sum of
    drift + remainder is the change of N^2 minus the sums of decay and heat, so its error
    is that of the smooth decay + heat plus the end-point fluctuation of N^2 (the drift's
    large step-to-step noise telescopes and does not accumulate).
    """
    if source == "kernel":
        traj, moved = kernel_budget_cached(cfg), 0.0
    else:
        traj = _run(cfg, seeds=1, trace_split=cfg.model != "table")
        moved = traj.remainder
    n2 = traj.norm**2
    stats = half_stats(cfg, n2)
    drift = half_stats(cfg, (traj.drift + moved) / cfg.stride)
    h = half_stats(cfg, norms_before(traj) ** 2 * traj.heat / cfg.stride)
    decay = half_stats(cfg, traj.decay / cfg.stride)
    rest = half_stats(cfg, (traj.decay + traj.heat) / cfg.stride)
    half_steps = (n2.shape[-2] - n2.shape[-2] // 2) * cfg.stride
    end_points = np.sqrt(2 * stats.cv2) * stats.mean / half_steps / np.sqrt(n2.shape[0])
    return {
        "traj": traj,
        "n2": stats,
        "delta": drift.mean,
        "delta_se": np.hypot(rest.sem * np.abs(rest.mean), end_points),
        "h": h.mean,
        "h_se": h.sem * np.abs(h.mean),
        "k": -decay.mean / stats.mean / _decay_rate(cfg),
        "parts": _split_rates(cfg, traj),
    }


def _split_rates(cfg: SimConfig, traj) -> dict[str, np.ndarray]:
    """Per item over the second half: drift_x and h_x = N^2 heat_x per step (x in PARTS)."""
    out = {}
    for x in PARTS:
        out[f"drift_{x}"] = half_stats(cfg, getattr(traj, f"drift_{x}") / cfg.stride).mean
        weighted = norms_before(traj) ** 2 * getattr(traj, f"heat_{x}") / cfg.stride
        out[f"h_{x}"] = half_stats(cfg, weighted).mean
    return out


def split_transfer(cal: dict, judged: dict) -> dict[str, float]:
    """How each part of the kernel split moved from the calibration run to the judged run.

    Per part, the sum over items of the judged run's mean rate over the calibration run's:
    drift_x per step, and h_x = N^2 heat_x per step (x = self, cross, rest), the nets
    drift + remainder and h, and n2 for <N^2>; NaN for a part at rounding level in the
    calibration run (a table's cross part, the self drift that Euler removes). The
    quadratic assumes 1 for the nets; a part far from 1 is one whose N-dependence the
    law leaves out.
    """

    def ratio(a, b, scale=0.0) -> float:
        a, b = float(np.sum(a)), float(np.sum(b))
        return a / b if abs(b) > 1e-9 * scale else math.nan

    out = {"n2": ratio(judged["n2"].mean, cal["n2"].mean)}
    for kind in ("drift", "h"):  # a part at rounding level in the calibration run: NaN
        scale = sum(float(np.sum(np.abs(cal["parts"][f"{kind}_{x}"]))) for x in PARTS)
        for x in PARTS:
            key = f"{kind}_{x}"
            out[key] = ratio(judged["parts"][key], cal["parts"][key], scale)
    out["drift"] = ratio(judged["delta"], cal["delta"])
    out["h"] = ratio(judged["h"], cal["h"])
    return out


def per_item(cfg: SimConfig, source: str = "traced") -> dict[str, np.ndarray]:
    """Per item: measured <N^2> of the run `cfg` and the law's N*^2 from the calibration run.

    Args:
        cfg: the judged run.
        source: where the rates come from, "traced" (the engine's budget) or "kernel"
            (`kernel_budget`: the gradients through the kernel; see `_rates`).

    Returns:
        measured, predicted, the calibration rates (drift, h, k), the judged run's heat
        per step and gradient heat eta^2 G^2 / N^2 per step, the statistics the check
        judges with (sem of the prediction from the rates' standard errors; cv2 and sem
        of the measured <N^2>; the HalfStats of both runs), each per item (I,); and
        `split_transfer` of the two runs ("transfer").
    """
    cal_cfg = calibration_config(cfg)
    cal, judged = _rates(cal_cfg, source), _rates(cfg, source)
    law = laws.get("drift_heat_equilibrium")
    r = cal["k"] * _decay_rate(cfg)

    def predict(delta, h):
        return np.asarray(law(D=delta / r, V2=2 * h / r))

    predicted = predict(cal["delta"], cal["h"])
    # Standard error of the prediction, propagated from those of delta and h.
    with np.errstate(divide="ignore", invalid="ignore"):
        d_delta = predict(cal["delta"] + cal["delta_se"], cal["h"]) - predicted
        d_h = predict(cal["delta"], cal["h"] + cal["h_se"]) - predicted
        sem_predicted = np.hypot(d_delta, d_h) / predicted
    traj = judged["traj"]
    steps = traj.heat.shape[-2] - traj.heat.shape[-2] // 2
    half = slice(traj.heat.shape[-2] // 2, None)
    n2 = judged["n2"].mean
    return {
        "measured": n2,
        "predicted": predicted,
        "drift": cal["delta"],
        "h": cal["h"],
        "k": cal["k"],
        "heat": traj.heat[..., half, :].sum(axis=(0, 1)) / (steps * cfg.stride),
        "gradient_heat": cfg.lr**2
        * traj.g2[..., half, :].sum(axis=(0, 1))
        / (steps * cfg.stride)
        / n2,
        "sem_predicted": sem_predicted,
        "transfer": split_transfer(cal, judged),
        "judged": judged["n2"],
        "calibration": cal["n2"],
        "rate": traj.rate,
    }


def _refusal(cfg: SimConfig) -> str:
    if cfg.weight_decay == 0:
        return "no weight decay (weight_decay=0): there is no equilibrium"
    if cfg.optimizer == "adam":
        return "Adam + L2 has no separable decay (it passes through the preconditioner)"
    return ""


def drift_heat_equilibrium(
    config: SimConfig, overridden: frozenset[str] = frozenset()
) -> list[Result]:
    """N*^2 from drift and heat rates of a run at another weight decay (item 12), per row."""
    results, seen = [], set()
    for name, changes in REGIMES.items():
        refused = row_refusal(config, changes, overridden)
        if refused:
            result = not_applicable("drift_heat_equilibrium", 12, config, "N*^2", refused)
            results.append(dataclasses.replace(result, row=name))
            continue
        cfg, replaced = row_config(config, changes, overridden)
        if cfg in seen:
            continue
        seen.add(cfg)
        label = name if not replaced else f"{name} (--set {', '.join(replaced)})"
        reason = _refusal(cfg)
        if reason:
            result = not_applicable("drift_heat_equilibrium", 12, cfg, "N*^2", reason)
            results.append(dataclasses.replace(result, row=label))
            continue
        results.append(_judge_row(cfg, label, rate_source(cfg)))
    return results


def rate_source(cfg: SimConfig) -> str:
    """Where a row's rates come from: "kernel" for a shared encoder with a constant kernel
    (the compositional encoder under SGD, heavy ball or Nesterov), else "traced"."""
    return "kernel" if cfg.model == "compositional" and not kernel_refusal(cfg) else "traced"


def _judge_row(cfg: SimConfig, label: str, source: str = "traced") -> Result:
    parts = per_item(cfg, source)
    n2, predicted = parts["measured"], parts["predicted"]
    judged, cal = parts["judged"], parts["calibration"]
    err = log_error(n2, predicted)
    # Neglected: statistics (3 standard errors of measured and predicted) and the Jensen
    # bias of a mean-field law in the judged run, <h / N^2> against h / <N^2>, of order
    # the squared relative fluctuation of N^2; capped below 1 so that a prediction too
    # large or too small can fail.
    sem = np.hypot(judged.sem, np.nan_to_num(parts["sem_predicted"], nan=math.inf))
    tol = capped(3 * sem + judged.cv2)
    limited = int(np.sum(3 * sem >= MAX_TOLERANCE))
    cal_cfg = calibration_config(cfg)
    relax_j = relaxation(cfg, judged, tol)
    relax_c = relaxation(cal_cfg, cal, tol)
    relax = Relaxation(min(relax_j.times, relax_c.times), relax_j.items & relax_c.items)
    rule = judge_items(err <= tol, relax, parts["rate"] >= np.median(parts["rate"]))
    amplification = float(np.median(parts["heat"] / parts["gradient_heat"]))
    origin = "computed through the kernel from the gradients" if source == "kernel" else ""
    return Result(
        law="drift_heat_equilibrium",
        item=12,
        config=cfg,
        row=label,
        quantity=f"equilibrium N*^2 per item from drift and heat rates {origin}"
        f"{' ' if origin else ''}of a run at weight decay {cal_cfg.weight_decay:g} "
        "(median over items)",
        predicted=float(np.median(predicted)),
        measured=float(np.median(n2)),
        spread=float(np.std(n2)),
        rel_error=float(np.median(err)),
        tolerance=float(np.median(tol)),
        basis="|log(measured / predicted)| per item; 3 standard errors (measured, and the "
        "prediction's from its rates) + squared relative fluctuation of N^2 (Jensen), at "
        "most 0.5; median shown",
        verdict=rule.verdict,
        note=f"{rule.note}; {limited} of {len(err)} items have a statistical tolerance alone "
        f"beyond {MAX_TOLERANCE:g} (the rates' noise); measured heat is {amplification:.3g} x "
        f"the gradient's eta^2 G^2 / N^2; decay multiplier k = "
        f"{float(np.median(parts['k'])):.3g}; {_transfer_note(parts['transfer'])}"
        + ("; rates from the gradients through K_ij = m_ij I (kernel_budget)" if origin else ""),
        relaxed=relax.fraction,
        **rule.fields(),
    )


def _transfer_note(t: dict[str, float]) -> str:
    def parts(kind: str) -> str:
        shown = ("n/a" if math.isnan(v) else f"x{v:.2f}" for v in (t[f"{kind}_{x}"] for x in PARTS))
        return ", ".join(f"{x} {v}" for x, v in zip(PARTS, shown, strict=True))

    return (
        f"kernel split, judged run over calibration run (<N^2> x{t['n2']:.2f}; the law "
        f"assumes x1 for the nets): drift {parts('drift')}, net x{t['drift']:.2f}; N^2 heat "
        f"{parts('h')}, net x{t['h']:.2f} (n/a: at rounding level)"
    )


CHECKS = {"drift_heat_equilibrium": (drift_heat_equilibrium, BASE)}
