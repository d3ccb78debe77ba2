"""The per-update energy distribution of a sparse row, parametrised by its rate (item 9d).

Item 9c's chain needs, per item, samples of the energy G^2 of one update. Here they come
from a model fitted once, on a calibration run of another regime, and evaluated at any
rate p and batch B (`normtheory.laws.sparse_energy` states it and its exact moments):

    K ~ Binomial(B, pi) given K >= 1,  pi = 1 - (1 - p)^(1/B)  (copies in the batch),
    G^2 = e0 pi^beta (1 + rho (K - 1)) sum_{c=1}^K X_c,
    e0 = e_c (eta lam / eta lam_c)^gamma (B / B_c)^delta,

X_c i.i.d. from one pooled shape (mean 1). Fitted from the per-update energies
(`normtheory.verify.equilibria.kick_energies`) of a calibration run at (eta lam_c, B_c):

- shape: the energies of the items with B pi <= SINGLE_COPY (an update is one copy with
  probability >= 95%), each over its own mean, pooled;
- e0, beta, rho: weighted least squares of log E[G^2 | update] per item on the model's
  mean (`sparse_update_energy`), rho in [0, 1]; each item weighted by the sampling
  variance of its log mean, (E[G^4] / E[G^2]^2 - 1) / count, plus an item-to-item
  scatter s0^2 set so that chi^2 per degree of freedom is 1;
- gamma, delta: from the scale e0 alone (beta, rho and the shape kept) refitted on one
  more calibration run each, at another eta lam and at another batch (`fit_scale`,
  `with_exponents`): one copy's energy grows with eta lam (a row whose neighbours move
  by sqrt(2 eta lam) per step sits further from its optimum) and depends on the number
  of negatives B - 1.

Assumes what 9c assumes (energies independent of the row's norm and of each other), and
that one copy's energy depends on the item only through pi, with one shape for all.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

SINGLE_COPY = 0.1  # B pi at most for the shape's items
MIN_UPDATES = 20  # updates an item needs to enter the fit
SHAPE_SAMPLES = 1024  # mid-quantiles kept of the pooled shape


class EnergyModel(NamedTuple):
    """A fitted per-update energy model (module docstring).

    e0, beta, rho: one copy's energy scale, its power of pi, the copies' coherence;
    shape: (M,) samples of one copy's energy over its mean (mean 1);
    scatter: fitted item-to-item scatter s0 of log E[G^2] beyond sampling;
    items: number of items the mean was fitted on;
    eta_lam, batch: the calibration regime's eta lam and B, where e0 was fitted;
    gamma, delta: powers of eta lam and B in one copy's energy scale (0: not fitted).
    """

    e0: float
    beta: float
    rho: float
    shape: np.ndarray
    scatter: float
    items: int
    eta_lam: float
    batch: int
    gamma: float = 0.0
    delta: float = 0.0

    def scale(self, eta_lam: float, batch: int) -> float:
        """One copy's energy scale e0 at (eta lam, B) (module docstring)."""
        ratio_decay, ratio_batch = eta_lam / self.eta_lam, batch / self.batch
        return self.e0 * ratio_decay**self.gamma * ratio_batch**self.delta


def _moments(energies: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = np.arange(energies.shape[1]) < counts[:, None]
    c = np.maximum(counts, 1)
    return np.where(valid, energies, 0).sum(1) / c, np.where(valid, energies**2, 0).sum(1) / c


def slot_probability(rate, batch: int) -> np.ndarray:
    """pi = 1 - (1 - p)^(1/B): the per-slot draw probability of a row updated at rate p."""
    rate = np.asarray(rate, float)
    return -np.expm1(np.log1p(-rate) / batch)


def _check_inputs(energies, counts, rate, batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    energies, counts, rate = np.asarray(energies, float), np.asarray(counts), np.asarray(rate)
    if energies.ndim != 2 or counts.shape != (energies.shape[0],) or rate.shape != counts.shape:
        raise ValueError("energies must be (I, K) with counts and rate (I,)")
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be a positive int, got {batch!r}")
    if np.any((rate <= 0) | (rate > 1)) or not np.all(np.isfinite(rate)):
        raise ValueError("every rate must be in (0, 1]")
    if np.any(counts < 0) or np.any(counts > energies.shape[1]):
        raise ValueError("counts must be between 0 and K")
    if not np.all(np.isfinite(energies)) or np.any(energies < 0):
        raise ValueError("energies must be finite and nonnegative")
    return energies, counts, rate


def _shape(energies, counts, m1, single) -> np.ndarray:
    parts = [energies[i, : counts[i]] / m1[i] for i in np.flatnonzero(single)]
    x = np.concatenate(parts)
    x = np.quantile(x, (np.arange(SHAPE_SAMPLES) + 0.5) / SHAPE_SAMPLES)
    return x / x.mean()


def _fit_mean(m1, m2, counts, pi, batch) -> tuple[float, float, float, float]:
    """(e0, beta, rho, s0): the weighted log fit of the mean per update (module docstring)."""
    from scipy import optimize

    from normtheory import laws

    mean_law = laws.get("sparse_update_energy")
    y = np.log(m1)
    sampling = np.maximum(m2 / m1**2 - 1, 0) / counts

    def residual(theta, s0):
        log_e0, beta, rho = theta
        model = mean_law(e0=1.0, beta=beta, rho=rho, B=batch, pi=pi)
        return (y - log_e0 - np.log(np.asarray(model))) / np.sqrt(sampling + s0**2)

    def fit(s0):
        start = [float(y.mean()), 0.0, 0.5]
        bounds = ([-np.inf, -2.0, 0.0], [np.inf, 2.0, 1.0])
        return optimize.least_squares(residual, start, bounds=bounds, args=(s0,))

    dof = max(len(y) - 3, 1)

    def excess(s0):
        return 2 * fit(s0).cost / dof - 1

    s0 = 0.0
    if excess(0.0) > 0:
        s0 = float(optimize.brentq(excess, 0.0, 10.0, xtol=1e-3))
    log_e0, beta, rho = fit(s0).x
    return float(np.exp(log_e0)), float(beta), float(rho), s0


def _usable(energies, counts, rate, batch):
    energies, counts, rate = _check_inputs(energies, counts, rate, batch)
    m1, m2 = _moments(energies, counts)
    used = (counts >= MIN_UPDATES) & (m1 > 0)
    return energies, counts, slot_probability(rate, batch), m1, m2, used


def fit_energy_model(energies, counts, rate, batch: int, eta_lam: float) -> EnergyModel:
    """Fit the per-update energy model to a calibration run's per-update energies.

    Args:
        energies: (I, K) per-update energies G^2 of each item, padded past `counts`.
        counts: (I,) valid energies per item (items with fewer than MIN_UPDATES are
            left out).
        rate: (I,) each item's update rate p of the calibration regime (configured).
        batch: the calibration regime's batch size B.
        eta_lam: the calibration regime's eta lam.

    Returns:
        The EnergyModel, with gamma = delta = 0 (`with_exponents` sets them).
    """
    energies, counts, pi, m1, m2, used = _usable(energies, counts, rate, batch)
    if not 0 < eta_lam < 2:
        raise ValueError(f"eta_lam must be in (0, 2), got {eta_lam!r}")
    single = used & (batch * pi <= SINGLE_COPY)
    if single.sum() < 3 or used.sum() < 4:
        raise ValueError(
            f"the calibration has {int(single.sum())} items with B pi <= {SINGLE_COPY} and "
            f">= {MIN_UPDATES} updates, {int(used.sum())} in all: at least 3 and 4 needed"
        )
    shape = _shape(energies, counts, m1, single)
    e0, beta, rho, s0 = _fit_mean(m1[used], m2[used], counts[used], pi[used], batch)
    return EnergyModel(e0, beta, rho, shape, s0, int(used.sum()), float(eta_lam), int(batch))


def fit_scale(model: EnergyModel, energies, counts, rate, batch: int) -> float:
    """One copy's energy scale e0 on another calibration run, beta, rho, shape kept.

    The weighted mean over items of log E[G^2 | update] minus the model's log mean at
    e0 = 1 (weights: sampling variance plus the model's item scatter squared).
    Arguments as `fit_energy_model`; returns e0 of that run.
    """
    from normtheory import laws

    energies, counts, pi, m1, m2, used = _usable(energies, counts, rate, batch)
    if used.sum() < 1:
        raise ValueError(f"no item of the calibration has >= {MIN_UPDATES} updates")
    law = laws.get("sparse_update_energy")
    unit = np.asarray(law(e0=1.0, beta=model.beta, rho=model.rho, B=batch, pi=pi[used]))
    weight = 1 / (np.maximum(m2[used] / m1[used] ** 2 - 1, 0) / counts[used] + model.scatter**2)
    return float(np.exp(np.sum(weight * np.log(m1[used] / unit)) / weight.sum()))


def with_exponents(
    model: EnergyModel, decay: tuple[float, float], batch: tuple[int, float]
) -> EnergyModel:
    """`model` with gamma from (eta lam, e0) at another eta lam and delta from (B, e0) at
    another batch (each e0 from `fit_scale`, at the model's other setting)."""
    (eta_lam, e_decay), (slots, e_batch) = decay, batch
    if eta_lam == model.eta_lam or slots == model.batch:
        raise ValueError("the exponents need another eta lam and another batch than the model's")
    gamma = np.log(e_decay / model.e0) / np.log(eta_lam / model.eta_lam)
    delta = np.log(e_batch / model.e0) / np.log(slots / model.batch)
    return model._replace(gamma=float(gamma), delta=float(delta))


def sparse_energy_model(
    model: EnergyModel,
    rate,
    batch: int,
    eta_lam: float,
    *,
    samples: int = 2000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Synthetic per-update energies of rows updated at `rate` in batches of `batch`.

    Draws, per item, `samples` updates of the model: K copies from Binomial(B, pi) given
    K >= 1 (inverse CDF), each copy's energy from the model's shape, combined with the
    coherence rho and scaled by e0 pi^beta, e0 = `model.scale(eta_lam, batch)`.
    Deterministic given `seed`.

    Args:
        model: a fitted EnergyModel (`fit_energy_model`).
        rate: (I,) update rates p in (0, 1] of the rows to predict.
        batch: batch size B of their regime.
        eta_lam: eta lam of their regime.
        samples: updates drawn per item.
        seed: seed of the draws.

    Returns:
        {"energies": (I, samples), "counts": (I,) = samples, "p": (I,) = rate,
        "copies": (I, samples) K of each update}: the form of `kick_energies`, for
        `normtheory.laws.weight_decay.shot_noise_moments`.
    """
    from scipy import stats

    rate = np.asarray(rate, float)
    if rate.ndim != 1 or np.any((rate <= 0) | (rate > 1)) or not np.all(np.isfinite(rate)):
        raise ValueError("rate must be (I,) with every rate in (0, 1]")
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be a positive int, got {batch!r}")
    if not 0 < eta_lam < 2:
        raise ValueError(f"eta_lam must be in (0, 2), got {eta_lam!r}")
    if int(samples) != samples or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    rng = np.random.default_rng(seed)
    pi = slot_probability(rate, batch)[:, None]
    none = stats.binom.pmf(0, batch, pi)
    u = none + (1 - none) * rng.random((rate.size, samples))
    copies = np.maximum(stats.binom.ppf(u, batch, pi), 1).astype(int)
    total = np.zeros(copies.shape)
    for c in range(1, int(copies.max()) + 1):
        draw = model.shape[rng.integers(0, model.shape.size, copies.shape)]
        total += np.where(copies >= c, draw, 0.0)
    scale = model.scale(eta_lam, batch) * pi**model.beta * (1 + model.rho * (copies - 1))
    return {
        "energies": scale * total,
        "counts": np.full(rate.size, samples),
        "p": rate,
        "copies": copies,
    }
