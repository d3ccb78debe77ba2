"""What a run's norms encode: imprint slopes, budget shares, a law check and plots.

Every function takes a `Trajectory` with one leading seed axis, from a named experiment
(`normtheory.run`, `normtheory.simulate`) or from your own model (`normtheory.trace`
with `items=`), and reads only its arrays: the per-item columns (`Trajectory.info`,
and "rate", `Trajectory.rate`), the norms and the exact budget of THEORY.md item 12,

    N_T^2 - N_0^2 = sum over steps of (decay + drift + heat + remainder).

- `imprint_slope`: the slope of log N_T on log of an item column (or of item 8b's
  log(N_T^4 - N_0^4)), per seed and pooled, with a bootstrap interval over items, and
  Spearman's rho with its interval: "does the norm encode frequency?".
- `budget_shares`: the fraction of the net change of N^2 that decay, drift, heat and the
  remainder make, per item and pooled, and the remainder's size relative to all terms:
  "is it decay, drift or heat?". The budget closes by construction (the remainder is
  what the three first-order terms leave); the remainder's size is the informative
  number: it is 0 for a free table and grows with the encoder's curvature over a step.
- `compare_law`: THEORY.md item 6 (accumulation) per item, where the run's regime is
  the law's (plain SGD, no decay, each item moved by its own gradient); refused
  elsewhere with a one-line reason.
- `plot_norms`, `plot_budget`: the norm trajectories coloured by an item column, and
  the cumulative budget, in the package's style; each returns its matplotlib Axes.
- `grid_point`: one point of a trajectory with a grid axis, to analyse it.

Bad input raises `normtheory.ConfigError` with one line naming the problem.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jax
import numpy as np
from scipy import stats

from normtheory import confidence
from normtheory.config import ConfigError
from normtheory.engine import Trajectory

__all__ = [
    "BudgetShares",
    "ImprintSlope",
    "LawComparison",
    "budget_shares",
    "compare_law",
    "grid_point",
    "imprint_slope",
    "item_column",
    "plot_budget",
    "plot_norms",
]

TERMS = ("decay", "drift", "heat", "remainder")
QUANTITIES = ("norm", "quartic_excess")


def grid_point(traj: Trajectory, index: int) -> Trajectory:
    """The run at grid point `index` of a trajectory simulated with a `grid`.

    Args:
        traj: a `Trajectory` whose arrays have leading axes (grid points, seeds).
        index: the grid point, 0 <= index < number of points.

    Returns:
        A `Trajectory` with leading axis (seeds,), `grid` empty and `config` carrying the
        point's values (so `compare_law` reads that point's learning rate).
    """
    if not isinstance(traj, Trajectory):
        raise ConfigError(f"traj: expected a normtheory Trajectory, got {type(traj).__name__}")
    if not traj.grid:
        raise ConfigError("traj has no grid axis: analyse it as it is")
    n = len(next(iter(traj.grid.values())))
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < n:
        raise ConfigError(f"index={index!r}: expected an integer in [0, {n})")
    point = {k: float(v[index]) for k, v in traj.grid.items()}
    shared = {"config", "grid", "step", "items", "rate", "info"}  # no grid axis
    arrays = {
        f.name: jax.tree.map(lambda x: np.asarray(x)[index], getattr(traj, f.name))
        for f in dataclasses.fields(Trajectory)
        if f.name not in shared
    }
    config = traj.config.replace(**point) if traj.config is not None else None
    return dataclasses.replace(traj, **{**arrays, "config": config, "grid": {}})


def _runs(traj: Any) -> Trajectory:
    """`traj` checked to be a Trajectory with arrays (seeds, windows, items)."""
    if not isinstance(traj, Trajectory):
        raise ConfigError(f"traj: expected a normtheory Trajectory, got {type(traj).__name__}")
    if traj.grid or np.ndim(traj.norm) != 3:
        names = ", ".join(traj.grid) or "?"
        raise ConfigError(
            f"traj has a grid axis ({names}); analyse one point: "
            f"normtheory.analysis.grid_point(traj, i)"
        )
    return traj


def item_column(traj: Trajectory, column: str) -> np.ndarray:
    """The per-item column `column` of `traj`: "rate" or a key of `traj.info`.

    Args:
        traj: a Trajectory.
        column: "rate" (the probability that an item is in a batch; for a traced run,
            its items' "rate" or "probability" column) or a key of `traj.info`.

    Returns:
        (I,) float64, finite.
    """
    if not isinstance(column, str):
        raise ConfigError(f"column: expected a column name, got {type(column).__name__}")
    if column == "rate":
        values = np.asarray(traj.rate, np.float64)
    elif column in traj.info:
        values = np.asarray(traj.info[column], np.float64)
    else:
        known = ", ".join(["rate", *traj.info]) or "none"
        raise ConfigError(
            f"no item column {column!r}; this run has: {known} "
            f"(give yours to normtheory.trace(..., items={{{column!r}: ...}}))"
        )
    if values.shape != (len(traj.items),):
        raise ConfigError(
            f"item column {column!r} has shape {values.shape}; expected ({len(traj.items)},)"
        )
    if not np.all(np.isfinite(values)):
        raise ConfigError(
            f"item column {column!r} has non-finite values (a traced run without "
            f"items={{'rate' or 'probability': ...}} has rate NaN)"
        )
    return values


def _positive_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ConfigError(f"level={level!r} must be a number in (0, 1)")
    return float(level)


@dataclasses.dataclass(frozen=True)
class ImprintSlope:
    """How a run's norms follow an item column (see `imprint_slope`).

    column, quantity: what was fitted on what (y = log of the quantity, x = log column).
    slope: pooled least-squares slope (of the seed-mean y on x; the same as the fit of
    all seeds' points together, since every seed has the same x).
    interval: (lo, hi), percentile bootstrap over items (an item's seeds resampled
    together), at `level`.
    per_seed: (S,) each seed's slope; seed_interval: Student-t interval of their mean
    at `level` (NaN with one seed).
    spearman: Spearman's rho of x and the seed-mean y; spearman_interval: its bootstrap
    interval over items. n_items, n_seeds, level: the sizes and the confidence level.
    """

    column: str
    quantity: str
    slope: float
    interval: tuple[float, float]
    per_seed: np.ndarray
    seed_interval: tuple[float, float]
    spearman: float
    spearman_interval: tuple[float, float]
    n_items: int
    n_seeds: int
    level: float

    def __str__(self) -> str:
        lo, hi = self.interval
        rlo, rhi = self.spearman_interval
        what = "log N_T" if self.quantity == "norm" else "log(N_T^4 - N_0^4)"
        return (
            f"slope of {what} on log {self.column}: {self.slope:.3f} "
            f"[{lo:.3f}, {hi:.3f}]; Spearman rho {self.spearman:.3f} [{rlo:.3f}, {rhi:.3f}] "
            f"({self.n_items} items, {self.n_seeds} seeds, {self.level:.0%} intervals)"
        )


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x (`scipy.stats.linregress`; ValueError if x is constant)."""
    return float(stats.linregress(x, y).slope)


def _bootstrap(statistic, x, y, n_boot: int, level: float, seed: int, what: str):
    try:
        return confidence.bootstrap_ci(statistic, x, y, n_boot=n_boot, level=level, seed=seed)
    except ValueError as error:
        raise ConfigError(f"the bootstrap interval of the {what} failed: {error}") from None


def imprint_slope(
    traj: Trajectory,
    column: str,
    *,
    quantity: str = "norm",
    window: int = -1,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> ImprintSlope:
    """The slope of log N_T (or of log(N_T^4 - N_0^4)) on the log of an item column.

    What the laws predict (THEORY.md): with a draw probability pi or a batch rate p as
    the column, plain SGD writes N_T^4 - N_0^4 proportional to pi (item 8b: slope 1 of
    quantity="quartic_excess" on log pi; item 8's slope 1 on log p is refuted, 1.18),
    so log N_T has slope 1/4 only once N_0 is negligible; SGD with L2 decay settles
    at N* proportional to p^(1/4) in the dense limit (item 9: slope 1/4 of log N), and
    between 1/8 and 1/4 for sparse rows (items 9b, 9c: 0.215 measured at the default);
    AdamW's equilibrium is nearly independent of p (item 11: slope near 0).
    quantity="norm" is the default because it is defined for every run: where norms
    shrink (decay, AdamW) N_T^4 - N_0^4 can be negative and has no logarithm.

    Args:
        traj: a Trajectory with leading axis (seeds,) (`grid_point` for a grid).
        column: the item column ("rate" or a key of traj.info), every value > 0.
        quantity: "norm" (log N at the end of `window`) or "quartic_excess"
            (log(N^4 - N_0^4), item 8b's quantity; every value must be > 0).
        window: which recorded window's norms (default the last).
        level: confidence level of the intervals, in (0, 1).
        n_boot: bootstrap resamples (>= 100).
        seed: the bootstrap's random seed.

    Returns:
        An `ImprintSlope` (its str is a one-line summary).
    """
    traj = _runs(traj)
    if quantity not in QUANTITIES:
        raise ConfigError(f"quantity={quantity!r}: expected one of {', '.join(QUANTITIES)}")
    level = _level(level)
    n_boot = _positive_int(n_boot, "n_boot", 100)
    n_windows = traj.norm.shape[1]
    if isinstance(window, bool) or not isinstance(window, numbers.Integral):
        raise ConfigError(f"window={window!r} must be an integer")
    if not -n_windows <= window < n_windows:
        raise ConfigError(f"window={window} is out of range for {n_windows} windows")
    values = item_column(traj, column)
    if np.any(values <= 0):
        raise ConfigError(f"item column {column!r} has values <= 0; its logarithm is undefined")
    x = np.log(values)
    if np.all(x == x[0]):
        raise ConfigError(f"item column {column!r} is constant; a slope on it is undefined")
    norm = np.asarray(traj.norm[:, window, :], np.float64)
    if quantity == "norm":
        target = norm
    else:
        target = norm**4 - np.asarray(traj.norm0, np.float64) ** 4
    if not np.all(np.isfinite(target)) or np.any(target <= 0):
        bad = int(np.sum(~(target > 0)))
        hint = "; use quantity='norm'" if quantity != "norm" else ""
        raise ConfigError(f"{quantity} is not positive and finite for {bad} item-seeds{hint}")
    y = np.log(target)  # (S, I)
    if np.all(y == y.mean()):
        raise ConfigError(f"{quantity} is the same for every item; its correlation is undefined")
    per_seed = np.asarray([_slope(x, row) for row in y])
    mean_y = y.mean(axis=0)
    n_seeds = y.shape[0]
    if n_seeds >= 2:
        spread = stats.sem(per_seed)
        t = stats.t.ppf((1 + level) / 2, n_seeds - 1)
        seed_interval = (float(per_seed.mean() - t * spread), float(per_seed.mean() + t * spread))
    else:
        seed_interval = (math.nan, math.nan)

    def slope_of(xb, yb):
        return _slope(xb, yb.mean(axis=1))

    def rho_of(xb, yb):
        return confidence.spearman(xb, yb.mean(axis=1))

    return ImprintSlope(
        column=column,
        quantity=quantity,
        slope=_slope(x, mean_y),
        interval=_bootstrap(slope_of, x, y.T, n_boot, level, seed, "slope"),
        per_seed=per_seed,
        seed_interval=seed_interval,
        spearman=float(stats.spearmanr(x, mean_y).statistic),
        spearman_interval=_bootstrap(rho_of, x, y.T, n_boot, level, seed, "Spearman rho"),
        n_items=int(x.size),
        n_seeds=int(n_seeds),
        level=level,
    )


@dataclasses.dataclass(frozen=True)
class BudgetShares:
    """Where the net change of N^2 came from (see `budget_shares`).

    totals: term -> (I,) the term summed over windows and seeds, per item.
    net: (I,) N_T^2 - N_0^2 summed over seeds, per item (from the norms).
    shares: term -> (I,) totals / net per item (NaN where net is 0); they add up to 1
    up to rounding. pooled: term -> float, sum over items of the totals / sum of net.
    remainder_size: (I,) sum of |remainder| / sum of (|decay| + |drift| + |heat| +
    |remainder|) over windows and seeds; pooled_remainder_size: the same over all items.
    closure: max |net - sum of the terms| / max N^2, per item: rounding (the budget
    closes by construction).
    """

    totals: dict[str, np.ndarray]
    net: np.ndarray
    shares: dict[str, np.ndarray]
    pooled: dict[str, float]
    remainder_size: np.ndarray
    pooled_remainder_size: float
    closure: float

    def __str__(self) -> str:
        parts = ", ".join(f"{k} {self.pooled[k]:+.3f}" for k in TERMS)
        return (
            f"net change of N^2 {float(self.net.sum()):+.4g} (all items and seeds), "
            f"shares: {parts}; remainder size {self.pooled_remainder_size:.3g} of all |terms|"
        )


def budget_shares(traj: Trajectory) -> BudgetShares:
    """The fractions of the net change of N^2 from decay, drift, heat and the remainder.

    For each item, each term is summed over every window and seed and divided by the net
    change N_T^2 - N_0^2 (summed over seeds); pooled, the sums run over items too. A
    share above 1 or below 0 means the terms cancel: under AdamW at equilibrium decay
    and the growth terms nearly cancel and the net change is small. The remainder's
    share and `remainder_size` say how far the first-order budget is from the truth:
    0 for a free table (to rounding), and for an encoder the second-order change of
    the embedding over a step (curvature times the step squared).

    Args:
        traj: a Trajectory with leading axis (seeds,), traced with its budget.

    Returns:
        A `BudgetShares` (its str is a one-line summary).
    """
    traj = _runs(traj)
    terms = {k: np.asarray(getattr(traj, k), np.float64) for k in TERMS}  # (S, W, I)
    for name, values in terms.items():
        if not np.all(np.isfinite(values)):
            raise ConfigError(
                f"traj.{name} is not finite: the run was made without its budget "
                f"(trace_budget=False) or diverged"
            )
    n2 = np.asarray(traj.norm, np.float64) ** 2
    n2_0 = np.asarray(traj.norm0, np.float64) ** 2
    net = (n2[:, -1, :] - n2_0).sum(axis=0)
    totals = {k: v.sum(axis=(0, 1)) for k, v in terms.items()}
    magnitude = sum(np.abs(v) for v in terms.values())
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = {k: np.where(net != 0, v / net, np.nan) for k, v in totals.items()}
        size = np.abs(terms["remainder"]).sum(axis=(0, 1)) / magnitude.sum(axis=(0, 1))
    pooled_net = float(net.sum())
    pooled = {k: float(v.sum() / pooled_net) if pooled_net else math.nan for k, v in totals.items()}
    steps = np.concatenate([n2_0[:, None], n2], axis=1)
    closure = np.max(np.abs(np.diff(steps, axis=1) - sum(terms.values()))) / np.max(steps)
    return BudgetShares(
        totals=totals,
        net=net,
        shares=shares,
        pooled=pooled,
        remainder_size=size,
        pooled_remainder_size=float(np.abs(terms["remainder"]).sum() / magnitude.sum()),
        closure=float(closure),
    )


@dataclasses.dataclass(frozen=True)
class LawComparison:
    """A law's per-item prediction against the run (see `compare_law`).

    law: its name and THEORY.md item. predicted, measured, rel_error: (S, I) N_T^4 by the
    law, by the run, and |measured - predicted| / measured. tolerance: the declared
    accuracy. within: fraction of (item, seed) pairs within it; verdict "holds" when at
    least `hold_fraction` are, else "fails".
    """

    law: str
    predicted: np.ndarray
    measured: np.ndarray
    rel_error: np.ndarray
    tolerance: float
    within: float
    hold_fraction: float
    verdict: str

    def __str__(self) -> str:
        return (
            f"{self.law}: {self.verdict}; {self.within:.0%} of item-seeds within "
            f"{self.tolerance:g} (median error {np.median(self.rel_error):.3g})"
        )


def compare_law(
    traj: Trajectory,
    *,
    lr: float | None = None,
    tolerance: float = 0.01,
    hold_fraction: float = 0.9,
) -> LawComparison:
    """THEORY.md item 6, accumulation: N_T^4 ~= N_0^4 + 2 eta^2 sum_t G_t^2, per item.

    The law's regime is plain SGD at a constant learning rate eta with no weight
    decay, each item's embedding moved by its own loss gradient only (a free table's
    row), so that every step changes N^2 by exactly its heat (items 1 and 4). The run's
    own budget is the test: a run whose decay is not 0, or whose drift or remainder is
    more than rounding next to the heat (momentum, Adam, decay, a shared encoder) is
    refused with that reason; so is a named experiment whose optimizer is not plain
    SGD without decay. A traced run does not record its optimizer: give `lr`.

    Args:
        traj: a Trajectory with leading axis (seeds,), with its budget and g2 (a traced
            run needs `Model.own_rows`).
        lr: eta; for a named experiment read from its config (a given value must agree).
        tolerance: the declared relative accuracy of N_T^4 (item 6: 1%).
        hold_fraction: the fraction of item-seeds that must be within it (item 6: 0.9).

    Returns:
        A `LawComparison`.
    """
    traj = _runs(traj)
    config = traj.config
    if config is not None:
        if config.optimizer != "sgd" or config.weight_decay != 0:
            raise ConfigError(
                f"item 6 needs plain SGD without decay; this run is "
                f"optimizer={config.optimizer!r}, weight_decay={config.weight_decay}"
            )
        if lr is not None and not math.isclose(lr, config.lr, rel_tol=1e-12):
            raise ConfigError(f"lr={lr!r} contradicts the run's config (lr={config.lr})")
        lr = config.lr
    if lr is None:
        raise ConfigError("a traced run does not record its optimizer: pass lr= (plain SGD's eta)")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ConfigError(f"lr={lr!r} must be a number > 0")
    for name, value, low, high in (
        ("tolerance", tolerance, 0, math.inf),
        ("hold_fraction", hold_fraction, 0, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f"{name}={value!r} must be a number")
        if not (low < value <= high):
            raise ConfigError(f"{name}={value!r} must be in ({low}, {high}]")
    g2 = np.asarray(traj.g2, np.float64)
    if not np.all(np.isfinite(g2)):
        raise ConfigError("traj.g2 is not finite: trace with Model.own_rows to record G^2")
    terms = {k: np.abs(np.asarray(getattr(traj, k), np.float64)).sum() for k in TERMS}
    if not all(math.isfinite(v) for v in terms.values()):
        raise ConfigError("the run has no finite budget (trace_budget=False or diverged)")
    rounding = 1e-8 if traj.norm.dtype == np.float64 else 1e-4
    heat = max(terms["heat"], 1e-300)
    for name in ("decay", "drift", "remainder"):
        if terms[name] > rounding * heat:
            raise ConfigError(
                f"item 6 does not apply: |{name}| is {terms[name] / heat:.2g} of the heat "
                f"(it needs each item moved by its own gradient under plain SGD: no "
                f"momentum, Adam, decay or shared encoder)"
            )
    n0 = np.asarray(traj.norm0, np.float64)
    measured = np.asarray(traj.norm[:, -1, :], np.float64) ** 4
    predicted = n0**4 + 2 * float(lr) ** 2 * g2.sum(axis=1)
    rel_error = np.abs(measured - predicted) / measured
    within = float(np.mean(rel_error <= tolerance))
    return LawComparison(
        law="accumulation (THEORY.md item 6)",
        predicted=predicted,
        measured=measured,
        rel_error=rel_error,
        tolerance=float(tolerance),
        within=within,
        hold_fraction=float(hold_fraction),
        verdict="holds" if within >= hold_fraction else "fails",
    )


@contextlib.contextmanager
def _style() -> Iterator[None]:
    """The package's style sheet (normtheory.mplstyle), leaving the backend alone."""
    import matplotlib.pyplot as plt

    sheet = resources.files("normtheory").joinpath("normtheory.mplstyle")
    with resources.as_file(sheet) as path, plt.style.context(["default", str(path)]):
        yield


def plot_norms(traj: Trajectory, ax=None, color_by: str | None = None):
    """The norm of every tracked item against the step, averaged over seeds.

    Args:
        traj: a Trajectory with leading axis (seeds,).
        ax: a matplotlib Axes to draw on (None: a new figure in the package's style).
        color_by: an item column (see `item_column`); lines are coloured by its log10
            (values > 0) with a colour bar; None: one colour.

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    traj = _runs(traj)
    colors = None
    if color_by is not None:
        values = item_column(traj, color_by)
        if np.any(values <= 0):
            raise ConfigError(f"color_by={color_by!r} has values <= 0; colours use its log")
        colors = np.log10(values)
    with _style():
        if ax is None:
            _, ax = plt.subplots()
        step = np.concatenate([[0], np.asarray(traj.step)])
        norms = np.concatenate(
            [np.asarray(traj.norm0)[:, None], np.asarray(traj.norm)], axis=1
        ).mean(axis=0)
        cmap = plt.get_cmap("viridis")
        low, high = (0.0, 1.0) if colors is None else (colors.min(), colors.max())
        span = high - low or 1.0
        for i in range(norms.shape[1]):
            color = "C0" if colors is None else cmap((colors[i] - low) / span)
            ax.plot(step, norms[:, i], color=color, lw=0.8, alpha=0.8)
        if colors is not None:
            mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(low, high))
            ax.figure.colorbar(mappable, ax=ax, label=f"log10 {color_by}")
        ax.set_xlabel("step")
        ax.set_ylabel(r"$\|z\|$ (mean over seeds)")
    return ax


def plot_budget(traj: Trajectory, ax=None):
    """The cumulative budget of N^2, summed over items and averaged over seeds.

    One line per term (decay, drift, heat, remainder) and the net change N^2 - N_0^2
    (dashed), which their sum equals.

    Args:
        traj: a Trajectory with leading axis (seeds,), traced with its budget.
        ax: a matplotlib Axes (None: a new figure in the package's style).

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    budget_shares(traj)  # validates the trajectory and its budget
    with _style():
        if ax is None:
            _, ax = plt.subplots()
        step = np.concatenate([[0], np.asarray(traj.step)])
        for name in TERMS:
            per_window = np.asarray(getattr(traj, name), np.float64).sum(axis=2).mean(axis=0)
            ax.plot(step, np.concatenate([[0], np.cumsum(per_window)]), label=name)
        n2 = np.asarray(traj.norm, np.float64) ** 2
        net = (n2 - np.asarray(traj.norm0, np.float64)[:, None] ** 2).sum(axis=2).mean(axis=0)
        ax.plot(step, np.concatenate([[0], net]), "k--", label=r"net $N^2 - N_0^2$")
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_xlabel("step")
        ax.set_ylabel(r"cumulative change of $\sum_i N_i^2$")
        ax.legend()
    return ax
