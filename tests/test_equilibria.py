"""Each equilibrium closed form equals the limit of iterating its scalar recurrence.

The closed forms are SymPy solutions of the fixed-point equations; here the recurrence
(the same SymPy update, lambdified) is iterated numerically in float64 until it has
converged, for parameters drawn by hypothesis. The leading-order forms of THEORY.md are
then checked against the iterated limit with a tolerance set by the neglected order
(a multiple of eta * lam), not by a number chosen to pass.
"""

import math

import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from normtheory import laws


def _log_uniform(lo, hi):
    return st.floats(math.log(lo), math.log(hi)).map(math.exp)


def _steps(eta, lam, slowdown=1.0):
    """Enough iterations for a contraction of rate ~ 1 - eta lam / slowdown to reach 1e-15."""
    return int(min(2_000_000, 60 * slowdown / (eta * lam)))


eta_lam = st.tuples(_log_uniform(1e-3, 1.0), _log_uniform(1e-2, 1.0)).filter(
    lambda x: 1e-3 <= x[0] * x[1] <= 0.5
)
energies = _log_uniform(1e-3, 1e3)


@given(eta_lam, energies)
def test_sgd_decay_equilibrium_is_the_recurrence_limit(el, G2):
    eta, lam = el
    law = laws.get("sgd_decay_equilibrium")
    (n,) = law.recurrence.iterate((1.0,), {"eta": eta, "lam": lam, "G2": G2}, _steps(eta, lam))
    closed = float(law(eta=eta, lam=lam, G2=G2))
    np.testing.assert_allclose(float(n) ** 2, closed, rtol=1e-10)
    # THEORY.md form eta G^2 / (2 lam); the neglected factor is 2 / (2 - eta lam).
    leading = eta * G2 / (2 * lam)
    assert abs(leading / float(n) ** 2 - 1) <= eta * lam / 2 + 1e-12


@given(eta_lam, energies, st.floats(0.01, 1.0))
def test_sparse_equilibrium_scales_as_p_to_the_quarter(el, G2, p):
    eta, lam = el
    law = laws.get("sparse_decay_equilibrium")
    params = {"eta": eta, "lam": lam, "G2": G2, "p": p}
    (n,) = law.recurrence.iterate((1.0,), params, _steps(eta, lam))
    np.testing.assert_allclose(float(n) ** 2, float(law(**params)), rtol=1e-10)
    full = float(laws.get("sgd_decay_equilibrium")(eta=eta, lam=lam, G2=G2))
    np.testing.assert_allclose(math.sqrt(float(n)) / full**0.25, p**0.25, rtol=1e-9)


@given(eta_lam, energies, st.floats(0.0, 0.95))
def test_momentum_equilibrium_and_angle_are_the_recurrence_limit(el, G2, alpha):
    eta, lam = el
    params = {"eta": eta, "lam": lam, "G2": G2, "alpha": alpha}
    law = laws.get("momentum_decay_equilibrium")
    n, _m, cv = law.recurrence.iterate((1.0, 0.0, 0.0), params, _steps(eta, lam, 1 / (1 - alpha)))
    n, cv = float(n), float(cv)
    np.testing.assert_allclose(n**2, float(law(**params)), rtol=1e-9)
    # Angle between consecutive iterates from the state: z.z' = n - eta (alpha z.v + lam n).
    cos_theta = (n - eta * (alpha * cv + lam * n)) / n
    angle = laws.get("momentum_decay_angle")(eta=eta, lam=lam, alpha=alpha)
    np.testing.assert_allclose(math.acos(cos_theta), float(angle), rtol=1e-7)
    # Leading forms: eta G^2 / (2 lam (1 - alpha)) and sqrt(2 eta lam / (1 + alpha)).
    x = eta * lam
    assert abs(eta * G2 / (2 * lam * (1 - alpha)) / n**2 - 1) <= x / (1 - alpha) + 1e-12
    assert abs(math.sqrt(2 * x / (1 + alpha)) / float(angle) - 1) <= x + 1e-12


@given(eta_lam, _log_uniform(1, 4096), st.floats(0.0, 0.99))
def test_adamw_equilibrium_and_angle_are_the_recurrence_limit(el, C, b1):
    eta, lam = el
    params = {"eta": eta, "lam": lam, "C": C, "b1": b1}
    law = laws.get("adamw_equilibrium")
    n, _q, cm = law.recurrence.iterate((1.0, 0.0, 0.0), params, _steps(eta, lam, 1 / (1 - b1)))
    n, cm = float(n), float(cm)
    np.testing.assert_allclose(n, float(law(**params)), rtol=1e-9)
    cos_theta = ((1 - eta * lam) * n - eta * b1 * cm) / n
    angle = float(laws.get("adamw_angle")(eta=eta, lam=lam, b1=b1))
    np.testing.assert_allclose(math.acos(cos_theta), angle, rtol=1e-7)
    # THEORY.md item 11: N*^2 ~= eta C / (2 lam), theta ~= sqrt(2 eta lam (1-b1)/(1+b1)).
    x = eta * lam
    assert abs(eta * C / (2 * lam) / n - 1) <= 2 * x / (1 - b1) + 1e-12
    assert abs(math.sqrt(2 * x * (1 - b1) / (1 + b1)) / angle - 1) <= 2 * x / (1 - b1) + 1e-12


@given(eta_lam, st.floats(-1.0, 1.0), _log_uniform(1e-4, 1e2))
def test_drift_heat_quadratic_is_the_recurrence_limit(el, delta_rel, h):
    eta, lam = el
    # Keep the drift below the decay capacity so that a positive equilibrium exists.
    delta = delta_rel * math.sqrt(h) * eta * lam
    law = laws.get("drift_heat_equilibrium")
    params = {"eta": eta, "lam": lam, "delta": delta, "h": h}
    (n,) = law.recurrence.iterate((1.0,), params, _steps(eta, lam))
    D = laws.get("drift_scale")(delta=delta, eta=eta, lam=lam)
    V2 = laws.get("heat_scale")(h=h, eta=eta, lam=lam)
    np.testing.assert_allclose(float(n), float(law(D=D, V2=V2)), rtol=1e-9)


def test_equilibrium_laws_broadcast_over_grids():
    eta = jnp.array([0.01, 0.1, 1.0])
    out = laws.get("sgd_decay_equilibrium")(eta=eta, lam=0.1, G2=2.0)
    np.testing.assert_allclose(out, eta * 2.0 / (0.1 * (2 - eta * 0.1)), rtol=1e-14)


def test_split_transfer_ratios_and_rounding_level_parts():
    """Each part's judged/calibration ratio; a part at rounding level is not a ratio."""
    from types import SimpleNamespace

    from normtheory.verify.drift_heat import split_transfer

    def rates(scale, self_drift):
        parts = {"drift_self": np.array([self_drift, self_drift]),
                 "drift_cross": np.array([-1.0, -3.0]) * scale,
                 "drift_rest": np.array([2.0, 2.0]) * scale ** 2,
                 "h_self": np.array([1.0, 1.0]), "h_cross": np.array([0.5, 0.5]) * scale,
                 "h_rest": np.array([0.0, 1.0]) * scale}  # fmt: skip
        return {"n2": SimpleNamespace(mean=np.array([1.0, 3.0]) * scale), "parts": parts,
                "delta": np.array([1.0, 1.0]) * scale, "h": np.array([2.0, 2.0])}  # fmt: skip

    t = split_transfer(rates(1.0, 1e-20), rates(2.0, 3e-20))
    assert t["n2"] == 2.0 and t["drift_cross"] == 2.0 and t["drift_rest"] == 4.0
    assert t["h_self"] == 1.0 and t["h_cross"] == 2.0 and t["h_rest"] == 2.0
    assert t["drift"] == 2.0 and t["h"] == 1.0
    assert np.isnan(t["drift_self"])  # 1e-20 against parts of order 1: rounding
    assert split_transfer(rates(1.0, 0.25), rates(1.0, 0.5))["drift_self"] == 2.0
