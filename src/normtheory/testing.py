"""Property-test your own scale-invariant loss: hypothesis strategies and checkers.

A loss of cosines sees only directions, so it must satisfy three exact identities for
every embedding x: L(c x) = L(x) for c > 0, x . grad L = 0 (Euler), and
grad L(c x) = grad L(x) / c (homogeneity). The strategies draw inputs that stress them
(norms from 1e-3 to 1e3, nearly parallel and antiparallel pairs, temperatures from
0.01 to 10); the checkers raise AssertionError naming the offending input. Default
tolerances assume float64, so enable ``jax_enable_x64``. Example::

    import jax
    import jax.numpy as jnp
    from hypothesis import given, settings
    from normtheory import testing

    jax.config.update("jax_enable_x64", True)

    def margin_loss(z, v):  # softplus of a cosine margin: scale-invariant in z and v
        cos = z @ v / (jnp.linalg.norm(z) * jnp.linalg.norm(v))
        return jax.nn.softplus((0.5 - cos) / 0.1)

    @settings(deadline=None)  # the first example pays for compilation
    @given(testing.embedding_pairs())
    def test_margin_loss(pair):
        testing.check_scale_invariant(margin_loss, *pair)
        testing.check_tangent_gradient(margin_loss, *pair)
        testing.check_homogeneous_gradient(margin_loss, *pair)
        testing.check_gradient_finite_differences(margin_loss, *pair, argnums=(0, 1))

Shapes are drawn from small fixed sets (`DIMENSIONS`, `BATCH_SIZES`,
`CANDIDATE_COUNTS`) so that a jitted loss compiles a handful of times, not once per
example. Needs the ``test`` extra (hypothesis).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

try:
    from hypothesis import strategies as st
except ModuleNotFoundError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'normtheory.testing needs hypothesis; pip install "normtheory[test]" provides it'
    ) from err

import jax
import numpy as np
from jax.test_util import check_grads

__all__ = [
    "BATCH_SIZES",
    "CANDIDATE_COUNTS",
    "DIMENSIONS",
    "PAIR_KINDS",
    "candidate_sets",
    "check_gradient_finite_differences",
    "check_gradient_matches",
    "check_homogeneous_gradient",
    "check_scale_invariant",
    "check_tangent_gradient",
    "embedding_pairs",
    "embeddings",
    "labelled_batches",
    "norms",
    "temperatures",
    "vectors",
]

DIMENSIONS = (2, 3, 8)
BATCH_SIZES = (2, 4, 6)
CANDIDATE_COUNTS = (2, 5)
PAIR_KINDS = ("generic", "parallel", "antiparallel")
EDGE_ANGLES = (1e-6, 1e-3)  # angle (radians) of a "nearly" parallel/antiparallel pair
DEFAULT_SCALES = (1e-3, 0.3, 7.0, 1e3)

Loss = Callable[..., Any]
Argnums = int | Sequence[int] | None
Size = int | Sequence[int] | None  # a fixed size, the choices to draw from, or the default set


# --------------------------------------------------------------------------- strategies


def _log_uniform(min_value: float, max_value: float) -> st.SearchStrategy[float]:
    if not 0 < min_value <= max_value:
        raise ValueError(f"need 0 < min_value <= max_value; got {min_value}, {max_value}")
    low, high = math.log(min_value), math.log(max_value)
    return st.floats(low, high).map(lambda t: min(max(math.exp(t), min_value), max_value))


def temperatures(min_value: float = 0.01, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """Softmax temperatures tau, log-uniform in [min_value, max_value] (Python floats)."""
    return _log_uniform(min_value, max_value)


def norms(min_value: float = 1e-3, max_value: float = 1e3) -> st.SearchStrategy[float]:
    """Embedding norms, log-uniform in [min_value, max_value]."""
    return _log_uniform(min_value, max_value)


def _size(value: Size, default: Sequence[int]) -> st.SearchStrategy[int]:
    if value is None:
        return st.sampled_from(default)
    return st.just(value) if isinstance(value, int) else st.sampled_from(tuple(value))


def _rngs() -> st.SearchStrategy[np.random.Generator]:
    # Directions come from a seeded generator: Gaussian rows are well conditioned, and
    # hypothesis still replays and shrinks the seed.
    return st.integers(0, 2**32 - 1).map(np.random.default_rng)


def _unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A uniformly random unit vector, shape (dim,)."""
    while True:
        x = rng.standard_normal(dim)
        norm = np.linalg.norm(x)
        if norm > 1e-2:
            return x / norm


def _related(u: np.ndarray, kind: str, angle: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector of the given kind relative to the unit vector u.

    "parallel" / "antiparallel" sit exactly `angle` radians from +u / -u, in a random
    direction orthogonal to u; "generic" is independent of u.
    """
    if kind == "generic":
        return _unit(rng, u.shape[0])
    if kind not in ("parallel", "antiparallel"):
        raise ValueError(f"unknown pair kind {kind!r}; known: {PAIR_KINDS}")
    while True:
        noise = rng.standard_normal(u.shape[0])
        noise -= (noise @ u) * u
        size = np.linalg.norm(noise)
        if size > 1e-2:
            break
    sign = 1.0 if kind == "parallel" else -1.0
    out = sign * math.cos(angle) * u + math.sin(angle) * noise / size
    return out / np.linalg.norm(out)


def _norm_column(draw: st.DrawFn, count: int) -> np.ndarray:
    return np.asarray(draw(st.lists(norms(), min_size=count, max_size=count)))[:, None]


@st.composite
def embeddings(draw: st.DrawFn, dim: Size = None, count: Size = None) -> np.ndarray:
    """Rows of random direction and norm in [1e-3, 1e3]: float64, shape (count, dim).

    `dim` / `count`: an int, a sequence to draw from, or None for a draw from
    `DIMENSIONS` / `BATCH_SIZES` (so for every size argument of the strategies here).
    """
    d = draw(_size(dim, DIMENSIONS))
    n = draw(_size(count, BATCH_SIZES))
    rng = draw(_rngs())
    return np.stack([_unit(rng, d) for _ in range(n)]) * _norm_column(draw, n)


def vectors(dim: Size = None) -> st.SearchStrategy[np.ndarray]:
    """One embedding of random direction and norm in [1e-3, 1e3]: shape (dim,)."""
    return embeddings(dim, 1).map(lambda rows: rows[0])


@st.composite
def embedding_pairs(
    draw: st.DrawFn,
    dim: Size = None,
    batch: bool | Size = False,
    kinds: Sequence[str] = PAIR_KINDS,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (z, v) with independent norms in [1e-3, 1e3] and a drawn relative direction.

    Each pair is "generic" (independent directions), "parallel" or "antiparallel"
    (v at 1e-6 or 1e-3 radians from +z or -z), drawn uniformly from `kinds`, so the edge
    cases come up in about two of three examples. Shapes: (dim,) each when `batch` is
    False; (B, dim) with a kind per row otherwise, B drawn from `BATCH_SIZES` when
    `batch` is True, else as for `embeddings`' count.
    """
    d = draw(_size(dim, DIMENSIONS))
    n = 1 if batch is False else draw(_size(None if batch is True else batch, BATCH_SIZES))
    if n < 1:
        raise ValueError(f"batch must be at least 1; got {n}")
    rng = draw(_rngs())
    z_dirs, v_dirs = [], []
    for _ in range(n):
        u = _unit(rng, d)
        kind = draw(st.sampled_from(kinds))
        z_dirs.append(u)
        v_dirs.append(_related(u, kind, draw(st.sampled_from(EDGE_ANGLES)), rng))
    z = np.stack(z_dirs) * _norm_column(draw, n)
    v = np.stack(v_dirs) * _norm_column(draw, n)
    return (z[0], v[0]) if batch is False else (z, v)


@st.composite
def candidate_sets(
    draw: st.DrawFn,
    dim: Size = None,
    count: Size = None,
    soft: bool | None = None,
    kinds: Sequence[str] = PAIR_KINDS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z (dim,), candidates (K, dim), targets (K,)) for a one-anchor InfoNCE.

    Each candidate is generic, nearly parallel or nearly antiparallel to z (see
    `embedding_pairs`); norms in [1e-3, 1e3]. Targets sum to 1: one-hot at a drawn
    candidate, or soft (Dirichlet weights) when `soft` is True; None draws either.
    K defaults to a draw from `CANDIDATE_COUNTS`.
    """
    d = draw(_size(dim, DIMENSIONS))
    k = draw(_size(count, CANDIDATE_COUNTS))
    rng = draw(_rngs())
    u = _unit(rng, d)
    rows = [
        _related(u, draw(st.sampled_from(kinds)), draw(st.sampled_from(EDGE_ANGLES)), rng)
        for _ in range(k)
    ]
    z = u * draw(norms())
    candidates = np.stack(rows) * _norm_column(draw, k)
    if draw(st.booleans()) if soft is None else soft:
        weights = rng.dirichlet(np.ones(k))
        targets = weights / weights.sum()
    else:
        targets = np.eye(k)[draw(st.integers(0, k - 1))]
    return z, candidates, targets


@st.composite
def labelled_batches(
    draw: st.DrawFn,
    dim: Size = None,
    count: Size = None,
    kinds: Sequence[str] = PAIR_KINDS,
) -> tuple[np.ndarray, np.ndarray]:
    """(z (B, dim), labels (B,) int64) in which every label occurs at least twice.

    Each row after the first is generic or nearly (anti)parallel to an earlier row;
    norms in [1e-3, 1e3]. B defaults to a draw from `BATCH_SIZES` (B >= 2).
    """
    d = draw(_size(dim, DIMENSIONS))
    n = draw(_size(count, BATCH_SIZES))
    if n < 2:
        raise ValueError(f"a labelled batch needs at least 2 rows; got {n}")
    classes = draw(st.integers(1, n // 2))
    extra = [draw(st.integers(0, classes - 1)) for _ in range(n - 2 * classes)]
    labels = np.asarray(draw(st.permutations([*range(classes), *range(classes), *extra])))
    rng = draw(_rngs())
    rows = [_unit(rng, d)]
    for i in range(1, n):
        anchor = rows[draw(st.integers(0, i - 1))]
        kind = draw(st.sampled_from(kinds))
        rows.append(_related(anchor, kind, draw(st.sampled_from(EDGE_ANGLES)), rng))
    return np.stack(rows) * _norm_column(draw, n), labels.astype(np.int64)


# ------------------------------------------------------------------ input bookkeeping


def _argnums(argnums: Argnums, count: int) -> tuple[int, ...]:
    if argnums is None:
        return tuple(range(count))
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _arg_names(loss: Loss, count: int) -> list[str]:
    """Parameter names of `loss` for positional arguments (args[i] where unknown)."""
    try:
        params = list(inspect.signature(loss).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [
        params[i].name if i < len(params) and params[i].kind in positional else f"args[{i}]"
        for i in range(count)
    ]


def _loss_name(loss: Loss) -> str:
    return getattr(loss, "__name__", None) or repr(loss)


def _describe(loss: Loss, args: Sequence[Any]) -> str:
    """The inputs, printed to full float64 precision so that a failure can be replayed."""
    lines = []
    with np.printoptions(precision=17, threshold=200, linewidth=100):
        for name, value in zip(_arg_names(loss, len(args)), args, strict=True):
            text = repr(value) if isinstance(value, int | float) else repr(np.asarray(value))
            lines.append(f"  {name} = {text}")
    return "inputs:\n" + "\n".join(lines)


def _fail(loss: Loss, args: Sequence[Any], message: str) -> AssertionError:
    return AssertionError(f"{_loss_name(loss)}: {message}\n{_describe(loss, args)}")


def _rows(x: Any) -> np.ndarray:
    """View of x as rows along its last axis: (rows, width); a scalar is one row of one."""
    arr = np.asarray(x, dtype=np.float64)
    return arr.reshape(1, 1) if arr.ndim == 0 else arr.reshape(-1, arr.shape[-1])


def _row_norms(x: Any) -> np.ndarray:
    return np.linalg.norm(_rows(x), axis=-1)


def _row_weights(x: Any) -> np.ndarray:
    """|x_row|, with 1 for an all-zero row so that its gradient is still compared."""
    n = _row_norms(x)
    return np.where(n > 0, n, 1.0)


def _replace(args: Sequence[Any], index: int, value: Any) -> list[Any]:
    out = list(args)
    out[index] = value
    return out


def _scalings(x: Any, scales: Sequence[float]) -> Iterator[tuple[str, np.ndarray | float]]:
    """(description, factor) pairs: each scale uniformly, then per-row patterns.

    A per-row factor has shape (..., 1), broadcasting against x (..., d); one pattern per
    rotation of `scales`, so that every row meets every scale.
    """
    for c in scales:
        yield f"uniform scale c={c!r}", float(c)
    shape = np.shape(x)
    if len(shape) >= 2 and math.prod(shape[:-1]) > 1:
        rows = math.prod(shape[:-1])
        for shift in range(len(scales)):
            pattern = np.resize(np.roll(np.asarray(scales, dtype=np.float64), shift), rows)
            yield f"per-row scales c={pattern!r}", pattern.reshape((*shape[:-1], 1))


def _gradients(
    loss: Loss, gradient: Loss | None, args: Sequence[Any], nums: tuple[int, ...]
) -> tuple[np.ndarray, ...]:
    """Gradients with respect to args[nums] from jax.grad, or from `gradient` if given."""
    if gradient is None:
        out = jax.grad(loss, argnums=nums)(*args)
    else:
        out = gradient(*args)
        if not isinstance(out, tuple | list):
            out = (out,)
    if len(out) != len(nums):
        raise ValueError(f"gradient returned {len(out)} arrays for argnums {nums}")
    grads = tuple(np.asarray(g, dtype=np.float64) for g in out)
    for i, g in zip(nums, grads, strict=True):
        if g.shape != np.shape(args[i]):
            raise ValueError(
                f"gradient for argument {i} has shape {g.shape}, not {np.shape(args[i])}"
            )
    return grads


# ------------------------------------------------------------------------- checkers


def check_scale_invariant(
    loss: Loss,
    *args: Any,
    argnums: Argnums = None,
    scales: Sequence[float] = DEFAULT_SCALES,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> None:
    """Assert loss(..., c * x, ...) == loss(..., x, ...) for every c > 0 in `scales`.

    Each argument in `argnums` (default: all) is scaled on its own, first uniformly by
    each c, then, for a batch (..., d) of several rows, row by row with a different c
    per row (a scale-invariant loss sees each row's direction only). Passes when
    |L(scaled) - L| <= atol + rtol |L|: in float64 the two sides differ by rounding of
    the normalisation only, so the default rtol=1e-9 is loose by ~10^6 ulps while any
    genuine dependence on scale shows up at O(1); atol covers a loss that is ~0.
    """
    base = float(loss(*args))
    if not math.isfinite(base):
        raise _fail(loss, args, f"loss is not finite ({base!r})")
    names = _arg_names(loss, len(args))
    for i in _argnums(argnums, len(args)):
        for label, factor in _scalings(args[i], scales):
            scaled = _replace(args, i, np.asarray(args[i], dtype=np.float64) * factor)
            value = float(loss(*scaled))
            if not abs(value - base) <= atol + rtol * abs(base):
                raise _fail(
                    loss,
                    args,
                    f"not scale-invariant in argument {names[i]!r}: {label} changes the "
                    f"loss from {base!r} to {value!r} (deviation {abs(value - base):.3e})",
                )


def check_tangent_gradient(
    loss: Loss,
    *args: Any,
    argnums: Argnums = None,
    gradient: Loss | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> None:
    """Assert the Euler identity x . grad_x L = 0 for every row x of every embedding.

    The gradient is jax.grad(loss), or `gradient(*args)` (an array, or a tuple with one
    array per entry of `argnums`) to test a closed form. Rows are along the last axis.
    Both x . g and |x| |g| are invariant under x -> c x for a scale-invariant loss, so
    one tolerance fits every norm: a row passes when
    |x . g| <= atol + rtol * max_rows |x| |g| over the rows of that argument. The max
    (not the row's own |x| |g|) keeps a row whose gradient is tiny by cancellation,
    e.g. a nearly parallel pair, from failing on rounding noise.
    """
    nums = _argnums(argnums, len(args))
    names = _arg_names(loss, len(args))
    for i, g in zip(nums, _gradients(loss, gradient, args, nums), strict=True):
        x, gr = _rows(args[i]), _rows(g)
        radial = np.abs(np.sum(x * gr, axis=-1))
        energy = _row_norms(x) * _row_norms(gr)
        bound = atol + rtol * float(energy.max())
        worst = int(np.argmax(radial))
        if not radial[worst] <= bound:
            raise _fail(
                loss,
                args,
                f"gradient w.r.t. argument {names[i]!r} is not tangent: row {worst} has "
                f"|x . grad| = {radial[worst]:.3e} > {bound:.3e} "
                f"(|x| |grad| = {energy[worst]:.3e}, gradient row {gr[worst]!r})",
            )


def check_homogeneous_gradient(
    loss: Loss,
    *args: Any,
    argnums: Argnums = None,
    gradient: Loss | None = None,
    scale: float = 1e3,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> None:
    """Assert grad L(c x) = grad L(x) / c, and that the other arguments' gradients stay put.

    Each argument in `argnums` (default: all) is scaled on its own: uniformly by `scale`
    and by 1 / `scale`, and for a batch of rows by a per-row pattern of both. At each
    scaled point the gradient w.r.t. the scaled rows must be the original divided by
    their c, and the gradients w.r.t. all other arguments unchanged. Deviations are
    measured as |x_row| |delta grad_row| (scale-free, see `check_tangent_gradient`)
    against atol + rtol * max_rows |x| |grad| of the same argument. `gradient` as in
    `check_tangent_gradient`.
    """
    nums = _argnums(argnums, len(args))
    names = _arg_names(loss, len(args))
    base = _gradients(loss, gradient, args, nums)
    for i in nums:
        for label, factor in _scalings(args[i], (scale, 1.0 / scale)):
            scaled = _replace(args, i, np.asarray(args[i], dtype=np.float64) * factor)
            moved = _gradients(loss, gradient, scaled, nums)
            for k, g0, g1 in zip(nums, base, moved, strict=True):
                expected = g0 / factor if k == i else g0
                weights = _row_weights(scaled[k])
                dev = weights * _row_norms(g1 - expected)
                bound = atol + rtol * float((weights * _row_norms(expected)).max())
                worst = int(np.argmax(dev))
                if not dev[worst] <= bound:
                    raise _fail(
                        loss,
                        args,
                        f"gradient w.r.t. argument {names[k]!r} is not homogeneous when "
                        f"argument {names[i]!r} takes {label}: row {worst} deviates by "
                        f"|x| |delta grad| = {dev[worst]:.3e} > {bound:.3e}",
                    )


def check_gradient_matches(
    loss: Loss,
    formula: Loss,
    *args: Any,
    argnums: int | Sequence[int] = 0,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> None:
    """Assert jax.grad(loss, argnums)(*args) equals the closed form formula(*args).

    `formula` takes the same arguments as `loss` and returns the gradient w.r.t.
    `argnums` (an array for an int, a tuple for a sequence); e.g. a Law's `fn`, or a
    function lambdified from a SymPy derivative. Rows (last axis) are compared at their
    own scale: the deviation of a row is |x_row| |delta grad_row|, the error in the
    loss change per relative perturbation of that row, so one tolerance serves rows of
    norm 1e-3 and 1e3 alike. It must be <= atol + rtol * max_rows |x| |grad| (max over
    the rows of that argument). rtol=1e-9 is ~10^6 ulps in float64.
    """
    nums = _argnums(argnums, len(args))
    names = _arg_names(loss, len(args))
    actual = _gradients(loss, None, args, nums)
    expected = _gradients(loss, formula, args, nums)
    for i, a, e in zip(nums, actual, expected, strict=True):
        weights = _row_weights(args[i])
        dev = weights * _row_norms(a - e)
        scale = float((weights * _row_norms(e)).max())
        bound = atol + rtol * scale
        worst = int(np.argmax(dev))
        if not dev[worst] <= bound:
            rel = dev[worst] / scale if scale > 0 else math.inf
            raise _fail(
                loss,
                args,
                f"jax.grad w.r.t. argument {names[i]!r} differs from "
                f"{_loss_name(formula)}: max abs deviation {np.abs(a - e).max():.3e}; "
                f"row {worst}: |x| |delta grad| = {dev[worst]:.3e} > {bound:.3e} "
                f"(relative {rel:.3e})\n  jax.grad row {_rows(a)[worst]!r}\n"
                f"  formula row  {_rows(e)[worst]!r}",
            )


def _with_gradient(
    loss: Loss, gradient: Loss, args: Sequence[Any], nums: tuple[int, ...]
) -> Callable[..., Any]:
    """loss as a function of args[nums], with `gradient` as its reverse-mode derivative."""

    def full(diff: Sequence[Any]) -> list[Any]:
        out = list(args)
        for i, value in zip(nums, diff, strict=True):
            out[i] = value
        return out

    @jax.custom_vjp
    def f(*diff: Any) -> Any:
        return loss(*full(diff))

    def forward(*diff: Any) -> tuple[Any, tuple[Any, ...]]:
        return f(*diff), diff

    def backward(diff: tuple[Any, ...], cotangent: Any) -> tuple[Any, ...]:
        grads = gradient(*full(diff))
        grads = grads if isinstance(grads, tuple | list) else (grads,)
        return tuple(cotangent * g for g in grads)

    f.defvjp(forward, backward)
    return f


def check_gradient_finite_differences(
    loss: Loss,
    *args: Any,
    argnums: int | Sequence[int] = 0,
    gradient: Loss | None = None,
    order: int = 1,
    eps: float = 1e-4,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Assert the reverse-mode gradient agrees with central finite differences.

    Wraps `jax.test_util.check_grads(modes=["rev"])` (one random direction per order).
    A fixed step would be meaningless across norms 1e-3..1e3 (the gradient scales like
    1/N, the curvature like 1/N^2), so every row x of args[argnums] is written as
    |x| u and the check runs in the unit rows u: `eps` is then a step relative to each
    row's norm, and the compared derivatives are |x| grad, which is O(1/tau) for an
    InfoNCE whatever the norms. This reparametrisation is exact for any loss. Pass a
    smaller eps for sharp losses (the truncation error grows like eps^2 / tau^3 for a
    temperature tau). With `gradient` (as in `check_gradient_matches`), that closed
    form is checked against finite differences instead of jax.grad. rtol / atol
    default to check_grads' (1e-5 in float64).
    """
    nums = _argnums(argnums, len(args))
    names = _arg_names(loss, len(args))
    target = _with_gradient(loss, gradient, args, nums) if gradient is not None else None
    row_scale = []
    for i in nums:
        x = np.asarray(args[i], dtype=np.float64)
        n = np.linalg.norm(x, axis=-1, keepdims=True) if x.ndim else np.abs(x)
        row_scale.append(np.where(n > 0, n, 1.0))
    units = tuple(
        np.asarray(args[i], dtype=np.float64) / s for i, s in zip(nums, row_scale, strict=True)
    )

    def in_units(*u: Any) -> Any:
        values = [ui * s for ui, s in zip(u, row_scale, strict=True)]
        if target is not None:
            return target(*values)
        full = list(args)
        for i, value in zip(nums, values, strict=True):
            full[i] = value
        return loss(*full)

    try:
        check_grads(in_units, units, order=order, modes=["rev"], eps=eps, rtol=rtol, atol=atol)
    except AssertionError as err:
        source = _loss_name(gradient) if gradient is not None else "jax.grad"
        wrt = ", ".join(repr(names[i]) for i in nums)
        raise _fail(
            loss,
            args,
            f"finite differences (eps={eps:g} relative to each row's norm) disagree with "
            f"{source} w.r.t. {wrt}:\n{err}",
        ) from err
