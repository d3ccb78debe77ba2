"""SGD with coupled L2 weight decay: recurrence, equilibria, angle (THEORY.md item 9).

Each equilibrium is the positive fixed point of a scalar recurrence that SymPy solves;
the recurrence itself is attached to the law (`Law.recurrence`) so that the closed
form can be compared with the limit of iterating it.

- Plain SGD + L2: z' = (1 - eta lam) z - eta g. Exact per-step (g tangent).
- Sparse updates: decay every step, gradient in a fraction p of steps; mean-field
  recurrence (expected increment), so N* is proportional to p^(1/4).
- Heavy-ball momentum alpha (optax.sgd(momentum=alpha) after add_decayed_weights):
  v' = alpha v + g + lam z, z' = z - eta v'. The state (|z|^2, |v|^2, z.v) closes under
  the random-walk assumption E[g . v] = 0 (the fresh gradient is uncorrelated with the
  velocity), as in Wan et al., "Spherical Motion Dynamics", NeurIPS 2021.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._law import MOMENTUM, RATE, Check, Law, Relation, ScalarRecurrence, scalar_law
from normtheory.laws.gd_step import step_norm_squared

n = sp.Symbol("n", positive=True)  # N^2, the recurrence state
m = sp.Symbol("m", nonnegative=True)  # |v|^2
cv = sp.Symbol("cv", real=True)  # z . v

REFERENCE = (
    "van Laarhoven, 'L2 regularization versus batch and weight normalization', 2017; "
    "Wan et al., 'Spherical Motion Dynamics', NeurIPS 2021; THEORY.md item 9."
)
CONTRACTS = Relation(s.eta * s.lam < 2, "eta * lam must be < 2 for the decay to contract")


def _positive_root(equation: sp.Expr, unknown: sp.Symbol) -> sp.Expr:
    """The root that is positive in the admissible region (probed at parameters = 1/5)."""

    def positive_at_probe(root: sp.Expr) -> bool:
        probe = {sym: sp.Rational(1, 5) for sym in root.free_symbols}
        value = complex(root.xreplace(probe).evalf())
        return abs(value.imag) < 1e-12 and value.real > 0

    roots = [r for r in sp.solve(equation, unknown) if positive_at_probe(r)]
    if len(roots) != 1:
        raise RuntimeError(f"expected one positive root of {equation}, got {roots}")
    return sp.simplify(roots[0])


@functools.cache
def sgd_decay_recurrence(rate: sp.Expr = sp.S.One) -> ScalarRecurrence:
    """n' = (1 - eta lam)^2 n + rate * eta^2 G^2 / n (rate = p for sparse updates)."""
    _, squared = step_norm_squared(decay=s.lam)
    # The gradient term arrives with probability `rate`; the decay every step.
    decay_only = squared.xreplace({s.G2: 0})
    update = decay_only + rate * (squared - decay_only)
    return ScalarRecurrence(
        state=(n,),
        update=(sp.expand(update.xreplace({s.N: sp.sqrt(n)})),),
        params=(s.eta, s.lam, s.G2) + ((rate,) if rate != 1 else ()),
    )


def sgd_decay_step() -> Law:
    _, rhs = step_norm_squared(decay=s.lam)
    return scalar_law(
        name="sgd_decay_step",
        item=9,
        title="SGD + L2 step: N'^2 = (1 - eta lam)^2 N^2 + eta^2 G^2 / N^2",
        lhs=s.N_next**2,
        rhs=rhs,
        params=(s.N, s.eta, s.lam, s.G2),
        exact=True,
        assumptions="Coupled L2 decay, z' = (1 - eta lam) z - eta g, g tangent to z.",
        reference=REFERENCE,
        checks=(
            Check(
                "law equals (1 - eta lam)^2 N^2 + eta^2 G^2 / N^2",
                rhs - ((1 - s.eta * s.lam) ** 2 * s.N**2 + s.eta**2 * s.G2 / s.N**2),
            ),
        ),
    )


def _equilibrium_law(name: str, title: str, rate: sp.Expr, assumptions: str) -> Law:
    rec = sgd_decay_recurrence(rate)
    n_star = _positive_root(rec.update[0] - n, n)
    rhs = sp.factor(sp.simplify(n_star**2))
    leading = rate * s.eta * s.G2 / (2 * s.lam)
    params = (s.eta, s.lam, s.G2) + ((rate,) if rate != 1 else ())
    return scalar_law(
        name=name,
        item=9,
        title=title,
        lhs=sp.Symbol("N_*") ** 4,
        rhs=rhs,
        params=params,
        exact=True,
        assumptions=assumptions,
        reference=REFERENCE,
        checks=(
            Check("fixed point of the recurrence", rec.fixed_point_residual({n: sp.sqrt(rhs)})[0]),
            Check(
                f"leading order {sp.sstr(leading)}",
                rhs - leading,
                kind="leading_order",
                small=s.eta,
                order=2,
            ),
        ),
        bounds={"p": RATE},
        relations=(CONTRACTS,),
        recurrence=rec,
    )


def sgd_decay_equilibrium() -> Law:
    return _equilibrium_law(
        "sgd_decay_equilibrium",
        "SGD + L2 equilibrium: N*^4 = eta G^2 / (lam (2 - eta lam)) ~= eta G^2 / (2 lam)",
        sp.Integer(1),
        "Coupled L2 decay, every step carries a tangent gradient of energy G^2 (constant "
        "at equilibrium); exact fixed point of the one-step recurrence.",
    )


def sparse_decay_equilibrium() -> Law:
    return _equilibrium_law(
        "sparse_decay_equilibrium",
        "sparse updates at rate p: N*^4 = p eta G^2 / (lam (2 - eta lam)), N* ~ p^(1/4)",
        s.p,
        "Decay applied every step (dense optax decay), gradient in a fraction p of steps; "
        "fixed point of the mean-field (expected) recurrence.",
    )


y = sp.Symbol("y", positive=True)  # N^4, the quartic recurrence state


@functools.cache
def sparse_quartic_recurrence() -> ScalarRecurrence:
    """Mean-field recurrence of y = N^4 under sparse SGD + L2 (decay every step).

    Squaring the exact step N'^2 = a^2 N^2 + eta^2 G^2 / N^2 (a = 1 - eta lam) gives
    N'^4 = a^4 N^4 + 2 a^2 eta^2 G^2 + eta^4 G^4 / N^4 on a step with a gradient (rate p)
    and N'^4 = a^4 N^4 on a step without; the expectation, closed by E[1/N^4] ~= 1/E[N^4],
    keeps the kick term eta^4 G^4 / N^4 that the recurrence of N^2 averages away.
    """
    a = 1 - s.eta * s.lam
    kick = 2 * a**2 * s.eta**2 * s.G2 + s.eta**4 * s.G2**2 / y
    return ScalarRecurrence(
        state=(y,),
        update=(sp.expand(a**4 * y + s.p * kick),),
        params=(s.eta, s.lam, s.G2, s.p),
    )


def sparse_decay_equilibrium_quartic() -> Law:
    """Item 9b: the sparse equilibrium with the discrete-kick term (corrects item 9's p^(1/4))."""
    rec = sparse_quartic_recurrence()
    a2 = (1 - s.eta * s.lam) ** 2
    c = s.eta**2 * s.G2
    rhs = c * (s.p * a2 + sp.sqrt(s.p**2 * a2**2 + s.p * (1 - a2**2))) / (1 - a2**2)
    dense = sp.simplify(sgd_decay_recurrence(sp.S.One).update[0])
    dense_y = _positive_root(dense - n, n) ** 2
    return scalar_law(
        name="sparse_decay_equilibrium_quartic",
        item=9,
        title="sparse updates, kick term kept: N*^4 = eta^2 G^2 (p a^2 + sqrt(p^2 a^4 + "
        "p (1 - a^4))) / (1 - a^4), a = 1 - eta lam",
        lhs=sp.Symbol("N_*") ** 4,
        rhs=rhs,
        params=(s.eta, s.lam, s.G2, s.p),
        exact=False,
        assumptions="Decay every step, a tangent gradient of energy G^2 in a fraction p of "
        "steps (one kick per drawn step); stationary mean of N^4, with E[1/N^4] closed by "
        "1/E[N^4]. Between the dense limit (p a^4 >> 1 - a^4: N* ~ p^(1/4), item 9) and "
        "the rare limit (p << 1 - a^4 ~= 4 eta lam: N* ~ p^(1/8)), the local slope of "
        "log N* on log p falls from 1/4 to 1/8 as the relative kick ~ 2 eta lam / p grows.",
        reference=REFERENCE,
        checks=(
            Check("fixed point of the quartic recurrence", rec.fixed_point_residual({y: rhs})[0]),
            Check("p = 1 is the dense SGD + L2 equilibrium", rhs.xreplace({s.p: 1}) - dense_y),
            Check(
                "leading order p eta G^2 / (2 lam)",
                rhs - s.p * s.eta * s.G2 / (2 * s.lam),
                kind="leading_order",
                small=s.eta,
                order=2,
            ),
        ),
        bounds={"p": RATE},
        relations=(CONTRACTS,),
        recurrence=rec,
    )


M1 = sp.Symbol("m1", nonnegative=True)  # E[G^2] per update
M2 = sp.Symbol("m2", nonnegative=True)  # E[G^4] per update
W = sp.Symbol("w", positive=True)  # stationary E[1 / N^4]


def sparse_decay_shot_noise() -> Law:
    """Item 9c: the sparse equilibrium as the stationary mean of the exact shot-noise step.

    The exact step of a free-table row under SGD + L2 is N'^2 = a^2 N^2 + eta^2 G^2 / N^2
    on a step with an update (a = 1 - eta lam), a^2 N^2 without (item 9's recurrence).
    Squared and averaged over a stationary state whose updates arrive at rate p with
    energies G^2 drawn independently of the state, it gives, with no closure,
    E[N^4] = p eta^2 (2 a^2 E[G^2] + eta^2 E[G^4] E[1/N^4]) / (1 - a^4).
    Item 9b is this identity closed by E[1/N^4] = 1/E[N^4] and E[G^4] = E[G^2]^2; the
    per-update energies are heavy-tailed (E[G^4] / E[G^2]^2 from 1.5 to 30, median 5.8,
    in the default verify regime) and a rare row's N^4 swings widely between
    kicks, so neither closure holds there. E[1/N^4] is evaluated by running the chain
    itself (`shot_noise_moments`) with the item's measured energies.
    """
    a2 = (1 - s.eta * s.lam) ** 2
    rhs = s.p * s.eta**2 * (2 * a2 * M1 + s.eta**2 * M2 * W) / (1 - a2**2)
    y_star = sp.Symbol("N_*") ** 4
    # E[y'] = a^4 E[y] + p (2 a^2 eta^2 E[G^2] + eta^4 E[G^4] E[1/y]): the squared exact
    # step, averaged with the kick independent of the state.
    _, squared = step_norm_squared(decay=s.lam)
    kicked = sp.expand(squared**2)
    quiet = sp.expand(squared.xreplace({s.G2: 0}) ** 2)
    # (kicked - quiet) = 2 a^2 eta^2 G^2 + eta^4 G^4 / N^4, averaged over a kick drawn
    # independently of the state: G^4 -> E[G^4], G^2 -> E[G^2], 1/N^4 -> E[1/N^4] = w.
    kick = sp.expand((kicked - quiet).xreplace({s.N: W ** sp.Rational(-1, 4)}))
    kick_mean = kick.xreplace({s.G2**2: M2}).xreplace({s.G2: M1})
    stationary = quiet.xreplace({s.N: y_star ** sp.Rational(1, 4)}) + s.p * kick_mean - y_star
    quartic = sparse_decay_equilibrium_quartic()
    return scalar_law(
        name="sparse_decay_shot_noise",
        item=9,
        title="sparse updates, no closure: N*^4 = p eta^2 (2 a^2 E[G^2] + eta^2 E[G^4] "
        "E[1/N^4]) / (1 - a^4), a = 1 - eta lam",
        lhs=y_star,
        rhs=rhs,
        params=(s.eta, s.lam, s.p, M1, M2, W),
        exact=False,
        assumptions="SGD + L2 on a free-table row (exact tangent step); updates at rate p "
        "with energies G^2 independent of the row's current norm (measured: no "
        "correlation between an update's G^2 and N for rare rows); stationary state. "
        "E[1/N^4] from the chain driven by the item's own energy distribution.",
        reference=REFERENCE,
        checks=(
            Check(
                "stationarity of the squared exact step",
                sp.solve(stationary, y_star)[0] - rhs,
            ),
            Check(
                "item 9b is the closure w = 1/N*^4, E[G^4] = E[G^2]^2",
                rhs.xreplace({M2: s.G2**2, M1: s.G2, W: 1 / quartic.rhs}) - quartic.rhs,
            ),
        ),
        bounds={"p": RATE},
        relations=(CONTRACTS,),
        latex_names={M1: r"\mathbb{E}[G^{2}]", M2: r"\mathbb{E}[G^{4}]", W: r"\mathbb{E}[N^{-4}]"},
    )


def shot_noise_moments(
    energies: np.ndarray,
    counts: np.ndarray,
    rate: np.ndarray,
    eta: float,
    lam: float,
    *,
    seed: int = 0,
    steps: int = 100_000,
    burn_in: int = 5_000,
) -> dict[str, np.ndarray]:
    """Stationary moments of the exact per-row chain of item 9c, one chain per item.

    Runs N'^2 = a^2 N^2 + k eta^2 G^2 / N^2 (a = 1 - eta lam; k ~ Bernoulli(rate); G^2
    drawn uniformly from the item's own measured per-update energies) for `steps` steps
    after `burn_in`, all items at once. A NumPy loop: the chain is a scalar map per item
    with no gradient, and a step costs a few vector operations, which a compiled
    `lax.scan` on CPU pays more for in per-iteration overhead than NumPy does.

    Args:
        energies: (I, K) per-update energies G^2 of each item, padded past `counts`.
        counts: (I,) number of valid energies of each item (>= 1).
        rate: (I,) probability of an update per step.
        eta, lam: learning rate and weight decay.
        seed: seed of the chain's random numbers (the result is deterministic given it).
        steps, burn_in: steps averaged over, and steps discarded first.

    Returns:
        {"n4": E[N^4], "inv_n4": E[1/N^4], "n4_sem": relative standard error of E[N^4]
        from 50 batch means}, each (I,).
    """
    energies = np.asarray(energies, float)
    counts = np.asarray(counts)
    rate = np.asarray(rate, float)
    if energies.ndim != 2 or {counts.shape, rate.shape} != {(energies.shape[0],)}:
        raise ValueError("energies must be (I, K) with counts and rate (I,)")
    if np.any(counts < 1) or np.any(counts > energies.shape[1]):
        raise ValueError("every item needs between 1 and K energies (counts)")
    rng = np.random.default_rng(seed)
    a2 = (1 - eta * lam) ** 2
    rows = np.arange(len(counts))
    valid = np.arange(energies.shape[1]) < counts[:, None]
    m1 = np.where(valid, energies, 0).sum(1) / counts
    # Start at the mean-field point (item 9); the burn-in removes the start.
    x = np.sqrt(rate * eta * m1 / (lam * (2 - eta * lam)))
    batches, chunk = 50, 1000
    per_batch = max(1, steps // batches)
    sums = np.zeros((batches, 2, len(counts)))

    def advance(x, length, out):
        for start in range(0, length, chunk):
            size = min(chunk, length - start)
            drawn = rng.random((size, len(counts))) < rate
            pick = (rng.random((size, len(counts))) * counts).astype(int)
            kicks = np.where(drawn, eta**2 * energies[rows, pick], 0.0)
            for kick in kicks:
                x = a2 * x + kick / x
                if out is not None:
                    y = x * x
                    out[0] += y
                    out[1] += 1 / y
        return x

    x = advance(x, burn_in, None)
    for b in range(batches):
        x = advance(x, per_batch, sums[b])
    means = sums / per_batch
    n4 = means[:, 0].mean(0)
    return {
        "n4": n4,
        "inv_n4": means[:, 1].mean(0),
        "n4_sem": means[:, 0].std(0, ddof=1) / np.sqrt(batches) / n4,
    }


@functools.cache
def momentum_recurrence() -> ScalarRecurrence:
    """State (n, m, cv) = (|z|^2, |v|^2, z.v) of heavy-ball SGD with coupled L2 decay."""
    zv_new = s.alpha * cv + s.lam * n  # z . v', using z . g = 0
    m_new = s.alpha**2 * m + s.lam**2 * n + s.G2 / n + 2 * s.alpha * s.lam * cv  # E[g.v] = 0
    n_new = n - 2 * s.eta * zv_new + s.eta**2 * m_new
    cv_new = zv_new - s.eta * m_new  # z'.v' = (z - eta v').v'
    return ScalarRecurrence(
        state=(n, m, cv),
        update=(sp.expand(n_new), sp.expand(m_new), sp.expand(cv_new)),
        params=(s.eta, s.lam, s.G2, s.alpha),
    )


@functools.cache
def _momentum_fixed_point() -> dict[sp.Symbol, sp.Expr]:
    rec = momentum_recurrence()
    # Stationary n gives m in terms of z.v', stationary cv gives cv; solve the linear part.
    linear = sp.solve([rec.update[0] - n, rec.update[2] - cv], [m, cv], dict=True)[0]
    remaining = sp.together(rec.update[1].xreplace(linear) - linear[m])
    n_star = _positive_root(sp.numer(remaining), n)
    point = {n: n_star}
    point.update({k: sp.simplify(v.xreplace(point)) for k, v in linear.items()})
    return point


def momentum_decay_equilibrium() -> Law:
    rec = momentum_recurrence()
    point = _momentum_fixed_point()
    rhs = sp.factor(sp.simplify(point[n] ** 2))
    return scalar_law(
        name="momentum_decay_equilibrium",
        item=9,
        title="heavy-ball + L2 equilibrium: N*^4 ~= eta G^2 / (2 lam (1 - alpha))",
        lhs=sp.Symbol("N_*") ** 4,
        rhs=rhs,
        params=(s.eta, s.lam, s.G2, s.alpha),
        exact=True,
        assumptions="Heavy-ball momentum alpha with coupled L2 decay; the fresh gradient is "
        "tangent to z and uncorrelated with the velocity (E[g . v] = 0); exact fixed point "
        "of the resulting recurrence of (|z|^2, |v|^2, z.v).",
        reference=REFERENCE,
        checks=(
            *(
                Check(f"fixed point: {x} stationary", r)
                for x, r in zip(rec.state, rec.fixed_point_residual(point), strict=True)
            ),
            Check(
                "leading order eta G^2 / (2 lam (1 - alpha))",
                rhs - s.eta * s.G2 / (2 * s.lam * (1 - s.alpha)),
                kind="leading_order",
                small=s.eta,
                order=2,
            ),
            Check(
                "alpha = 0 gives the SGD + L2 equilibrium",
                rhs.xreplace({s.alpha: 0}) - sgd_decay_equilibrium().rhs,
            ),
        ),
        bounds={"alpha": MOMENTUM},
        relations=(CONTRACTS,),
        recurrence=rec,
    )


def _angle_law(
    name: str,
    title: str,
    cos_theta: sp.Expr,
    leading: sp.Expr,
    params,
    assumptions: str,
    checks=(),
    bounds=None,
    recurrence=None,
) -> Law:
    rhs = sp.acos(sp.simplify(cos_theta))
    return scalar_law(
        name=name,
        item=9,
        title=title,
        lhs=sp.Symbol(r"\theta_*"),
        rhs=rhs,
        params=params,
        exact=True,
        assumptions=assumptions,
        reference=REFERENCE,
        checks=(
            *checks,
            Check(
                f"leading order {sp.sstr(leading)}",
                rhs - leading,
                kind="leading_order",
                small=s.eta,
                order=1,
            ),
        ),
        bounds=bounds,
        relations=(CONTRACTS,),
        recurrence=recurrence,
    )


def sgd_decay_angle() -> Law:
    # At equilibrium N' = N, and z.z' = (1 - eta lam) N^2 since z.g = 0.
    cos_theta = (1 - s.eta * s.lam) * s.N**2 / (s.N * s.N)
    return _angle_law(
        "sgd_decay_angle",
        "SGD + L2 angle per step at equilibrium: acos(1 - eta lam) ~= sqrt(2 eta lam)",
        cos_theta,
        sp.sqrt(2 * s.eta * s.lam),
        (s.eta, s.lam),
        "Coupled L2 decay at its norm equilibrium (N' = N).",
    )


def momentum_decay_angle() -> Law:
    point = _momentum_fixed_point()
    rec = momentum_recurrence()
    zz_next = (n - s.eta * (s.alpha * cv + s.lam * n)).xreplace(point)  # z . z' = n - eta z.v'
    cos_theta = sp.simplify(zz_next / point[n])
    return _angle_law(
        "momentum_decay_angle",
        "heavy-ball + L2 angle: acos(1 - eta lam/(1 + alpha)) ~= sqrt(2 eta lam/(1 + alpha))",
        cos_theta,
        sp.sqrt(2 * s.eta * s.lam / (1 + s.alpha)),
        (s.eta, s.lam, s.alpha),
        "Heavy-ball momentum with coupled L2 decay at the fixed point of the momentum "
        "recurrence (see momentum_decay_equilibrium).",
        checks=(
            Check(
                "cos(theta) = 1 - eta lam / (1 + alpha)",
                cos_theta - (1 - s.eta * s.lam / (1 + s.alpha)),
            ),
        ),
        bounds={"alpha": MOMENTUM},
        recurrence=rec,
    )
