"""The laws behind the sign of the specificity and uncertainty imprints (THEORY.md item 16).

THEORY.md items 13, 14 and 16. Norm growth is heat: with a scale-invariant loss every
item's own gradient is tangent (item 1), so an item's squared norm grows by the squared
length of its kick and, at first order, by nothing else (item 12). Item 15 writes the
kick of item i as -eta sum_j K_ij g_j with K_ij = J_i P J_j^T. The expected heat has
three ingredients, each derived here as a law with its twin:

(a) the kernel of the model family. Free table: K_ij = delta_ij I. Compositional encoder:
    K_ij = sum over the features f shared by i's and j's paths of P_f I (m_ij I under
    SGD; `path_overlap_sum` sums m_ij^r over a complete tree). MLP: the empirical NTK
    blocks J_i P J_j^T.
(b) the data. Each occurrence of an item carries a gradient whose energy relaxes to the
    *irreducible* noise of its positives. With the targets' directions orthonormal
    (class prototypes; leaves of a tree, a node's direction being the normalised mean of
    its leaves), the noise of a target drawn from q is E|e_C - sum_c q_c e_c|^2 =
    1 - sum_c q_c^2, the Gini impurity (`soft_label_gini`): a(2 - a)(K - 1)/K for the
    soft labels of the ambiguity data, which rises with the label entropy.
(c) the optimizer, through P. SGD: P = 1; heavy ball and Nesterov: 1 / (1 - beta) (each
    kick is repeated down the velocity); Adam/AdamW: per coordinate, a parameter drawn in
    a fraction q of the steps moves per draw by eta^2 C^2 / ((1 - b2) E + b2 v) in squared
    length per coordinate (`adam_draw_displacement`; C = (1 - b1) / (1 - b1 / sqrt(b2))
    sums the momentum tail, E the draw's gradient energy, v the second moment before the
    draw, about q E): rare parameters step up to 1 / sqrt(1 - b2) times further than
    frequent ones, and a parameter whose gradient has decayed below its memory stops.

The expected heat of item i per step is then (`kernel_mean_heat`)

    heat_i = eta^2 sum_j (w_j / d) |K_ij|_F^2,

w_j the energy per step of item j's gradient, the gradients of different occurrences
being independent, isotropic and zero-mean at the soft-label optimum; `self_mean_heat`
(item 18) keeps each item's own block only. normtheory.mean_field integrates these heats
over a run from the configuration and predicts the sign of each imprint.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from normtheory.laws import _symbols as s
from normtheory.laws import kernel
from normtheory.laws._law import (
    MOMENTUM,
    NONNEGATIVE,
    POSITIVE,
    RATE,
    Bound,
    Check,
    Law,
    scalar_law,
)

REFERENCE = (
    "Derived here from the kernel law (THEORY.md item 15) and the data's sampling; "
    "Kingma and Ba, 'Adam', ICLR 2015 (the moments); THEORY.md item 16."
)

a_sym = sp.Symbol("a", nonnegative=True)  # soft-label mixing level
K_sym = sp.Symbol("K", integer=True, positive=True)  # number of classes
b2_sym = sp.Symbol("b2", positive=True)  # Adam second-moment decay
q_sym = sp.Symbol("q", positive=True)  # fraction of steps in which a parameter is drawn
k_sym = sp.Symbol("k", integer=True, nonnegative=True)
LATEX = {a_sym: "a", K_sym: "K", b2_sym: r"\beta_2", q_sym: "q"}
UNIT_OPEN = Bound(lower=0.0, upper=1.0)  # (0, 1)


# --- (b) the noise of a soft label ---------------------------------------------------------


def _orthonormal_noise(weights: list[sp.Expr]) -> sp.Expr:
    """E_C |e_C - sum_c q_c e_c|^2 with e_c the unit vectors of R^K, C ~ q."""
    size = len(weights)
    basis = [sp.Matrix([int(r == c) for r in range(size)]) for c in range(size)]
    mean = sum((w * e for w, e in zip(weights, basis, strict=True)), sp.zeros(size, 1))
    return sum(w * (e - mean).dot(e - mean) for w, e in zip(weights, basis, strict=True))


def gini_expr() -> sp.Expr:
    """1 - sum_c q_c^2 for q = (1 - a) onehot + a / K, in closed form."""
    top = 1 - a_sym + a_sym / K_sym
    rest = a_sym / K_sym
    return sp.factor(1 - top**2 - (K_sym - 1) * rest**2)


def soft_label_gini() -> Law:
    rhs = gini_expr()
    size = 3
    q = sp.symbols(f"q_0:{size}", positive=True)
    last = {q[-1]: 1 - sum(q[:-1])}
    noise = _orthonormal_noise(list(q)).xreplace(last)
    impurity = (1 - sum(x**2 for x in q)).xreplace(last)
    labels = [1 - a_sym + a_sym / size] + [a_sym / size] * (size - 1)
    entropy = -sum(w * sp.log(w) for w in (labels[0], labels[1])) - (size - 2) * labels[1] * sp.log(
        labels[1]
    )
    d_entropy = sp.diff(entropy, a_sym)
    return scalar_law(
        latex_names=LATEX,
        name="soft_label_gini",
        item=16,
        title="noise energy of a soft label at its optimum: a (2 - a) (K - 1) / K",
        lhs=sp.Symbol(r"1 - \sum_c q_c^{2}"),
        rhs=rhs,
        params=(a_sym, K_sym),
        bounds={
            "a": Bound(0.0, 1.0, lower_open=False, upper_open=False),
            "K": Bound(lower=2.0, lower_open=False),
        },
        exact=True,
        assumptions="Target directions orthonormal (class prototypes e_c, K <= d); the item "
        "at its soft-label optimum, so its mean gradient vanishes and what remains is the "
        "spread of the drawn target around the mean target. Label q = (1 - a) onehot + a / K.",
        reference=REFERENCE,
        checks=(
            Check(
                "E|e_C - sum q_c e_c|^2 = 1 - sum q_c^2 for orthonormal targets (K = 3)",
                noise - impurity,
            ),
            Check(
                "the soft labels' impurity is a (2 - a)(K - 1)/K (K = 3)",
                impurity.xreplace(dict(zip(q, labels, strict=True))) - rhs.xreplace({K_sym: size}),
            ),
            Check(
                "d Gini / d a = 2 (1 - a)(K - 1)/K >= 0 on [0, 1]",
                sp.diff(rhs, a_sym) - 2 * (1 - a_sym) * (K_sym - 1) / K_sym,
            ),
            Check(
                "d entropy / d a = (K - 1)/K log(q_top / q_rest) >= 0: both rise with a (K = 3)",
                sp.expand_log(
                    d_entropy - sp.Rational(size - 1, size) * sp.log(labels[0] / labels[1]),
                    force=True,
                ),
            ),
        ),
    )


def gini(a, num_classes):
    """NumPy twin of `soft_label_gini`: a (2 - a)(K - 1)/K."""
    a = np.asarray(a, dtype=np.float64)
    return a * (2 - a) * (num_classes - 1) / num_classes


# --- (c) Adam's displacement per draw -------------------------------------------------------


def tail_factor_expr() -> sp.Expr:
    """C = sum_k (1 - b1) b1^k b2^(-k/2): the momentum tail of one draw, v decaying meanwhile."""
    geometric = sp.summation((s.b1 / sp.sqrt(b2_sym)) ** k_sym, (k_sym, 0, sp.oo))
    if isinstance(geometric, sp.Piecewise):  # the convergent branch, b1 < sqrt(b2)
        geometric = geometric.args[0][0]
    return sp.simplify((1 - s.b1) * geometric)


def adam_draw_displacement() -> Law:
    tail = tail_factor_expr()
    rhs = tail**2 / ((1 - b2_sym) + b2_sym * q_sym)
    return scalar_law(
        latex_names=LATEX,
        name="adam_draw_displacement",
        item=16,
        title="Adam: squared step per draw and coordinate, C^2 / ((1 - b2) + b2 q) (units eta^2)",
        lhs=sp.Symbol(r"\delta^{2} / \eta^{2}"),
        rhs=rhs,
        params=(q_sym, s.b1, b2_sym),
        bounds={"q": RATE, "b1": MOMENTUM, "b2": UNIT_OPEN},
        exact=False,
        assumptions="A parameter coordinate drawn in a fraction q of the steps with gradient "
        "energy E per draw; its second moment before a draw is replaced by its mean q E "
        "(mean-field closure); no further draw during the momentum tail, over which v decays "
        "by b2 per step (the sum converges for b1 < sqrt(b2)); eps and the first moment's "
        "bias correction neglected. The step is scale-free: E cancels.",
        reference=REFERENCE,
        checks=(
            Check(
                "the tail sums to C = (1 - b1) / (1 - b1 / sqrt(b2))",
                tail - (1 - s.b1) / (1 - s.b1 / sp.sqrt(b2_sym)),
            ),
            Check(
                "rare limit q -> 0: C^2 / (1 - b2), the tail of a first step (1 - b1)^2 / (1 - b2)",
                rhs.xreplace({q_sym: 0}) - tail**2 / (1 - b2_sym),
            ),
            Check(
                "without momentum and drawn every step (b1 = 0, q = 1): one normalised step",
                rhs.xreplace({s.b1: 0, q_sym: 1}) - 1,
            ),
            Check(
                "b2 -> 1 at any q > 0: the heat per step q delta^2 -> eta^2, rate-free",
                sp.limit(q_sym * rhs, b2_sym, 1) - 1,
            ),
        ),
    )


def draw_displacement(q, b1, b2):
    """NumPy twin of `adam_draw_displacement`."""
    tail = (1 - b1) / (1 - b1 / np.sqrt(b2))
    return tail**2 / ((1 - b2) + b2 * np.asarray(q, dtype=np.float64))


# --- (a) + (b): the expected heat through the kernel -----------------------------------------


def _expected_quadratic(form: sp.Expr, grads: list[sp.Matrix], energy: list[sp.Expr]) -> sp.Expr:
    """E[form] for independent zero-mean g_j with E[g_ja g_jb] = energy_j / d delta_ab.

    `form` is a quadratic form in the components of the g_j, so its expectation is the
    sum over components of (energy_j / d) times half its second derivative.
    """
    total = sp.Integer(0)
    for g, e in zip(grads, energy, strict=True):
        for comp in g:
            total += e / len(g) * sp.diff(form, comp, 2) / 2
    return sp.expand(total)


def mean_heat(K: jax.Array, w: jax.Array, eta: jax.Array) -> jax.Array:
    """eta^2 sum_j (w_j / d) |K_ij|_F^2. K (I, I, d, d), w (I,) energies per step -> (I,)."""
    d = K.shape[-1]
    return eta**2 * jnp.einsum("ijab,ijab,j->i", K, K, w) / d


def kernel_mean_heat() -> Law:
    size, dim = 3, 2
    blocks = [
        [sp.Matrix(dim, dim, sp.symbols(f"K{i}{j}_0:{dim * dim}", real=True)) for j in range(size)]
        for i in range(size)
    ]
    grads = [sp.Matrix(sp.symbols(f"g{j}_0:{dim}", real=True)) for j in range(size)]
    w = sp.symbols(f"w_0:{size}", nonnegative=True)
    kick = -s.eta * sum((blocks[0][j] * grads[j] for j in range(size)), sp.zeros(dim, 1))
    generic = _expected_quadratic(kick.dot(kick), grads, list(w))
    stated = s.eta**2 * sum(w[j] / dim * sum(x**2 for x in blocks[0][j]) for j in range(size))
    model = kernel._compositional_model(2, 2, generic_precond=False)
    tree, n = model["tree"], len(model["probes"])
    energies = sp.symbols(f"e_0:{n}", nonnegative=True)
    comp = []
    for i in range(n):
        k = -s.eta * sum(
            (model["kernel"][i][j] * model["grads"][j] for j in range(n)), sp.zeros(2, 1)
        )
        expected = _expected_quadratic(k.dot(k), model["grads"], list(energies))
        overlap = [kernel.path_overlap(tree.ancestors[i], tree.ancestors[j]) for j in range(n)]
        comp.append(
            expected - s.eta**2 * sum(m**2 * e for m, e in zip(overlap, energies, strict=True))
        )
    table = (
        _expected_quadratic((s.eta * grads[0]).dot(s.eta * grads[0]), grads[:1], [w[0]])
        - s.eta**2 * w[0]
    )
    Kb, wb = sp.IndexedBase("K"), sp.IndexedBase("w")
    _i, _j, _a, _b = sp.symbols("i j a b", integer=True, positive=True)
    n_items, d = sp.symbols("I d", integer=True, positive=True)
    return Law(
        latex_names={n_items: "I"},
        name="kernel_mean_heat",
        item=16,
        title="expected heat per step through the kernel: eta^2 sum_j (w_j / d) |K_ij|_F^2",
        lhs=sp.Symbol(r"\mathbb{E}\,\mathrm{heat}_i"),
        rhs=s.eta**2
        * sp.Sum(
            wb[_j] / d * sp.Sum(Kb[_i, _j, _a, _b] ** 2, (_a, 1, d), (_b, 1, d)), (_j, 1, n_items)
        ),
        params=("K", "w", "eta"),
        bounds={"eta": POSITIVE, "w": NONNEGATIVE},
        exact=True,
        assumptions="Kick k_i = -eta sum_j K_ij g_j (item 15) with the gradients of different "
        "items independent, zero-mean (the soft-label optimum) and isotropic, E[g_j g_j^T] = "
        "(w_j / d) I, w_j the energy per step of item j's gradient; the mean part of the "
        "gradients (the transient rotation) is left out.",
        reference=REFERENCE,
        checks=(
            Check("generic 2 x 2 blocks, three items: E|k_0|^2", generic - sp.expand(stated)),
            Check(
                "compositional encoder under SGD: eta^2 sum_j m_ij^2 w_j at every node",
                _contract(comp),
            ),
            Check("free table: eta^2 w_i, the item's own heat (law 6)", table),
        ),
        fn=mean_heat,
    )


def self_heat(K_self: jax.Array, w: jax.Array, eta: jax.Array) -> jax.Array:
    """eta^2 (w_i / d) |K_ii|_F^2. K_self (I, d, d) the diagonal blocks, w (I,) -> (I,)."""
    d = K_self.shape[-1]
    return eta**2 * jnp.einsum("iab,iab,i->i", K_self, K_self, w) / d


def self_mean_heat() -> Law:
    """Item 18: item 16's expected heat with each item's own kernel block only."""
    dim = 2
    block = sp.Matrix(dim, dim, sp.symbols(f"K00_0:{dim * dim}", real=True))
    grad = sp.Matrix(sp.symbols(f"g0_0:{dim}", real=True))
    w0 = sp.Symbol("w_0", nonnegative=True)
    kick = -s.eta * block * grad
    generic = _expected_quadratic(kick.dot(kick), [grad], [w0])
    stated = s.eta**2 * w0 / dim * sum(x**2 for x in block)
    model = kernel._compositional_model(2, 2, generic_precond=False)
    tree, n = model["tree"], len(model["probes"])
    energies = sp.symbols(f"e_0:{n}", nonnegative=True)
    comp = []
    for i in range(n):
        own = -s.eta * model["kernel"][i][i] * model["grads"][i]
        expected = _expected_quadratic(own.dot(own), [model["grads"][i]], [energies[i]])
        comp.append(expected - s.eta**2 * (int(tree.depth[i]) + 1) ** 2 * energies[i])
    Kb, wb = sp.IndexedBase("K"), sp.IndexedBase("w")
    _i, _a, _b = sp.symbols("i a b", integer=True, positive=True)
    d = sp.Symbol("d", integer=True, positive=True)
    return Law(
        name="self_mean_heat",
        item=18,
        title="self-heat closure: E heat_i = eta^2 (w_i / d) |K_ii|_F^2, the item's own block",
        lhs=sp.Symbol(r"\mathbb{E}\,\mathrm{heat}_i"),
        rhs=s.eta**2 * wb[_i] / d * sp.Sum(Kb[_i, _a, _b] ** 2, (_a, 1, d), (_b, 1, d)),
        params=("K_self", "w", "eta"),
        bounds={"eta": POSITIVE, "w": NONNEGATIVE},
        exact=True,
        assumptions="kernel_mean_heat's assumptions, and the closure: every cross kick "
        "eta K_ij g_j (j != i) is undone by the restoring pull of the item that caused it, "
        "so it adds no norm; only the item's own gradient through its own block K_ii heats "
        "it.",
        reference=REFERENCE,
        checks=(
            Check("generic 2 x 2 block: E|eta K_ii g_i|^2", generic - sp.expand(stated)),
            Check(
                "compositional encoder under SGD: eta^2 (depth_i + 1)^2 w_i at every node "
                "(K_ii = m_ii I)",
                _contract(comp),
            ),
        ),
        fn=self_heat,
    )


def overlap_sum_expr() -> sp.Expr:
    """sum_j m_ij^r over the nodes j of a complete tree (height D, branching b), i at depth k.

    The nodes whose lowest common ancestor with i is i's ancestor at depth l < k are that
    ancestor's subtree minus the next one's, n_l - n_{l+1} with n_l = (b^(D - l + 1) - 1) /
    (b - 1) nodes below (and at) depth l; they share l + 1 features with i. The n_k nodes
    of i's own subtree share all k + 1.
    """
    height, branch, depth, power = _overlap_symbols()
    lvl = sp.Symbol("l", integer=True, nonnegative=True)

    def below(x):
        return (branch ** (height - x + 1) - 1) / (branch - 1)

    return sp.Sum((lvl + 1) ** power * (below(lvl) - below(lvl + 1)), (lvl, 0, depth - 1)) + (
        depth + 1
    ) ** power * below(depth)


@functools.cache
def _overlap_symbols() -> tuple[sp.Symbol, ...]:
    return (
        sp.Symbol("D", integer=True, positive=True),
        sp.Symbol("b", integer=True, positive=True),
        sp.Symbol("k", integer=True, nonnegative=True),
        sp.Symbol("r", integer=True, positive=True),
    )


def overlap_sum(D, b, k, r):
    """NumPy twin of `path_overlap_sum` (scalars or arrays of ints)."""
    D, b, k, r = (np.asarray(x, dtype=np.float64) for x in (D, b, k, r))
    levels = np.arange(int(np.max(k)) + 1, dtype=np.float64)

    def below(x):
        return (b[..., None] ** (D[..., None] - x + 1) - 1) / (b[..., None] - 1)

    terms = (levels + 1) ** r[..., None] * (below(levels) - below(levels + 1))
    inner = np.sum(np.where(levels < k[..., None], terms, 0.0), axis=-1)
    return inner + (k + 1) ** r * below(k[..., None])[..., 0]


def path_overlap_sum() -> Law:
    rhs = overlap_sum_expr()
    height, branch, depth, power = _overlap_symbols()
    residuals = []
    for shape in ((2, 2), (2, 3), (3, 2)):
        tree = kernel.complete_tree(*shape)
        for i in range(tree.num_nodes):
            for r in (1, 2):
                counted = sum(
                    kernel.path_overlap(tree.ancestors[i], tree.ancestors[j]) ** r
                    for j in range(tree.num_nodes)
                )
                value = rhs.xreplace(
                    {height: shape[0], branch: shape[1], depth: int(tree.depth[i]), power: r}
                )
                residuals.append(sp.nsimplify(value.doit()) - counted)
    return Law(
        latex_names={},
        name="path_overlap_sum",
        item=16,
        title="sum_j m_ij^r over a complete tree, by depth (the compositional SGD heat weights)",
        lhs=sp.Symbol(r"\sum_j m_{ij}^{r}"),
        rhs=rhs,
        params=("D", "b", "k", "r"),
        bounds={},
        exact=True,
        assumptions="Complete tree of height D and branching b (normtheory.data.hierarchy); "
        "m_ij = depth(lca(i, j)) + 1 (item 15). With equal gradient energies the "
        "compositional encoder's expected SGD heat at depth k is eta^2 w S_2(k), its feature "
        "heat summed over the path eta^2 w S_1(k).",
        reference=REFERENCE,
        checks=(
            Check(
                "equals the count over every node of three trees, r = 1, 2", _contract(residuals)
            ),
        ),
        fn=overlap_sum,
    )


def _contract(entries: list[sp.Expr]) -> sp.Expr:
    weights = sp.symbols(f"omega_heat_0:{len(entries)}", real=True)
    return sp.Add(*(x * e for x, e in zip(weights, entries, strict=True)))
