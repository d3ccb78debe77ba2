"""Shared helpers of the verification modules: runs, regimes, traces, equilibria.

Every check is `check(config, overridden) -> list[Result]`: `config` is the check's base
configuration with the user's `--set` values applied, and `overridden` names the fields
the user set. A check that runs several rows (regimes) applies a row's own settings only
to the fields the user did not set (`row_config`), so the user's regime always wins and
the regime reported is the one run.

Relaxation criterion of the equilibrium checks (`relaxation`): an item is relaxed when
(a) the first half of the run spans at least RELAXATION_TIMES relaxation times
(`relaxation_time`), and (b) the means of its equilibrium quantity over the third and
the fourth quarter of the run differ, relative to the second-half mean, by no more than
its tolerance plus three standard errors of that difference. A check judges only
relaxed items and reports "not relaxed" when fewer than HOLD_FRACTION of them are.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import cache, losses
from normtheory.config import ConfigError, SimConfig
from normtheory.engine import Trajectory, replay_inputs
from normtheory.runs import run
from normtheory.verify._record import (
    HOLD_FRACTION,
    FractionVerdict,
    Result,
    capped,
    fraction_verdict,
    judge,
)

RELAXATION_TIMES = 3.0
# The code behind verify's cached arrays and records: its own modules, and every law,
# since checks look laws up by name (`normtheory.laws.get`), which imports follow not.
CODE_ROOTS = ("verify", "laws")
# A calibration run's seeds start this far above the judged run's first seed (or as far
# below, near 2**32), so a prediction never sees the run it judges.
CALIBRATION_OFFSET = 10_007


def code_identity() -> str:
    """The code identity of verify's cached arrays and of the records it writes
    (`normtheory.cache.code_identity` over `CODE_ROOTS`)."""
    return cache.code_identity(*CODE_ROOTS)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Where a check's prediction takes its measured inputs: `seeds` runs of `config`
    (seeds config.seed, config.seed + 1, ...), of which `measured` says what is used.
    A prediction from the configuration alone has seeds 0 and config None."""

    config: SimConfig | None
    seeds: int
    measured: str

    def seed_list(self) -> list[int]:
        if self.config is None:
            return []
        return list(range(self.config.seed, self.config.seed + self.seeds))

    def to_json(self) -> dict[str, Any]:
        """The record's `calibration` field: seeds, regime (or None) and what was measured."""
        return {
            "seeds": self.seed_list(),
            "regime": None if self.config is None else dataclasses.asdict(self.config),
            "measured": self.measured,
        }


def from_configuration(what: str) -> dict[str, Any]:
    """The `calibration` field of a prediction that uses the configuration only."""
    return Calibration(None, 0, f"nothing: the prediction uses {what} only").to_json()


def check_independent(calibration: Calibration, judged: SimConfig, judged_seeds: int) -> None:
    """Refuse a calibration that shares a seed (and so a run) with the judged run."""
    judged_list = set(range(judged.seed, judged.seed + judged_seeds))
    shared = sorted(judged_list.intersection(calibration.seed_list()))
    if shared:
        raise ValueError(
            f"calibration seeds {shared} are the judged run's: a prediction must not see "
            "the run it judges"
        )


def calibration_run(config: SimConfig, judged_seeds: int, seeds: int, measured: str) -> Calibration:
    """A calibration of `config` on `seeds` seeds disjoint from the judged run's
    (`judged_seeds` seeds from config.seed), checked by `check_independent`."""
    first = config.seed + CALIBRATION_OFFSET
    if first + seeds > 2**32:
        first = config.seed - CALIBRATION_OFFSET
    calibration = Calibration(config.replace(seed=first), seeds, measured)
    check_independent(calibration, config, judged_seeds)
    return calibration


def simulate_cached(config: SimConfig, seeds: int, trace_split: bool = False) -> Trajectory:
    """Run through the results cache, quietly (`trace_split`: the kernel split for encoders)."""
    traj, _, _ = run(config, seeds, progress=False, trace_split=trace_split)
    return traj


def cached(
    name: str,
    config: SimConfig,
    compute: Callable[[], dict],
    inputs: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Arrays of a computation other than `simulate` (an independent loop), cached like runs.

    `inputs` (JSON-ready) are values the computation takes besides the config, such as a
    law's numbers: they enter the key, so a different law never reuses the arrays.
    """
    spec = {"computation": name, "config": dataclasses.asdict(config)}
    if inputs:
        spec["inputs"] = dict(inputs)
    return cache.cached_arrays(spec, compute, *CODE_ROOTS)


def norms_before(traj: Trajectory) -> np.ndarray:
    """Norm at the start of each window: (..., W, I), the first from norm0."""
    return np.concatenate([traj.norm0[..., None, :], traj.norm[..., :-1, :]], axis=-2)


def replay_refusal(config: SimConfig) -> str:
    """Why a check built on `engine.replay_inputs` cannot run `config` ("" when it can).

    The replayed inputs (initial table, batch ids, view noise) exist for the frequency data
    on a free table; other data or models draw their batches differently.
    """
    if config.data != "frequency" or config.model != "table":
        return (
            "this check replays a frequency/table run's own inputs (engine.replay_inputs); "
            f"data={config.data}, model={config.model} has no replay"
        )
    return ""


def first_batch(config: SimConfig) -> tuple[jax.Array, jax.Array]:
    """(anchors, positives) of the run's first batch, built from replay_inputs."""
    table, ids, noise = replay_inputs(config.replace(steps=config.stride))
    anchors = jnp.asarray(table[ids[0]])
    u = anchors / jnp.linalg.norm(anchors, axis=-1, keepdims=True)
    views = u + config.view_noise * jnp.asarray(noise[0])
    return anchors, views / jnp.linalg.norm(views, axis=-1, keepdims=True)


def pair_loss(config: SimConfig):
    return losses.symmetric_infonce if config.loss == "symmetric" else losses.batch_infonce


def is_plain_sgd(config: SimConfig) -> bool:
    return config.optimizer == "sgd" and config.weight_decay == 0


def fit_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error (`scipy.stats.linregress`).

    The one slope fitter of the package: the verification checks and the figures use it.
    With two points the standard error is 0 (a line through two points fits exactly).
    """
    from scipy import stats

    fit = stats.linregress(np.asarray(x, float), np.asarray(y, float))
    return float(fit.slope), float(fit.stderr)


def row_config(
    config: SimConfig, changes: Mapping[str, Any], overridden: Iterable[str]
) -> tuple[SimConfig, list[str]]:
    """`config` with a row's `changes`, except the fields in `overridden` (the user's win).

    Returns the config and the names of the row settings the user's values replaced.
    """
    overridden = set(overridden)
    kept = {k: v for k, v in changes.items() if k not in overridden}
    return config.replace(**kept), sorted(set(changes) & overridden)


def row_refusal(config: SimConfig, changes: Mapping[str, Any], overridden: Iterable[str]) -> str:
    """Why a row's `changes` cannot apply beside the user's settings ("" when they can):
    the combination is not a valid config (the user's --set loss=one_sided beside a row of
    a data family that has no such loss, say). Such a row is reported as not applicable."""
    try:
        row_config(config, changes, overridden)
    except ConfigError as error:
        return f"this row's regime cannot take the settings given: {error}"
    return ""


def not_applicable(law: str, item: int, config: SimConfig, quantity: str, reason: str) -> Result:
    """The record of a check refusing a regime its law does not model (`reason`: one line)."""
    return Result(
        law=law,
        item=item,
        config=config,
        quantity=quantity,
        predicted=math.nan,
        measured=math.nan,
        spread=math.nan,
        rel_error=math.nan,
        tolerance=math.nan,
        basis="no law for this regime",
        verdict="not applicable",
        note=reason,
    )


def relaxation_time(config: SimConfig) -> float:
    """Steps in which the decay alone shrinks N^2 by a factor e.

    1 / (2 eta lam) under SGD + L2 and AdamW; (1 - momentum) / (2 eta lam) under heavy
    ball and Nesterov, whose velocity carries the decay 1 / (1 - momentum) times; infinite
    without decay and under Adam + L2 (its decay passes through the preconditioner).
    """
    if config.weight_decay == 0 or config.optimizer == "adam":
        return math.inf
    tau = 1 / (2 * config.eta_lam)
    if config.optimizer in ("momentum", "nesterov"):
        tau *= 1 - config.momentum
    return tau


def second_half(values: np.ndarray) -> np.ndarray:
    """The windows of the second half of the run: values (..., W, I) -> (..., W - W // 2, I)."""
    return values[..., values.shape[-2] // 2 :, :]


@dataclasses.dataclass(frozen=True)
class HalfStats:
    """Per-item statistics of a quantity over the second half of a run, over seeds.

    mean (I,); sem (I,): standard error of `mean` relative to it, by batch means over
    blocks of about one relaxation time (at least 2 blocks per seed), so both noise that
    decorrelates within a step and the slow wandering of a norm are counted right;
    cv2 (I,): squared relative spread over windows and seeds (the Jensen bias of a
    mean-field law is of this order); drift (I,): |mean over the fourth quarter - mean
    over the third| / mean.
    """

    mean: np.ndarray
    sem: np.ndarray
    cv2: np.ndarray
    drift: np.ndarray


def half_stats(config: SimConfig, values: np.ndarray) -> HalfStats:
    """HalfStats of values (S, W, I) recorded every `config.stride` steps."""
    half = second_half(values)
    windows = half.shape[-2]
    mean = half.mean(axis=(0, 1))
    scale = np.abs(mean)
    tau = relaxation_time(config)
    blocks = windows if not math.isfinite(tau) else int(windows * config.stride // tau)
    blocks = min(max(blocks, 2), windows)
    block_means = np.stack([b.mean(axis=1) for b in np.array_split(half, blocks, axis=1)], 1)
    n_blocks = block_means.shape[0] * block_means.shape[1]
    block_sd = block_means.reshape(n_blocks, -1).std(axis=0, ddof=1) if n_blocks > 1 else 0 * mean
    quarter = windows // 2
    q3 = half[:, :quarter].mean(axis=(0, 1))
    q4 = half[:, quarter:].mean(axis=(0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return HalfStats(
            mean=mean,
            sem=block_sd / np.sqrt(n_blocks) / scale,
            cv2=(half.std(axis=(0, 1)) / scale) ** 2,
            drift=np.abs(q4 - q3) / scale,
        )


@dataclasses.dataclass(frozen=True)
class Relaxation:
    """Outcome of the relaxation criterion (module docstring) for one run."""

    times: float  # relaxation times spanned by the first half of the run
    items: np.ndarray  # (I,) bool: relaxed items

    @property
    def fraction(self) -> float:
        return float(self.items.mean()) if self.items.size else math.nan

    @property
    def ok(self) -> bool:
        return self.fraction >= HOLD_FRACTION

    def describe(self) -> str:
        times = f"{self.times:.3g}" if math.isfinite(self.times) else "0"
        return (
            f"{int(self.items.sum())} of {self.items.size} items relaxed (first half spans "
            f"{times} relaxation times; >= {RELAXATION_TIMES:g} needed)"
        )


def relaxation(config: SimConfig, stats: HalfStats, tolerance: np.ndarray) -> Relaxation:
    """The relaxation criterion for a quantity with HalfStats `stats` and tolerance (I,)."""
    tau = relaxation_time(config)
    times = 0.0 if not math.isfinite(tau) else config.steps / 2 / tau
    # The quarter means' difference has about twice the standard error of the half mean.
    steady = stats.drift <= tolerance + 3 * 2 * stats.sem
    items = steady & (times >= RELAXATION_TIMES)
    return Relaxation(times=times, items=np.asarray(items, bool))


def judge_items(
    ok: np.ndarray, relaxed: Relaxation | None = None, frequent: np.ndarray | None = None
) -> FractionVerdict:
    """The per-item rule on `ok` over the relaxed items; "not relaxed" when too few are."""
    if relaxed is not None and not relaxed.ok:
        verdict = fraction_verdict(ok)
        return dataclasses.replace(verdict, verdict="not relaxed", note=relaxed.describe())
    keep = np.ones(len(ok), bool) if relaxed is None else relaxed.items
    verdict = fraction_verdict(ok[keep], None if frequent is None else frequent[keep])
    if relaxed is not None and not relaxed.items.all():
        verdict = dataclasses.replace(verdict, note=f"{verdict.note}; {relaxed.describe()}")
    return verdict


def slope_result(
    law: str,
    item: int,
    config: SimConfig,
    quantity: str,
    measured: tuple[float, float],
    predicted: float,
    note: str,
    relaxed: float | None = None,
) -> Result:
    """The record of a fitted slope `measured` = (slope, standard error) against a law's
    slope `predicted`: relative error, judged at two standard errors (capped at 0.5);
    "not relaxed" when `relaxed` (the fraction of relaxed items) is below HOLD_FRACTION.
    """
    slope, se = measured
    err = abs(slope - predicted) / abs(predicted)
    tol = float(capped(2 * se / abs(predicted)))
    settled = relaxed is None or relaxed >= HOLD_FRACTION
    return Result(
        law=law,
        item=item,
        config=config,
        quantity=quantity,
        predicted=float(predicted),
        measured=float(slope),
        spread=float(se),
        rel_error=float(err),
        tolerance=tol,
        basis="two standard errors of the fitted slope, at most 0.5 of the predicted",
        verdict=judge(err, tol) if settled else "not relaxed",
        relaxed=math.nan if relaxed is None else float(relaxed),
        note=note,
    )
