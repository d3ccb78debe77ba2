"""THEORY.md items 6-8 under plain SGD: accumulation, effective learning rate, imprint.

The accumulation law is judged against the accuracy it declares (ACCUMULATION_ACCURACY),
and the identity it truncates (law + dropped term = N_T^4) is a separate exact row.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import laws, regimes
from normtheory.config import SimConfig
from normtheory.engine import replay_inputs
from normtheory.occurrence import occurrence_energy
from normtheory.verify._common import (
    Calibration,
    cached,
    fit_slope,
    is_plain_sgd,
    norms_before,
    not_applicable,
    pair_loss,
    replay_refusal,
    slope_result,
)
from normtheory.verify._common import simulate_cached as _run
from normtheory.verify._record import Result, capped, judge, within_accuracy

ROUNDING = 1e-11  # float64 rounding of sums over O(1000) steps of O(1) quantities

BASE = regimes.FREE_TABLE


def _worst(err: np.ndarray, tol: np.ndarray) -> tuple[float, float]:
    """(error, tolerance) of the entry with the largest error / tolerance."""
    k = int(np.argmax(err / tol))
    return float(err.flat[k]), float(tol.flat[k])


ACCUMULATION_ACCURACY = 0.01
"""What the accumulation law claims (item 6): per item, N_T^4 within 1% of
N_0^4 + 2 eta^2 sum_t G_t^2 (relative error below 1%).

Under plain SGD the law is short by exactly eta^4 sum_t G_t^4 / N_t^4 >= 0 (item 4 summed),
which is small for long vectors and small steps and dominates N_T^4 for small initial
norms or large learning rates, where the check must fail.
"""


def accumulation(config: SimConfig, overridden: frozenset[str] = frozenset()) -> list[Result]:
    """N_T^4 against N_0^4 + 2 eta^2 sum_t G_t^2 per item and seed (item 6), to 1%."""
    traj = _run(config.replace(stride=1), seeds=2)
    eta = config.lr
    total = traj.g2.sum(axis=-2)
    predicted = np.asarray(laws.get("accumulation")(N0=traj.norm0, eta=eta, S=total))  # (S, I)
    measured = traj.norm[..., -1, :] ** 4
    err = np.abs(measured - predicted) / predicted
    frequent = np.broadcast_to(traj.rate >= np.median(traj.rate), err.shape)
    rule, shown = within_accuracy(err, ACCUMULATION_ACCURACY, frequent.ravel())
    plain = is_plain_sgd(config)
    outside = "" if plain else "the law assumes plain SGD (tangent steps, no decay)"
    approximate = Result(
        law="accumulation",
        item=6,
        config=config,
        quantity="N_T^4 per item and seed (median; spread = std over items and seeds)",
        predicted=float(np.median(predicted)),
        measured=float(np.median(measured)),
        spread=float(np.std(measured)),
        rel_error=shown,
        tolerance=ACCUMULATION_ACCURACY,
        basis=f"the accuracy the law claims: relative error of N_T^4 below "
        f"{ACCUMULATION_ACCURACY:g} (per-item rule over items and seeds); the error shown "
        "is the 90th percentile over items and seeds",
        verdict=rule.verdict,
        note="; ".join(x for x in (rule.note, outside) if x),
        **rule.fields(),
    )
    # The identity the law truncates: N_T^4 = law + eta^4 sum_t G_t^4 / N_t^4, exact
    # under plain SGD (item 4's quartic step, summed), whatever the step size.
    dropped = eta**4 * np.sum(traj.g2**2 / norms_before(traj) ** 4, axis=-2)
    identity = predicted + dropped
    exact_err = np.abs(measured - identity) / measured
    identity_row = Result(
        law="accumulation",
        item=6,
        config=config,
        row="exact identity",
        quantity="N_T^4 per item and seed against the law plus the term it drops, "
        "eta^4 sum_t G_t^4 / N_t^4 (max rel. error; medians shown)",
        predicted=float(np.median(identity)),
        measured=float(np.median(measured)),
        spread=float(np.std(measured)),
        rel_error=float(exact_err.max()),
        tolerance=ROUNDING,
        basis="float64 rounding (exact for plain SGD)",
        verdict=judge(float(exact_err.max()), ROUNDING),
        exact=plain,
        note=outside,
    )
    return [approximate, identity_row]


def angle_trace(config: SimConfig, steps: int = 50) -> dict[str, np.ndarray]:
    """Per updated item and step: measured angle between z_t and z_t+1, eta G / N^2, N, G^2.

    An independent float64 loop of plain SGD on the run's own batches (replay_inputs),
    measuring the angle from the embeddings themselves, not from the traced budget.
    """
    short = config.replace(steps=min(config.steps, steps), stride=1)
    return cached("angle_trace", short, lambda: _angle_trace(short))


def _angle_trace(short: SimConfig) -> dict[str, np.ndarray]:
    config, steps = short, short.steps
    table, ids, noise = replay_inputs(short)
    ids, noise = jnp.asarray(ids), jnp.asarray(noise)
    loss = pair_loss(config)

    def step_loss(z, t):
        anchors = z[ids[t]]
        u = jax.lax.stop_gradient(anchors)
        u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
        views = u + config.view_noise * noise[t]
        return loss(anchors, views / jnp.linalg.norm(views, axis=-1, keepdims=True), config.tau)

    grad = jax.jit(jax.grad(step_loss))
    z = jnp.asarray(table)
    out = {"angle": [], "small_angle": [], "norm": [], "g2": []}
    for t in range(steps):
        g = grad(z, t)
        z_next = z - config.lr * g
        moved = np.asarray(jnp.sum(g * g, -1) > 0)
        norm = jnp.linalg.norm(z, axis=-1)
        along = jnp.sum(z * z_next, -1) / norm
        across = jnp.linalg.norm(z_next - (along / norm)[:, None] * z, axis=-1)
        g2 = norm**2 * jnp.sum(g * g, -1)
        out["angle"].append(np.asarray(jnp.arctan2(across, along))[moved])
        out["small_angle"].append(np.asarray(config.lr * jnp.sqrt(g2) / norm**2)[moved])
        out["norm"].append(np.asarray(norm)[moved])
        out["g2"].append(np.asarray(g2)[moved])
        z = z_next
    return {k: np.concatenate(v) for k, v in out.items()}


def effective_learning_rate(
    config: SimConfig, overridden: frozenset[str] = frozenset()
) -> list[Result]:
    """Angle between consecutive embeddings against atan(eta G / N^2) (item 7), measured."""
    short = config.replace(steps=min(config.steps, 50), stride=1)
    quantity = "angle between z_t and z_t+1 per updated item and step (median)"
    if not is_plain_sgd(config):
        reason = (
            f"gd_angle_per_step models plain SGD without decay; optimizer={config.optimizer}, "
            f"weight_decay={config.weight_decay:g} has no angle law here "
            "(see sgd_decay_equilibrium for the equilibrium angle under decay)"
        )
        return [not_applicable("gd_angle_per_step", 7, short, quantity, reason)]
    if reason := replay_refusal(config):
        return [not_applicable("gd_angle_per_step", 7, short, quantity, reason)]
    trace = angle_trace(config)
    angles, norm = trace["angle"], trace["norm"]
    predicted = np.asarray(laws.get("gd_angle_per_step")(N=norm, eta=config.lr, G2=trace["g2"]))
    err = np.abs(angles / predicted - 1)
    # The law is exact (atan of eta G / N^2); the measured angle comes from a perpendicular
    # part |z' - proj| of size x N, computed by cancellation, so its relative rounding is
    # about eps / x with x = eta G / N^2.
    x = trace["small_angle"]
    tol = capped(100 * np.finfo(np.float64).eps * (1 + 1 / x))
    err_worst, tol_worst = _worst(err, tol)
    small = float(np.max(np.abs(x / predicted - 1)))
    return [
        Result(
            law="gd_angle_per_step",
            item=7,
            config=short,
            quantity=quantity,
            predicted=float(np.median(predicted)),
            measured=float(np.median(angles)),
            spread=float(np.std(angles)),
            rel_error=err_worst,
            tolerance=tol_worst,
            basis="exact law: float64 rounding of the measured angle, 100 eps (1 + 1/x), "
            "x = eta G / N^2; worst entry shown",
            verdict="holds" if bool(np.all(err <= tol)) else "fails",
            note=f"the small-angle form eta G / N^2 differs from the law by at most {small:.2g}",
        )
    ]


def _divisor_stride(steps: int, windows: int = 10) -> int:
    """The largest stride <= steps / windows that divides steps."""
    return next(s for s in range(max(1, steps // windows), 0, -1) if steps % s == 0)


def _imprint_run(config: SimConfig):
    """The imprint run of `config`: about ten windows, two seeds (float64)."""
    return _run(config.replace(stride=_divisor_stride(config.steps)), seeds=2)


def _imprint_refusal(law: str, config: SimConfig, quantity: str) -> list[Result]:
    if config.data != "frequency" or config.model != "table":
        reason = (
            "the imprint laws are about an item's draw probability in the frequency data on a "
            f"free table; data={config.data}, model={config.model}"
        )
        return [not_applicable(law, 8, config, quantity, reason)]
    if not is_plain_sgd(config):
        reason = (
            f"the imprint law assumes plain SGD without decay (the accumulation law); "
            f"optimizer={config.optimizer}, weight_decay={config.weight_decay:g}"
        )
        return [not_applicable(law, 8, config, quantity, reason)]
    return []


def frequency_imprint(config: SimConfig, overridden: frozenset[str] = frozenset()) -> list[Result]:
    """Slope of log(N_T^4 - N_0^4) on log p, against the slope of the item-8 law (1)."""
    quantity = "slope of log(N_T^4 - N_0^4) on log(rate) over items (seed mean)"
    if refused := _imprint_refusal("frequency_imprint", config, quantity):
        return refused
    traj = _imprint_run(config)
    rate = traj.rate
    growth = (traj.norm[..., -1, :] ** 4 - traj.norm0**4).mean(axis=0)
    per_update = traj.g2.sum(axis=-2).mean(axis=0) / (rate * config.steps)
    keep = (growth > 0) & (per_update > 0)
    lp = np.log(rate[keep])
    slope, se = fit_slope(lp, np.log(growth[keep]))
    # The law's own prediction: its imprint at each item's rate, with the same energy per
    # update for every item (its assumption), fitted like the measurement.
    law = laws.get("frequency_imprint")
    g2 = float(np.mean(per_update[keep]))
    imprint = np.asarray(law(eta=config.lr, p=rate[keep], T=config.steps, G2=g2))
    predicted, _ = fit_slope(lp, np.log(imprint))
    g_slope, g_se = fit_slope(lp, np.log(per_update[keep]))
    note = (
        f"per-update energy G^2 has slope {g_slope:.3f} +- {g_se:.3f} on log p; by "
        f"item 6 the imprint then goes as p^{1 + g_slope:.3f}, not as the law's p T"
    )
    return [slope_result("frequency_imprint", 8, config, quantity, (slope, se), predicted, note)]


def frequency_imprint_occurrences(
    config: SimConfig, overridden: frozenset[str] = frozenset()
) -> list[Result]:
    """Slope of log(N_T^4 - N_0^4) on log(draw probability) against item 8b's (1)."""
    quantity = "slope of log(N_T^4 - N_0^4) on log(draw probability pi) over items (seed mean)"
    if refused := _imprint_refusal("frequency_imprint_occurrences", config, quantity):
        return refused
    traj = _imprint_run(config)
    pi = np.asarray(traj.info["probability"], float)
    growth = (traj.norm[..., -1, :] ** 4 - traj.norm0**4).mean(axis=0)
    occurrences = config.steps * config.batch * pi
    per_occurrence = traj.g2.sum(axis=-2).mean(axis=0) / occurrences
    keep = (growth > 0) & (per_occurrence > 0)
    if np.ptp(pi[keep]) == 0:
        reason = "every item has the same draw probability: no slope to fit"
        return [not_applicable("frequency_imprint_occurrences", 8, config, quantity, reason)]
    lp = np.log(pi[keep])
    slope, se = fit_slope(lp, np.log(growth[keep]))
    # The law's prediction: its imprint at each item's draw probability with one energy
    # per occurrence for all items (its assumption; the value cancels in the slope),
    # fitted like the measurement. Neglected: item 6's quartic term and the dependence
    # of the energy per occurrence on pi, both measured in the note, not used.
    law = laws.get("frequency_imprint_occurrences")
    imprint = np.asarray(
        law(eta=config.lr, T=config.steps, B=config.batch, pi=pi[keep], epsilon=1.0)
    )
    predicted, _ = fit_slope(lp, np.log(imprint))
    e_slope, e_se = fit_slope(lp, np.log(per_occurrence[keep]))
    note = (
        f"energy per occurrence has slope {e_slope:.3f} +- {e_se:.3f} on log pi (the law assumes 0)"
    )
    law_name = "frequency_imprint_occurrences"
    return [slope_result(law_name, 8, config, quantity, (slope, se), predicted, note)]


OCCURRENCE_ACCURACY = 0.15
"""What item 8c claims: the imprint slope on log pi within 0.15 of 1 + k, k predicted from
the configuration by normtheory.occurrence (the model at initialisation, no run).

Set from the errors measured over item 8b's map (tau 0.05-0.5 x d 8-32, 2000 steps): at
most 0.13 in eight cells; the ninth (tau 0.1, d 8: 0.36) is where the law fails. The
settings of THEORY.md item 8c's held-out list were judged against it unchanged.
"""

OCCURRENCE_SAMPLES = 1024
"""Monte Carlo batches per number of copies of the verify check's predictor."""


def occurrence_prediction(config: SimConfig) -> dict[str, np.ndarray]:
    """normtheory.occurrence's prediction for `config`, cached like the check's arrays."""

    def compute() -> dict[str, np.ndarray]:
        out = occurrence_energy(config, samples=OCCURRENCE_SAMPLES)
        return {key: np.asarray(value) for key, value in out.items()}

    inputs = {"samples": OCCURRENCE_SAMPLES}
    return cached("occurrence_energy", config.replace(stride=1), compute, inputs)


def occurrence_energy_slope(
    config: SimConfig,
    overridden: frozenset[str] = frozenset(),
    prediction: dict[str, np.ndarray] | None = None,
) -> list[Result]:
    """Imprint slope on log pi against 1 + k, k from the configuration (item 8c).

    `prediction` replaces the predictor's output (a dict like
    normtheory.occurrence.occurrence_energy's); by default it is computed from `config`.
    """
    law_name = "occurrence_energy_slope"
    quantity = "slope of log(N_T^4 - N_0^4) on log(draw probability pi) over items (seed mean)"
    if refused := _imprint_refusal(law_name, config, quantity):
        return refused
    traj = _imprint_run(config)
    pi = np.asarray(traj.info["probability"], float)
    growth = (traj.norm[..., -1, :] ** 4 - traj.norm0**4).mean(axis=0)
    per_occurrence = traj.g2.sum(axis=-2).mean(axis=0) / (config.steps * config.batch * pi)
    keep = (growth > 0) & (per_occurrence > 0)
    if np.ptp(pi[keep]) == 0:
        reason = "every item has the same draw probability: no slope to fit"
        return [not_applicable(law_name, 8, config, quantity, reason)]
    lp = np.log(pi[keep])
    slope, se = fit_slope(lp, np.log(growth[keep]))
    k_measured, k_se = fit_slope(lp, np.log(per_occurrence[keep]))
    pred = occurrence_prediction(config) if prediction is None else prediction
    # The law's imprint at each kept item's pi: 8b with epsilon(pi) the mixture over copies
    # of the predicted e_c (nothing else is taken from the prediction), fitted like the
    # measurement.
    e = np.asarray(pred["e"], float)
    eps = np.asarray(laws.get("occurrence_energy_mixture")(pi=pi[keep], B=config.batch, e=e))
    imprint = np.asarray(
        laws.get("frequency_imprint_occurrences")(
            eta=config.lr, T=config.steps, B=config.batch, pi=pi[keep], epsilon=eps
        )
    )
    predicted, _ = fit_slope(lp, np.log(imprint))
    err = abs(slope - predicted) / abs(predicted)
    tol = float(capped(OCCURRENCE_ACCURACY / abs(predicted)))
    calibration = Calibration(
        None,
        0,
        "nothing from any run: e_c by Monte Carlo on the model at initialisation "
        f"({int(np.asarray(pred['samples']))} batches per copy count, predictor seed "
        f"{int(np.asarray(pred['seed']))}, disjoint from every run's seeds)",
    )
    note = (
        f"k = slope of log epsilon on log pi: measured {k_measured:.3f} +- {k_se:.3f}, "
        f"predicted {predicted - 1:.3f}; measured imprint slope +- {se:.3f}; "
        f"e_c / e_1 at c = 2, 4, 8: "
        + ", ".join(f"{e[c - 1] / e[0]:.3g}" for c in (2, 4, 8) if c <= len(e))
    )
    return [
        Result(
            law=law_name,
            item=8,
            config=config,
            quantity=quantity,
            predicted=float(predicted),
            measured=float(slope),
            spread=float(se),
            rel_error=float(err),
            tolerance=tol,
            basis=f"the accuracy item 8c declares: the slope within {OCCURRENCE_ACCURACY:g} "
            "of 1 + k (as a fraction of the predicted slope, at most 0.5)",
            verdict=judge(float(err), tol),
            note=note,
            calibration=calibration.to_json(),
        )
    ]


IMPRINT = BASE.replace(steps=2000, stride=200)

CHECKS = {
    "accumulation": (accumulation, BASE),
    "effective_learning_rate": (effective_learning_rate, BASE),
    "frequency_imprint": (frequency_imprint, IMPRINT),
    "frequency_imprint_occurrences": (frequency_imprint_occurrences, IMPRINT),
    "occurrence_energy_slope": (occurrence_energy_slope, IMPRINT),
}
