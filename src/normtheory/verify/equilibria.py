"""THEORY.md items 9-11: weight-decay equilibria, Li-Arora, AdamW, in the free table.

Equilibrium quantities are means over the second half of the run, compared item by item
with the law of the optimizer actually run (SGD + L2: `sgd_decay_*`; heavy ball:
`momentum_decay_*`; AdamW: `adamw_*`); a regime no law models is reported "not
applicable". Errors are |log(measured / predicted)|; an item counts only once relaxed
(`normtheory.verify._common.relaxation`), and the per-item verdict is the fraction rule
of `normtheory.verify._record`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import laws
from normtheory.config import SimConfig
from normtheory.engine import replay_inputs
from normtheory.laws.weight_decay import shot_noise_moments
from normtheory.regimes import ADAMW, SGD_L2
from normtheory.verify._common import (
    CALIBRATION_OFFSET,
    Calibration,
    HalfStats,
    Relaxation,
    cached,
    calibration_run,
    check_independent,
    fit_slope,
    from_configuration,
    half_stats,
    judge_items,
    not_applicable,
    pair_loss,
    relaxation,
    replay_refusal,
    second_half,
    slope_result,
)
from normtheory.verify._common import simulate_cached as _run
from normtheory.verify._record import Result, capped, judge, log_error

SGD_SLOPE = 0.25  # slope of log N* on log p that SGD + L2 writes (sparse_decay_equilibrium)
JUDGED_SEEDS = 2  # seeds of the judged run (a calibration run takes as many others)
BUSY = 0.99  # items in nearly every batch: the angle law assumes a gradient every step
# Li-Arora: relative size of the twin run's initial perturbation, the deviation allowed
# for a dynamics that does not amplify rounding, and the largest allowance a check may use.
TWIN_PERTURBATION = 1e-13
LI_ARORA_ROUNDING = 1e-9
LI_ARORA_MAX_TOLERANCE = 1e-3
LOG_BASIS = "|log(measured / predicted)| per item"

# The law of each optimizer: (equilibrium N*^4, angle per step, sparse N*^4 or None).
DECAY_LAWS = {
    "sgd": ("sgd_decay_equilibrium", "sgd_decay_angle", "sparse_decay_equilibrium"),
    "momentum": ("momentum_decay_equilibrium", "momentum_decay_angle", None),
}


def _decay_args(config: SimConfig) -> dict[str, float]:
    args = {"eta": config.lr, "lam": config.weight_decay}
    if config.optimizer == "momentum":
        args["alpha"] = config.momentum
    return args


def _refusal(config: SimConfig) -> str:
    """Why the item-9 laws do not model `config` ("" when they do)."""
    if config.model != "table":
        return f"the item-9 laws model a free table, not model={config.model}"
    if config.weight_decay == 0:
        return "no weight decay (weight_decay=0): there is no equilibrium"
    if config.optimizer not in DECAY_LAWS:
        return (
            f"no SGD + L2 law for optimizer={config.optimizer} (modelled: sgd, momentum; "
            "AdamW is adamw_equilibrium)"
        )
    return ""


def sgd_decay_equilibrium(
    config: SimConfig, overridden: frozenset[str] = frozenset()
) -> list[Result]:
    """Coupled-L2 equilibrium N*^4, its sparse imprint (9, 9b, 9c) and angle per step."""
    reason = _refusal(config)
    if reason:
        return [
            not_applicable(name, 9, config, "equilibrium under coupled L2 decay", reason)
            for name in ("sgd_decay_equilibrium", "sparse_decay_equilibrium", "sgd_decay_angle")
        ]
    norm_law, angle_law, sparse_law = DECAY_LAWS[config.optimizer]
    traj = _run(config, seeds=JUDGED_SEEDS)
    # The gradient energy the laws take comes from a calibration run with other seeds:
    # the prediction never sees the run it judges.
    calibration = calibration_run(
        config, JUDGED_SEEDS, JUDGED_SEEDS, "G^2 per step per item over the second half"
    )
    fed = _run(calibration.config, seeds=calibration.seeds)
    eta, lam = config.lr, config.weight_decay
    n4 = half_stats(config, traj.norm**4)
    cv2 = half_stats(config, traj.norm**2).cv2
    half_steps = second_half(fed.g2).shape[-2] * config.stride
    g2_per_step = second_half(fed.g2).sum(axis=-2).mean(axis=0) / half_steps
    g2_sem = half_stats(config, fed.g2).sem
    predicted = np.asarray(laws.get(norm_law)(G2=g2_per_step, **_decay_args(config)))
    err = np.asarray(log_error(n4.mean, predicted))
    # Neglected: fluctuations. Three standard errors of the difference of the measured
    # mean and the calibrated energy, the Jensen bias of order the squared relative
    # fluctuation of N^2, and O(eta lam); capped below 1.
    tol = capped(3 * np.hypot(n4.sem, g2_sem) + cv2 + eta * lam)
    relax = relaxation(config, n4, tol)
    frequent = traj.rate >= np.median(traj.rate)
    rule = judge_items(err <= tol, relax, frequent)
    results = [
        Result(
            law=norm_law,
            item=9,
            config=config,
            quantity="equilibrium N*^4 per item (median over items), G^2 per step measured",
            predicted=float(np.median(predicted)),
            measured=float(np.median(n4.mean)),
            spread=float(np.median(n4.mean * np.sqrt(n4.cv2))),
            rel_error=float(np.median(err)),
            tolerance=float(np.median(tol)),
            basis=f"{LOG_BASIS}; 3 standard errors + squared relative fluctuation of N^2 "
            "(Jensen) + eta lam, at most 0.5; median shown",
            verdict=rule.verdict,
            note=rule.note,
            relaxed=relax.fraction,
            calibration=calibration.to_json(),
            **rule.fields(),
        )
    ]
    sparse = [(sparse_law, calibration)]
    if sparse_law == "sparse_decay_equilibrium":  # item 9b: the kick term kept
        sparse.append(("sparse_decay_equilibrium_quartic", calibration))
    for name, cal in sparse:
        row = _sparse(config, traj.rate, n4.mean, g2_per_step, name, relax)
        results.append(dataclasses.replace(row, calibration=cal.to_json()))
    if sparse_law == "sparse_decay_equilibrium":
        kicks = calibration_run(
            config,
            JUDGED_SEEDS,
            JUDGED_SEEDS,
            "G^2 of every update of every item over the second half (item 9c's kicks)",
        )
        results.append(_shot_noise(config, traj, n4, kicks))
        results.append(_configured(config, traj, n4, configured_calibrations(config)))
    angle = _angle(config, traj, tol, angle_law, relax)
    results.append(dataclasses.replace(angle, calibration=from_configuration("eta and lam")))
    return results


def _sparse(config, rate, n4, g2_per_step, law_name, relax: Relaxation) -> Result:
    """Slope of log N* on log p against the sparse law's own slope (item 9: 1/4; 9b: the
    quartic law's local slope at the items' rates, fitted the same way)."""
    quantity = "slope of log N* on log(rate) over items"
    if law_name is None:
        return not_applicable(
            "sparse_decay_equilibrium", 9, config, quantity,
            f"the sparse-update law is derived for SGD + L2, not optimizer={config.optimizer}",
        )  # fmt: skip
    if np.ptp(rate) == 0:
        return not_applicable(
            law_name, 9, config, quantity, "every item has the same rate: no slope to fit"
        )
    lp = np.log(rate)
    slope, se = fit_slope(lp, np.log(n4) / 4)
    # The law's own slope: its N* at each item's rate with the same energy per update for
    # every item (its assumption), fitted like the measurement.
    per_update = g2_per_step / rate
    g2 = float(per_update.mean())
    law = laws.get(law_name)
    predicted_n4 = np.asarray(law(eta=config.lr, lam=config.weight_decay, G2=g2, p=rate))
    predicted, _ = fit_slope(lp, np.log(predicted_n4) / 4)
    g_slope, g_se = fit_slope(lp, np.log(per_update))
    note = (
        f"per-update G^2 has slope {g_slope:.3f} +- {g_se:.3f} on log p; by the "
        f"equilibrium law the imprint then goes as p^{(1 + g_slope) / 4:.3f}"
    )
    measured = (slope, se)
    return slope_result(law_name, 9, config, quantity, measured, predicted, note, relax.fraction)


def kick_energies(config: SimConfig, seeds: int = 2) -> dict[str, np.ndarray]:
    """Per item, the energy G^2 of every update in the second half of the run `config`.

    Item 9c takes it from a calibration run (`config` with seeds disjoint from the
    judged run's), traced every step without the budget, so each step's G^2 is one
    update's energy (a step in which the item was drawn several times counts as one
    update, as in the exact step of item 9).
    Returns "energies" (I, K) padded with 0 past "counts" (I,), and "p" (I,): the
    fraction of second-half steps with an update, pooled over seeds.
    """

    def compute() -> dict[str, np.ndarray]:
        from normtheory.engine import simulate

        traj = simulate(config.replace(stride=1), seeds, trace_budget=False, progress=False)
        g2 = traj.g2[:, traj.g2.shape[1] // 2 :, :]  # (S, T/2, I)
        per_item = [g2[..., i][g2[..., i] > 0] for i in range(g2.shape[-1])]
        counts = np.array([len(e) for e in per_item])
        energies = np.zeros((len(per_item), max(1, counts.max())))
        for i, e in enumerate(per_item):
            energies[i, : len(e)] = e
        return {"energies": energies, "counts": counts, "p": counts / g2[..., 0].size}

    return cached("kick_energies", config, compute, {"seeds": seeds})


def shot_noise_domain(rate: np.ndarray, eta_lam: float) -> np.ndarray:
    """Tail exponent of N^4 in item 9c's chain; its stationary mean is finite above 2.

    Between updates N^2 shrinks by a^2 per step (a = 1 - eta lam) over a geometric gap,
    so 1 / N^2 just before an update, and N^2 just after it, have a power-law tail
    P(N^2 > u) ~ u^-kappa with kappa = ln(1 / (1 - p)) / (2 ln(1 / a)) ~= p / (2 eta lam):
    E[N^4] is finite only for kappa > 2, i.e. p above about 4 eta lam.
    """
    return np.log1p(-np.asarray(rate)) / (2 * np.log1p(-eta_lam))


# The smallest tail exponent whose rows a time average can judge: the stationary N^4 of
# item 9c's chain exists for kappa > 2, but its time average has a finite variance, so a
# standard error, only for kappa > 4 (rows with 2 < kappa <= 4 sit below the mean in any
# finite run: item 9d's table in THEORY.md).
JUDGED_KAPPA = 4.0


def _shot_noise(config: SimConfig, traj, n4: HalfStats, calibration: Calibration) -> Result:
    """Item 9c: the slope of log N* on log p with E[1/N^4] from each item's chain, its
    kicks drawn from the energies of a calibration run (`calibration`: seeds disjoint
    from the judged run's, checked here), never from the judged run.

    Judged over the items whose N^4 has a finite stationary variance (`shot_noise_domain`
    > JUDGED_KAPPA; the law itself holds for kappa > 2). The chain is
    stationary, so the run must be: an item counts as relaxed when the decay alone has
    brought its initial N^4 below a tenth of the predicted N*^4 by the second half, and
    its third- and fourth-quarter means agree to within nine standard errors.
    """
    law_name = "sparse_decay_shot_noise"
    quantity = "slope of log N* on log(rate) over the items with kappa > 4"
    rate = traj.rate
    if np.ptp(rate) == 0:
        return not_applicable(law_name, 9, config, quantity, "every item has the same rate")
    check_independent(calibration, config, traj.norm.shape[0])
    kicks = kick_energies(calibration.config, calibration.seeds)
    counts = kicks["counts"]
    kappa = shot_noise_domain(rate, config.eta_lam)
    inside = (counts > 0) & (kappa > JUDGED_KAPPA)
    if inside.sum() < 3:
        reason = (
            f"only {int(inside.sum())} items have kappa > {JUDGED_KAPPA:g} (update rate above "
            f"about {2 * JUDGED_KAPPA:g} eta lam = {2 * JUDGED_KAPPA * config.eta_lam:.3g}): "
            "no slope"
        )
        return not_applicable(law_name, 9, config, quantity, reason)
    energies = kicks["energies"][inside]
    count = counts[inside]
    chain = shot_noise_moments(
        energies,
        count,
        kicks["p"][inside],
        config.lr,
        config.weight_decay,
        seed=calibration.config.seed,
    )
    valid = np.arange(energies.shape[1]) < count[:, None]
    m1 = np.where(valid, energies, 0).sum(1) / count
    m2 = np.where(valid, energies**2, 0).sum(1) / count
    predicted_n4 = np.asarray(
        laws.get(law_name)(
            eta=config.lr,
            lam=config.weight_decay,
            p=kicks["p"][inside],
            m1=m1,
            m2=m2,
            w=chain["inv_n4"],
        )
    )
    measured = n4.mean[inside]
    # Relaxation: the initial N^4, decayed over the first half, against the prediction.
    start = (traj.norm0[..., inside] ** 4).mean(axis=0)
    decayed = start * (1 - config.eta_lam) ** (2 * config.steps)
    steady = relaxation(config, n4, 3 * n4.sem).items[inside]
    relaxed = steady & (decayed <= 0.1 * predicted_n4)
    lp = np.log(rate[inside])
    slope, se = fit_slope(lp, np.log(measured) / 4)
    predicted, _ = fit_slope(lp, np.log(predicted_n4) / 4)
    per_item = np.abs(np.log(measured / predicted_n4))
    within = per_item <= 3 * np.hypot(n4.sem[inside], chain["n4_sem"])
    kurtosis = m2 / m1**2
    note = (
        f"{int(inside.sum())} of {len(rate)} items judged (kappa > {JUDGED_KAPPA:g}), "
        f"{int(((kappa > 2) & (kappa <= JUDGED_KAPPA)).sum())} with 2 < kappa <= "
        f"{JUDGED_KAPPA:g} (N^4 of infinite variance) and {int((kappa <= 2).sum())} with "
        f"kappa <= 2 outside; per item N*^4 median |log error| {np.median(per_item):.3f}, "
        f"{within.mean():.0%} within 3 standard errors; E[G^4] / E[G^2]^2 per update "
        f"{np.min(kurtosis):.2g} to {np.max(kurtosis):.2g}"
    )
    fit = (slope, se)
    result = slope_result(law_name, 9, config, quantity, fit, predicted, note, relaxed.mean())
    return dataclasses.replace(result, calibration=calibration.to_json())


# Item 9d: the regime whose per-update energies calibrate the energy model (the judged
# regime with these data settings and eta lam; everything else kept), and the two more
# regimes (this eta lam, this batch) that set the powers of eta lam and B in one copy's
# energy; the updates drawn per item; the accuracy the model claims per item, in units
# of the item-to-item scatter of one copy's mean energy fitted at the calibration (two of
# them: about 95%); and the smallest tail exponent kappa judged (the time average of N^4
# has a finite variance, so a standard error, only for kappa > 4).
CONFIGURED_DATA = {"data": "frequency", "zipf": 1.1, "num_items": 200, "batch": 64}
CONFIGURED_ETA_LAM = 2.5e-3
CONFIGURED_DECAY_ETA_LAM = 2e-2
CONFIGURED_BATCH = 128
ENERGY_SAMPLES = 2000
SCATTERS = 2.0
CONFIGURED_KAPPA = JUDGED_KAPPA


def configured_calibrations(config: SimConfig) -> tuple[Calibration, Calibration, Calibration]:
    """Item 9d's calibrations, each with seeds disjoint from the judged run's (measured
    once: the same seeds for every judged seed group, `_measured_once`): `config` with
    CONFIGURED_DATA and eta lam = CONFIGURED_ETA_LAM (lam = eta lam / eta), the same at
    CONFIGURED_DECAY_ETA_LAM, and the first at batch CONFIGURED_BATCH."""
    regime = config.replace(**CONFIGURED_DATA, weight_decay=CONFIGURED_ETA_LAM / config.lr)
    what = "G^2 of every update of every item over the second half"
    others = (
        (regime, f"{what}: one copy's shape, e0, beta and the coherence rho"),
        (
            regime.replace(weight_decay=CONFIGURED_DECAY_ETA_LAM / config.lr),
            f"{what}: e0 at another eta lam (its power gamma)",
        ),
        (regime.replace(batch=CONFIGURED_BATCH), f"{what}: e0 at another batch (its power delta)"),
    )
    first, decay, batch = (_measured_once(cfg, config, measured) for cfg, measured in others)
    for cal in (first, decay, batch):
        check_independent(cal, config, JUDGED_SEEDS)
    return first, decay, batch


def _measured_once(regime: SimConfig, judged: SimConfig, measured: str) -> Calibration:
    """A calibration of `regime` on fixed seeds (from CALIBRATION_OFFSET), shared by every
    judged run and seed group, unless they meet the judged run's seeds: then the judged
    run's own disjoint seeds (`calibration_run`)."""
    fixed = Calibration(regime.replace(seed=CALIBRATION_OFFSET), JUDGED_SEEDS, measured)
    shared = set(fixed.seed_list()) & set(range(judged.seed, judged.seed + JUDGED_SEEDS))
    if shared:
        return calibration_run(regime, JUDGED_SEEDS, JUDGED_SEEDS, measured)
    return fixed


def _calibration_rates(cal: SimConfig) -> np.ndarray:
    from normtheory.data.frequency import zipf_probabilities

    probs = np.asarray(zipf_probabilities(cal.num_items, cal.zipf), dtype=np.float64)
    return 1 - (1 - probs) ** cal.batch


def configured_energy_model(calibrations: tuple[Calibration, Calibration, Calibration]):
    """The per-update energy model (`normtheory.sparse_energy`) fitted on item 9d's
    calibrations (`configured_calibrations`): the model on the first, gamma and delta
    from the scale e0 on the other two."""
    from normtheory.sparse_energy import fit_energy_model, fit_scale, with_exponents

    def inputs(cal: Calibration):
        kicks = kick_energies(cal.config, cal.seeds)
        return kicks["energies"], kicks["counts"], _calibration_rates(cal.config), cal.config.batch

    first, decay, batch = calibrations
    model = fit_energy_model(*inputs(first), first.config.eta_lam)
    e_decay = fit_scale(model, *inputs(decay))
    e_batch = fit_scale(model, *inputs(batch))
    return with_exponents(model, (decay.config.eta_lam, e_decay), (batch.config.batch, e_batch))


def _configured(
    config: SimConfig,
    traj,
    n4: HalfStats,
    calibrations: tuple[Calibration, ...],
    model=None,
) -> Result:
    """Item 9d: item 9c's chain fed per-update energies of the model fitted at other
    regimes (`configured_calibrations`), at the judged regime's configured rates.

    Judged on the slope of log N* on log p (two standard errors, as item 9c) and per
    item on N*^4 within 3 standard errors (measured mean and chain) plus SCATTERS times
    the model's fitted item-to-item scatter; both must hold. Judged over the items with
    kappa > CONFIGURED_KAPPA (`shot_noise_domain`); relaxation as item 9c.
    `model` replaces the fitted model (for tests of wrong models).
    """
    from normtheory.sparse_energy import slot_probability, sparse_energy_model

    law_name = "sparse_decay_configured"
    quantity = "slope of log N* on log(rate) over the items in the law's domain"
    rate = traj.rate
    if config.data != "frequency":
        reason = f"the copy model draws batch slots from item frequencies, not data={config.data}"
        return not_applicable(law_name, 9, config, quantity, reason)
    if np.ptp(rate) == 0:
        return not_applicable(law_name, 9, config, quantity, "every item has the same rate")
    for calibration in calibrations:
        check_independent(calibration, config, traj.norm.shape[0])
    kappa = shot_noise_domain(rate, config.eta_lam)
    inside = kappa > CONFIGURED_KAPPA
    if inside.sum() < 3:
        reason = (
            f"only {int(inside.sum())} items have kappa > {CONFIGURED_KAPPA:g} (update rate "
            f"above about {2 * CONFIGURED_KAPPA:g} eta lam = "
            f"{2 * CONFIGURED_KAPPA * config.eta_lam:.3g}): no slope"
        )
        return not_applicable(law_name, 9, config, quantity, reason)
    if model is None:
        try:
            model = configured_energy_model(calibrations)
        except ValueError as error:  # too short a calibration to fit the model on
            return not_applicable(law_name, 9, config, quantity, f"no energy model: {error}")
    p = rate[inside]
    seed = calibrations[0].config.seed
    kicks = sparse_energy_model(
        model, p, config.batch, config.eta_lam, samples=ENERGY_SAMPLES, seed=seed
    )
    energies = kicks["energies"]
    chain = shot_noise_moments(
        energies, kicks["counts"], p, config.lr, config.weight_decay, seed=seed
    )
    m1, m2 = energies.mean(1), (energies**2).mean(1)
    predicted_n4 = np.asarray(
        laws.get("sparse_decay_shot_noise")(
            eta=config.lr, lam=config.weight_decay, p=p, m1=m1, m2=m2, w=chain["inv_n4"]
        )
    )
    measured = n4.mean[inside]
    start = (traj.norm0[..., inside] ** 4).mean(axis=0)
    decayed = start * (1 - config.eta_lam) ** (2 * config.steps)
    steady = relaxation(config, n4, 3 * n4.sem)
    relax = Relaxation(steady.times, steady.items[inside] & (decayed <= 0.1 * predicted_n4))
    lp = np.log(p)
    slope, se = fit_slope(lp, np.log(measured) / 4)
    predicted, _ = fit_slope(lp, np.log(predicted_n4) / 4)
    per_item = np.abs(np.log(measured / predicted_n4))
    tol = capped(3 * np.hypot(n4.sem[inside], chain["n4_sem"]) + SCATTERS * model.scatter)
    rule = judge_items(per_item <= tol, relax, p >= np.median(p))
    # The model's own moments per update (the laws of item 9d), for the note.
    pi = slot_probability(p, config.batch)
    e0 = model.scale(config.eta_lam, config.batch)
    args = {"e0": e0, "beta": model.beta, "rho": model.rho, "B": config.batch, "pi": pi}
    mean = np.asarray(laws.get("sparse_update_energy")(**args))
    k = float(np.mean(model.shape**2))
    square = np.asarray(laws.get("sparse_update_energy_square")(k=k, **args))
    g_slope, _ = fit_slope(lp, np.log(mean))
    kurtosis = square / mean**2
    note = (
        f"{rule.note}; {int(inside.sum())} of {rate.size} items in the domain "
        f"(kappa > {CONFIGURED_KAPPA:g}), {int(((kappa > 2) & ~inside).sum())} with "
        f"2 < kappa <= {CONFIGURED_KAPPA:g} (N^4 of infinite variance) and "
        f"{int((kappa <= 2).sum())} with kappa <= 2 (no stationary N^4) outside; per item "
        f"N*^4 median |log error| {np.median(per_item):.3f}; model: e0 pi^beta with "
        f"beta = {model.beta:.3f}, e0 ~ (eta lam)^{model.gamma:.2f} B^{model.delta:.2f}, "
        f"coherence rho = {model.rho:.2f}, one copy's E[X^2] = {k:.2f}, item scatter "
        f"{model.scatter:.3f}; per-update G^2 slope {g_slope:.3f} on log p, "
        f"E[G^4] / E[G^2]^2 {kurtosis.min():.2g} to {kurtosis.max():.2g}"
    )
    fit = (slope, se)
    result = slope_result(law_name, 9, config, quantity, fit, predicted, note, relax.fraction)
    # Both must hold: the slope's verdict, then the per-item rule's.
    verdict = rule.verdict if result.verdict == "holds" else result.verdict
    return dataclasses.replace(
        result,
        verdict=verdict,
        basis=f"{result.basis}; and per item {LOG_BASIS} within 3 standard errors + "
        f"{SCATTERS:g} x the model's item scatter (the fraction rule)",
        calibration={
            **calibrations[0].to_json(),
            "other_regimes": [cal.to_json() for cal in calibrations[1:]],
        },
        **rule.fields(),
    )


def _angle(config, traj, tol, law_name, relax: Relaxation) -> Result:
    """Angle per step at equilibrium of the items in nearly every batch."""
    busy = traj.rate > BUSY
    quantity = f"mean angle per step of the items with rate > {BUSY}"
    if not busy.any():
        return not_applicable(
            law_name, 9, config, quantity, f"no item has rate > {BUSY} (the law assumes a "
            "gradient every step)",
        )  # fmt: skip
    eta, lam = config.lr, config.weight_decay
    shrink = 1 - eta * lam
    heat = second_half(traj.heat)[..., busy] / config.stride
    drift = second_half(traj.drift)[..., busy] / config.stride
    n = second_half(traj.norm)[..., busy]
    # z' = (1 - eta lam) z + k: k's radial part is z.k / N = drift / (2 (1 - eta lam) N)
    # (zero under SGD, where k is tangent), the rest of |k|^2 = heat is perpendicular.
    radial = drift / (2 * shrink * n)
    across = np.sqrt(np.maximum(heat - radial**2, 0))
    angles = np.arctan2(across, shrink * n + radial)
    angle = float(angles.mean())
    predicted = float(laws.get(law_name)(**_decay_args(config)))
    rel = abs(angle - predicted) / predicted
    # theta^2 ~ heat / N^2 ~ 1 / N^4 at a given gradient energy: half the N^4 tolerance.
    angle_tol = float(np.max(tol[busy])) / 2
    return Result(
        law=law_name,
        item=9,
        config=config,
        quantity=f"{quantity} ({int(busy.sum())} items)",
        predicted=predicted,
        measured=angle,
        spread=float(angles.std()),
        rel_error=float(rel),
        tolerance=angle_tol,
        basis="half the largest equilibrium tolerance of N^4 of these items (theta^2 "
        "scales as 1/N^4)",
        verdict=judge(float(rel), angle_tol) if relax.ok else "not relaxed",
        note="angle from the traced budget: tan(theta) = |k_perp| / ((1 - eta lam) N + z.k / N)",
        relaxed=relax.fraction,
    )


def li_arora_trajectories(config: SimConfig, steps: int = 100) -> dict[str, np.ndarray]:
    """GD + decay, rescaled by (1 - eta lam)^t, and GD at eta_t, on the run's batches.

    Returns norms (steps + 1, items) of both runs ("rescaled", "plain"), the final
    coordinate deviation max |w_T / (1 - eta lam)^T - w~_T| / max |w~_T| ("deviation"),
    and that of a twin of the decayed run started from w_0 (1 +- TWIN_PERTURBATION)
    ("twin_deviation"): how much this dynamics amplifies a rounding-sized difference.
    Each run makes its views from its own directions (the same directions mathematically,
    since the runs differ by a positive scale), so rounding is never fed from one run
    into the other.
    """
    short = config.replace(steps=min(config.steps, steps), stride=1)
    t = np.arange(float(short.steps + 1))
    eta, lam = short.lr, short.weight_decay
    laws_used = {
        "rates": np.asarray(laws.get("li_arora_learning_rate")(eta=eta, lam=lam, t=t)),
        "scales": np.asarray(laws.get("li_arora_scale")(eta=eta, lam=lam, t=t)),
    }
    inputs = {k: [float(x) for x in v] for k, v in laws_used.items()}
    return cached("li_arora", short, lambda: _li_arora(short, **laws_used), inputs)


def _li_arora(cfg: SimConfig, rates: np.ndarray, scales: np.ndarray) -> dict[str, np.ndarray]:
    table, ids, noise = replay_inputs(cfg)
    ids, noise = jnp.asarray(ids), jnp.asarray(noise)
    loss = pair_loss(cfg)
    eta, lam = cfg.lr, cfg.weight_decay

    def step_grad(z, t):
        u = jax.lax.stop_gradient(z[ids[t]])
        u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
        v = u + cfg.view_noise * noise[t]
        return loss(z[ids[t]], v / jnp.linalg.norm(v, axis=-1, keepdims=True), cfg.tau)

    grad = jax.jit(jax.grad(step_grad))
    decayed = plain = jnp.asarray(table)
    sign = jax.random.rademacher(jax.random.key(cfg.seed), table.shape, dtype=decayed.dtype)
    twin = decayed * (1 + TWIN_PERTURBATION * sign)
    initial = np.linalg.norm(table, axis=-1)
    rescaled_norms, plain_norms = [initial], [initial]
    for t in range(cfg.steps):
        decayed = (1 - eta * lam) * decayed - eta * grad(decayed, t)
        twin = (1 - eta * lam) * twin - eta * grad(twin, t)
        plain = plain - rates[t] * grad(plain, t)
        rescaled_norms.append(np.asarray(jnp.linalg.norm(decayed / scales[t + 1], axis=-1)))
        plain_norms.append(np.asarray(jnp.linalg.norm(plain, axis=-1)))
    rescaled = decayed / scales[cfg.steps]
    deviation = jnp.max(jnp.abs(rescaled - plain)) / jnp.max(jnp.abs(plain))
    twin_deviation = jnp.max(jnp.abs(twin - decayed)) / jnp.max(jnp.abs(decayed))
    return {
        "rescaled": np.stack(rescaled_norms),
        "plain": np.stack(plain_norms),
        "deviation": np.asarray(deviation),
        "twin_deviation": np.asarray(twin_deviation),
    }


def li_arora(config: SimConfig, overridden: frozenset[str] = frozenset()) -> list[Result]:
    """GD + decay against GD at eta (1 - eta lam)^(-2t-1), same batches (item 10, float64)."""
    short = config.replace(steps=min(config.steps, 100), stride=1)
    quantity = "max |w_T / (1 - eta lam)^T - w~_T| / max |w~_T| after T steps"
    if config.optimizer != "sgd":
        reason = f"the equivalence is for SGD with coupled decay, not {config.optimizer}"
        return [not_applicable("li_arora", 10, short, quantity, reason)]
    if config.weight_decay == 0:
        reason = "no weight decay (weight_decay=0): both runs are the same run"
        return [not_applicable("li_arora", 10, short, quantity, reason)]
    if reason := replay_refusal(config):
        return [not_applicable("li_arora", 10, short, quantity, reason)]
    runs = li_arora_trajectories(config)
    err = float(runs["deviation"])
    amplification = float(runs["twin_deviation"]) / TWIN_PERTURBATION
    tol = LI_ARORA_ROUNDING * max(1.0, amplification)
    if tol > LI_ARORA_MAX_TOLERANCE:
        reason = (
            f"this dynamics amplifies a {TWIN_PERTURBATION:g} perturbation {amplification:.2g} "
            f"times in {short.steps} steps (chaotic directions): no rounding-level comparison"
        )
        return [not_applicable("li_arora", 10, short, quantity, reason)]
    return [
        Result(
            law="li_arora",
            item=10,
            config=short,
            quantity=quantity,
            predicted=0.0,
            measured=err,
            spread=0.0,
            rel_error=err,
            tolerance=tol,
            basis=f"float64 rounding: {LI_ARORA_ROUNDING:g} x the dynamics' amplification of "
            "a perturbation (a twin run from w_0 (1 +- 1e-13)), if above 1",
            verdict=judge(err, tol),
            exact=False,
            note=f"exact identity for scale-invariant losses (THEORY.md item 10); a "
            f"{TWIN_PERTURBATION:g} perturbation grows {amplification:.2g} times",
        )
    ]


def adamw_equilibrium(config: SimConfig, overridden: frozenset[str] = frozenset()) -> list[Result]:
    """AdamW equilibrium N*^2 = law(eta, lam, C = d, b1) per item, and its flatness in p."""
    names = ("adamw_equilibrium", "adamw_frequency_independence")
    reason = ""
    if config.optimizer != "adamw":
        reason = f"the AdamW law needs optimizer=adamw, not {config.optimizer}"
    elif config.weight_decay == 0:
        reason = "no weight decay (weight_decay=0): there is no equilibrium"
    elif config.model != "table":
        reason = f"the AdamW law models a free table (C = d coordinates), not {config.model}"
    if reason:
        quantity = "equilibrium N*^2 under AdamW"
        return [not_applicable(n, 11, config, quantity, reason) for n in names]
    traj = _run(config, seeds=2)
    eta, lam, b1 = config.lr, config.weight_decay, config.b1
    n2 = half_stats(config, traj.norm**2)
    predicted = float(laws.get("adamw_equilibrium")(eta=eta, lam=lam, C=config.dim, b1=b1))
    err = np.asarray(log_error(n2.mean, predicted))
    tol = capped(3 * n2.sem + 2 * eta * lam / (1 - b1))
    relax = relaxation(config, n2, tol)
    rule = judge_items(err <= tol, relax, traj.rate >= np.median(traj.rate))
    lp = np.log(traj.rate)
    flat = np.ptp(traj.rate) > 0
    slope, se = fit_slope(lp, np.log(np.sqrt(n2.mean))) if flat else (np.nan, np.nan)
    # At most half the SGD + L2 slope 1/4, so an SGD-like imprint always fails.
    slope_tol = min(max(2 * se, 0.02), SGD_SLOPE / 2)
    if not flat:
        independence = not_applicable(
            names[1], 11, config, "slope of log N* on log(rate)", "every item has the same rate"
        )
    else:
        independence = Result(
            law=names[1],
            item=11,
            config=config,
            quantity="slope of log N* on log(rate) over items (predicted flat)",
            predicted=0.0,
            measured=slope,
            spread=se,
            rel_error=abs(slope),
            tolerance=slope_tol,
            basis="two standard errors, at least 0.02, at most 0.125",
            verdict=judge(abs(slope), slope_tol) if relax.ok else "not relaxed",
            note="SGD + L2 predicts 0.25 here; a slope near 0 means AdamW erased the imprint",
            relaxed=relax.fraction,
        )
    return [
        Result(
            law=names[0],
            item=11,
            config=config,
            quantity="equilibrium N*^2 per item (median over items), C = d",
            predicted=predicted,
            measured=float(np.median(n2.mean)),
            spread=float(np.std(n2.mean)),
            rel_error=float(np.median(err)),
            tolerance=float(np.median(tol)),
            basis=f"{LOG_BASIS}; 3 standard errors + O(eta lam / (1 - b1)) of the "
            "random-walk model, at most 0.5; median shown",
            verdict=rule.verdict,
            note=f"{rule.note}; random-walk model: unit-variance Adam updates every step",
            relaxed=relax.fraction,
            calibration=from_configuration("eta, lam, d and b1"),
            **rule.fields(),
        ),
        dataclasses.replace(independence, calibration=from_configuration("the optimizer")),
    ]


# Item 11b: the accuracy the rare-row law claims on log N*^2 per item (beside three
# standard errors of the measured mean), and its domain: draws in the second half of the
# run, and steps of that half per memory 1 / (1 - b2) of the second moment.
RARE_ROW_ACCURACY = 0.05
RARE_ROW_MIN_DRAWS = 20
RARE_ROW_MEMORIES = 3.0
RARE_ROW_EPS = 0.1  # eps over the smallest sqrt(v) a row sees, at most


def rare_row_energies(config: SimConfig, calibration: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """The per-draw energies of a calibration run: (shape (M,), mean per draw (I,)).

    shape: each item's energies over their mean, pooled (the rare-row law takes only the
    shape of the energy distribution of a draw: its scale cancels in m / sqrt(v)); mean:
    each item's mean energy per draw (for the eps domain), 0 where never drawn.
    `calibration` must not share a seed with the judged run (`check_independent`).
    """
    check_independent(calibration, config, JUDGED_SEEDS)
    kicks = kick_energies(calibration.config, calibration.seeds)
    energies, counts = kicks["energies"], kicks["counts"]
    means = np.array([energies[i, :c].mean() if c else 0.0 for i, c in enumerate(counts)])
    parts = [energies[i, :c] / means[i] for i, c in enumerate(counts) if c and means[i] > 0]
    if not parts:
        raise ValueError("the calibration run drew no item: no energy shape")
    return np.concatenate(parts), means


def adamw_rare_rows(config: SimConfig, overridden: frozenset[str] = frozenset()) -> list[Result]:
    """AdamW equilibrium per item with the moments' decay between draws (item 11b)."""
    name = "adamw_rare_row_equilibrium"
    quantity = "equilibrium N*^2 per item (median over items), N*^2_11 R(p)"
    reason = ""
    memories = config.steps / 2 * (1 - config.b2)
    if config.optimizer != "adamw":
        reason = f"the rare-row law needs optimizer=adamw, not {config.optimizer}"
    elif config.weight_decay == 0:
        reason = "no weight decay (weight_decay=0): there is no equilibrium"
    elif config.model != "table":
        reason = f"the rare-row law models free-table rows, not model={config.model}"
    elif config.b1**2 >= config.b2:
        reason = f"b1^2 = {config.b1**2:g} >= b2 = {config.b2:g}: the momentum tail diverges"
    elif memories < RARE_ROW_MEMORIES:
        reason = (
            f"the second half spans {memories:.3g} memories 1 / (1 - b2) of the second "
            f"moment (>= {RARE_ROW_MEMORIES:g} needed: the law is for stationary moments)"
        )
    if reason:
        return [not_applicable(name, 11, config, quantity, reason)]
    traj = _run(config, seeds=JUDGED_SEEDS)
    calibration = calibration_run(
        config,
        JUDGED_SEEDS,
        JUDGED_SEEDS,
        "the shape of the per-draw gradient energy (each item's energies over their "
        "mean, pooled), every update of the second half",
    )
    shape, per_draw = rare_row_energies(config, calibration)
    eta, lam, b1, b2, d = config.lr, config.weight_decay, config.b1, config.b2, config.dim
    rate = traj.rate
    law = laws.get(name)
    predicted = np.asarray(law(eta=eta, lam=lam, C=d, b1=b1, b2=b2, p=rate, shape=shape))
    flat = float(laws.get("adamw_equilibrium")(eta=eta, lam=lam, C=d, b1=b1))
    one_energy = np.asarray(law(eta=eta, lam=lam, C=d, b1=b1, b2=b2, p=rate, shape=np.ones(1)))
    n2 = half_stats(config, traj.norm**2)
    tol = capped(3 * n2.sem + RARE_ROW_ACCURACY)
    # Domain: enough draws to average over, and eps small against the smallest sqrt(v) a
    # row sees (v just after a draw, decayed over a gap 3 / p; gradient per coordinate
    # from the calibration's mean energy, G^2 / (N^2 d), at the predicted N).
    smallest = np.sqrt((1 - b2) * per_draw / (predicted * d) * b2 ** (3 / rate))
    inside = (rate * config.steps / 2 >= RARE_ROW_MIN_DRAWS) & (
        config.eps <= RARE_ROW_EPS * smallest
    )
    if inside.sum() < 3:
        reason = (
            f"only {int(inside.sum())} items have >= {RARE_ROW_MIN_DRAWS} draws in the "
            f"second half and eps <= {RARE_ROW_EPS:g} sqrt(v)"
        )
        return [not_applicable(name, 11, config, quantity, reason)]
    relax = relaxation(config, n2, tol)
    relax = Relaxation(relax.times, relax.items[inside])
    err = np.asarray(log_error(n2.mean, predicted))
    rule = judge_items((err <= tol)[inside], relax, (rate >= np.median(rate))[inside])
    keep = relax.items
    flat_ok = (np.asarray(log_error(n2.mean, flat)) <= tol)[inside][keep]
    one_ok = (np.asarray(log_error(n2.mean, one_energy)) <= tol)[inside][keep]
    in_flat = np.abs(np.log(predicted / flat)) <= RARE_ROW_ACCURACY
    note = (
        f"{rule.note}; {int(inside.sum())} of {rate.size} items in the domain; item 11's "
        f"flat law within the same tolerance for {flat_ok.mean():.0%} of them, 11b with one "
        f"energy per draw (configuration only) {one_ok.mean():.0%}; predicted flat regime "
        f"(|log R| <= {RARE_ROW_ACCURACY:g}): {in_flat[inside].mean():.0%} of the items"
    )
    return [
        Result(
            law=name,
            item=11,
            config=config,
            quantity=quantity,
            predicted=float(np.median(predicted[inside])),
            measured=float(np.median(n2.mean[inside])),
            spread=float(np.std(n2.mean[inside])),
            rel_error=float(np.median(err[inside])),
            tolerance=float(np.median(tol[inside])),
            basis=f"{LOG_BASIS}; 3 standard errors + the law's declared accuracy "
            f"{RARE_ROW_ACCURACY:g}, at most 0.5; median shown",
            verdict=rule.verdict,
            note=note,
            relaxed=relax.fraction,
            calibration=calibration.to_json(),
            **rule.fields(),
        )
    ]


CHECKS = {
    "sgd_decay_equilibrium": (sgd_decay_equilibrium, SGD_L2),
    "li_arora": (li_arora, SGD_L2),
    "adamw_equilibrium": (adamw_equilibrium, ADAMW),
    "adamw_rare_rows": (adamw_rare_rows, ADAMW),
}
