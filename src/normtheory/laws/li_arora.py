"""Li-Arora equivalence of weight decay and an exponential learning rate (THEORY.md item 10).

For a scale-invariant loss, GD with weight decay lam at constant eta,
w_{t+1} = (1 - eta lam) w_t - eta grad L(w_t), is, after rescaling
w~_t = w_t / (1 - eta lam)^t, exactly GD without decay at the learning rate
eta_t = eta (1 - eta lam)^(-2t - 1). The proof uses only homogeneity,
grad L(c w) = grad L(w) / c, which is checked here symbolically.
"""

from __future__ import annotations

import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws._law import Check, Law, Relation, scalar_law

REFERENCE = (
    "Li and Arora, 'An Exponential Learning Rate Schedule for Deep Learning', ICLR 2020, "
    "Theorem 2.4 (constant learning rate case); THEORY.md item 10."
)
SHRINKS = Relation(s.eta * s.lam < 1, "eta * lam must be < 1 so that 1 - eta lam > 0")


def li_arora_learning_rate() -> Law:
    w_tilde, g_tilde = sp.symbols("w_tilde g_tilde", real=True)  # one coordinate each
    shrink = 1 - s.eta * s.lam
    scale_t = shrink**s.t
    # The decayed run at step t sits at w_t = scale_t * w~_t, where homogeneity gives
    # grad L(w_t) = g~ / scale_t with g~ = grad L(w~_t).
    w_next = shrink * scale_t * w_tilde - s.eta * g_tilde / scale_t
    w_tilde_next = w_next / shrink ** (s.t + 1)
    rhs = s.eta * shrink ** (-2 * s.t - 1)
    return scalar_law(
        name="li_arora_learning_rate",
        item=10,
        title="Li-Arora: decay lam at rate eta == no decay at eta (1 - eta lam)^(-2t-1)",
        lhs=sp.Symbol(r"\eta_t"),
        rhs=rhs,
        params=(s.eta, s.lam, s.t),
        exact=True,
        assumptions="Scale-invariant loss, full-batch or identically sampled GD, constant eta "
        "and lam with eta lam < 1; trajectories agree after w~_t = w_t / (1 - eta lam)^t.",
        reference=REFERENCE,
        checks=(
            Check(
                "one step of the rescaled decayed run equals GD at eta_t",
                sp.powsimp(sp.expand(w_tilde_next - (w_tilde - rhs * g_tilde)), force=True),
            ),
        ),
        relations=(SHRINKS,),
    )


def li_arora_scale() -> Law:
    return scalar_law(
        name="li_arora_scale",
        item=10,
        title="Li-Arora rescaling: w_t = (1 - eta lam)^t w~_t",
        lhs=sp.Symbol(r"w_t / \tilde w_t"),
        rhs=(1 - s.eta * s.lam) ** s.t,
        params=(s.eta, s.lam, s.t),
        exact=True,
        assumptions="As li_arora_learning_rate.",
        reference=REFERENCE,
        checks=(
            Check("scale is 1 at t = 0", ((1 - s.eta * s.lam) ** s.t).xreplace({s.t: 0}) - 1),
            Check(
                "scale multiplies by (1 - eta lam) per step",
                sp.powsimp(
                    (1 - s.eta * s.lam) ** (s.t + 1)
                    - (1 - s.eta * s.lam) * (1 - s.eta * s.lam) ** s.t
                ),
            ),
        ),
        relations=(SHRINKS,),
    )
