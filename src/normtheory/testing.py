"""Property-test your own scale-invariant loss: hypothesis strategies and checkers.

A loss of cosines sees only directions, so it must satisfy three exact identities for
every embedding x: L(c x) = L(x) for c > 0, x . grad L = 0 (Euler), and
grad L(c x) = grad L(x) / c (homogeneity). The strategies draw the inputs that break
hand-written losses and gradients: norms from 1e-3 to 1e3, nearly parallel and
antiparallel pairs, exactly duplicated and antipodal rows, labels that occur once (an
anchor without a positive), and temperatures from 0.01 to 10 with both ends drawn
often. The checkers raise AssertionError naming the offending input and how to replay
it; a NaN or infinite gradient (the gradient of a norm at a duplicated row, of
sqrt(1 - cos^2) at an antipodal one) fails every gradient check. Default tolerances
assume float64, so enable ``jax_enable_x64``. Example::

    import jax
    import jax.numpy as jnp
    from hypothesis import given
    from normtheory import testing

    jax.config.update("jax_enable_x64", True)

    def margin_loss(z, v):  # softplus of a cosine margin: scale-invariant in z and v
        cos = z @ v / (jnp.linalg.norm(z) * jnp.linalg.norm(v))
        return jax.nn.softplus((0.5 - cos) / 0.1)

    @testing.settings_profile("fast")  # 20 examples, no shrinking, replayable failures
    @given(testing.embedding_pairs())
    def test_margin_loss(pair):
        testing.check_scale_invariant(margin_loss, *pair)
        testing.check_tangent_gradient(margin_loss, *pair)
        testing.check_homogeneous_gradient(margin_loss, *pair)
        testing.check_gradient_finite_differences(margin_loss, *pair, argnums=(0, 1))

Speed: the checkers jit the loss, `jax.grad` of it and a closed-form gradient once per
function and shape (a function that cannot be traced runs eagerly), and shapes are
drawn from small fixed sets (`DIMENSIONS`, `BATCH_SIZES`, `CANDIDATE_COUNTS`), so a
test compiles a handful of times, not once per example. Define the loss once (at module
level), not as a new closure in every example, so that its compilation is reused.

Failures: `settings_profile` gives hypothesis settings that bound the work of a failing
test ("fast": no shrinking, so the first failing example is reported at once;
"thorough": 500 examples and shrinking) and print a ``@reproduce_failure(...)`` line
that replays the failing example when added to the test as a decorator; the "fast"
profile is also derandomized, so rerunning the test draws the same examples. The
profiles are registered as "normtheory-fast" and "normtheory-thorough" for
``settings.load_profile`` or pytest's ``--hypothesis-profile``. A checker's message
prints every input exactly (shortest round-trip float64 digits), so the single failing
call can also be replayed by pasting it, with ``from numpy import array``.

Needs the ``test`` extra (hypothesis).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

try:
    from hypothesis import Phase, settings
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
    "PROFILES",
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
    "settings_profile",
    "temperatures",
    "vectors",
]

DIMENSIONS = (2, 3, 8)
BATCH_SIZES = (2, 4, 6)
CANDIDATE_COUNTS = (2, 5)
# How a second row relates to a first: independent; nearly parallel or antiparallel
# (EDGE_ANGLES away); or an exact copy / exact negative of it (same norm).
PAIR_KINDS = ("generic", "parallel", "antiparallel", "duplicate", "antipodal")
EDGE_ANGLES = (1e-6, 1e-3)  # angle (radians) of a "nearly" parallel/antiparallel pair
DEFAULT_SCALES = (1e-3, 0.3, 7.0, 1e3)
_EXACT_KINDS = {"duplicate": 1.0, "antipodal": -1.0}

Loss = Callable[..., Any]
Argnums = int | Sequence[int] | None
Size = int | Sequence[int] | None  # a fixed size, the choices to draw from, or the default set


# -------------------------------------------------------------------- settings profiles

PROFILES = ("fast", "thorough")


def settings_profile(name: str = "fast", **overrides: Any) -> settings:
    """Hypothesis settings for property tests of a loss; use as a decorator or a parent.

    Args:
        name: "fast" (CI: 20 examples, derandomized, so a rerun draws the same examples;
            no shrink or explain phase, so a failure is reported as soon as it is found
            instead of after minutes of shrinking; the first failure only) or
            "thorough" (local: 500 random examples, shrinking on, every distinct
            failure reported).
        **overrides: any `hypothesis.settings` field, replacing the profile's value.

    Returns:
        A `hypothesis.settings`. Both profiles set deadline=None (the first example of
        each shape pays for JIT compilation) and print_blob=True (a failure prints the
        ``@reproduce_failure(...)`` decorator that replays it). No health check is
        suppressed: the strategies here draw little data and draw it quickly.
        ``@testing.settings_profile("fast")`` decorates a test;
        ``settings.register_profile("mine", testing.settings_profile("fast"))`` makes
        it a parent. The same are registered as "normtheory-fast" and
        "normtheory-thorough".
    """
    if name not in PROFILES:
        raise ValueError(f"unknown settings profile {name!r}; known: {', '.join(PROFILES)}")
    common = {"deadline": None, "print_blob": True}
    if name == "fast":
        values = {
            "max_examples": 20,
            "derandomize": True,
            "database": None,
            "phases": (Phase.explicit, Phase.reuse, Phase.generate),
            "report_multiple_bugs": False,
        }
    else:
        values = {"max_examples": 500}
    return settings(**{**common, **values, **overrides})


for _name in PROFILES:
    settings.register_profile(f"normtheory-{_name}", settings_profile(_name))


# --------------------------------------------------------------------------- strategies


def _log_uniform(min_value: float, max_value: float) -> st.SearchStrategy[float]:
    if not 0 < min_value <= max_value:
        raise ValueError(f"need 0 < min_value <= max_value; got {min_value}, {max_value}")
    low, high = math.log(min_value), math.log(max_value)
    return st.floats(low, high).map(lambda t: min(max(math.exp(t), min_value), max_value))


def temperatures(
    min_value: float = 0.01, max_value: float = 10.0, ends: float = 0.25
) -> st.SearchStrategy[float]:
    """Softmax temperatures tau (Python floats) in [min_value, max_value].

    Args:
        min_value, max_value: the range; 0 < min_value <= max_value.
        ends: probability of drawing exactly min_value or max_value (each half of it),
            where a wrong power of tau is largest; otherwise log-uniform. 0 gives the
            log-uniform draw only.

    Returns:
        A strategy of floats.
    """
    inner = _log_uniform(min_value, max_value)
    if not 0 <= ends <= 1:
        raise ValueError(f"ends is a probability in [0, 1]; got {ends!r}")
    if ends == 0:
        return inner
    cut = round(ends * 1000)
    extremes = st.sampled_from((min_value, max_value))
    return st.integers(0, 999).flatmap(lambda r: extremes if r < cut else inner)


def norms(min_value: float = 1e-3, max_value: float = 1e3) -> st.SearchStrategy[float]:
    """Embedding norms, log-uniform in [min_value, max_value]."""
    return _log_uniform(min_value, max_value)


def _size(value: Size, default: Sequence[int]) -> st.SearchStrategy[int]:
    if value is None:
        return st.sampled_from(default)
    return st.just(value) if isinstance(value, int) else st.sampled_from(tuple(value))


def _check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in PAIR_KINDS]
    if not kinds or unknown:
        raise ValueError(f"kinds must be a non-empty subset of {PAIR_KINDS}; got {kinds!r}")
    return kinds


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
    direction orthogonal to u; "duplicate" / "antipodal" are +u / -u exactly; "generic"
    is independent of u.
    """
    if kind == "generic":
        return _unit(rng, u.shape[0])
    if kind in _EXACT_KINDS:
        return _EXACT_KINDS[kind] * u
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


def _norm_list(draw: st.DrawFn, count: int) -> list[float]:
    return draw(st.lists(norms(), min_size=count, max_size=count))


def _norm_column(draw: st.DrawFn, count: int) -> np.ndarray:
    return np.asarray(_norm_list(draw, count))[:, None]


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
    """Pairs (z, v) with norms in [1e-3, 1e3] and a drawn relative direction.

    Each pair's kind is drawn uniformly from `kinds` (default `PAIR_KINDS`):
    "generic" (independent directions and norms), "parallel" or "antiparallel" (v at
    1e-6 or 1e-3 radians from +z or -z, independent norm), "duplicate" (v = z exactly)
    or "antipodal" (v = -z exactly), so an edge case comes up in about four of five
    pairs. Shapes: (dim,) each when `batch` is False; (B, dim) with a kind per row
    otherwise, B drawn from `BATCH_SIZES` when `batch` is True, else as for
    `embeddings`' count.
    """
    kinds = _check_kinds(kinds)
    d = draw(_size(dim, DIMENSIONS))
    n = 1 if batch is False else draw(_size(None if batch is True else batch, BATCH_SIZES))
    if n < 1:
        raise ValueError(f"batch must be at least 1; got {n}")
    rng = draw(_rngs())
    z_dirs, v_dirs, row_kinds = [], [], []
    for _ in range(n):
        u = _unit(rng, d)
        kind = draw(st.sampled_from(kinds))
        z_dirs.append(u)
        v_dirs.append(_related(u, kind, draw(st.sampled_from(EDGE_ANGLES)), rng))
        row_kinds.append(kind)
    z_norms, v_norms = _norm_column(draw, n), _norm_column(draw, n)
    exact = np.asarray([k in _EXACT_KINDS for k in row_kinds])[:, None]
    z = np.stack(z_dirs) * z_norms
    v = np.stack(v_dirs) * np.where(exact, z_norms, v_norms)
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

    Each candidate is related to z as a pair of `embedding_pairs` is (a duplicate or
    antipodal candidate is +z or -z exactly); other norms in [1e-3, 1e3]. Targets sum
    to 1: one-hot at a drawn candidate, or soft (Dirichlet weights) when `soft` is
    True; None draws either. K defaults to a draw from `CANDIDATE_COUNTS`.
    """
    kinds = _check_kinds(kinds)
    d = draw(_size(dim, DIMENSIONS))
    k = draw(_size(count, CANDIDATE_COUNTS))
    rng = draw(_rngs())
    u = _unit(rng, d)
    row_kinds = [draw(st.sampled_from(kinds)) for _ in range(k)]
    rows = [_related(u, kind, draw(st.sampled_from(EDGE_ANGLES)), rng) for kind in row_kinds]
    z_norm = draw(norms())
    row_norms = [
        z_norm if kind in _EXACT_KINDS else n
        for kind, n in zip(row_kinds, _norm_list(draw, k), strict=True)
    ]
    candidates = np.stack(rows) * np.asarray(row_norms)[:, None]
    if draw(st.booleans()) if soft is None else soft:
        weights = rng.dirichlet(np.ones(k))
        targets = weights / weights.sum()
    else:
        targets = np.eye(k)[draw(st.integers(0, k - 1))]
    return u * z_norm, candidates, targets


def _labels(draw: st.DrawFn, n: int, singletons: bool | None) -> np.ndarray:
    """Labels for n rows: some classes of two or more, and `singletons` classes of one."""
    if singletons is None:
        # 0, the simplest choice, gives singletons: hypothesis' early examples have them.
        lonely = draw(st.integers(1, n - 2)) if n >= 3 and draw(st.integers(0, 1)) == 0 else 0
    elif singletons:
        if n < 3:
            raise ValueError(f"singletons=True needs batches of at least 3 rows; got {n}")
        lonely = draw(st.integers(1, n - 2))
    else:
        lonely = 0
    paired = n - lonely
    classes = draw(st.integers(1, paired // 2))
    extra = [draw(st.integers(0, classes - 1)) for _ in range(paired - 2 * classes)]
    members = [*range(classes), *range(classes), *extra, *range(classes, classes + lonely)]
    return np.asarray(draw(st.permutations(members)), dtype=np.int64)


@st.composite
def labelled_batches(
    draw: st.DrawFn,
    dim: Size = None,
    count: Size = None,
    kinds: Sequence[str] = PAIR_KINDS,
    singletons: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(z (B, dim), labels (B,) int64) for a supervised (SupCon) loss.

    Args:
        dim, count: sizes as for `embeddings`; B >= 2.
        kinds: how each row after the first relates to a drawn earlier row (see
            `embedding_pairs`; a duplicate or antipodal row has that row's norm, the
            others norms in [1e-3, 1e3]).
        singletons: whether some labels occur once, i.e. anchors without a positive:
            None draws them in about half of the batches with B >= 3; True in every
            batch (B >= 3); False never (every label occurs at least twice).

    Returns:
        (z, labels). At least one label occurs twice, so some anchor has a positive.
    """
    kinds = _check_kinds(kinds)
    d = draw(_size(dim, DIMENSIONS))
    n = draw(_size(count, BATCH_SIZES))
    if n < 2:
        raise ValueError(f"a labelled batch needs at least 2 rows; got {n}")
    labels = _labels(draw, n, singletons)
    rng = draw(_rngs())
    free = _norm_list(draw, n)
    rows, row_norms = [_unit(rng, d)], [free[0]]
    for i in range(1, n):
        j = draw(st.integers(0, i - 1))
        kind = draw(st.sampled_from(kinds))
        rows.append(_related(rows[j], kind, draw(st.sampled_from(EDGE_ANGLES)), rng))
        row_norms.append(row_norms[j] if kind in _EXACT_KINDS else free[i])
    return np.stack(rows) * np.asarray(row_norms)[:, None], labels


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
    """The inputs, each on its own line in shortest round-trip float64 digits (exact)."""
    lines = []
    with np.printoptions(floatmode="unique", threshold=2000, linewidth=120):
        for name, value in zip(_arg_names(loss, len(args)), args, strict=True):
            text = repr(value) if isinstance(value, int | float) else repr(np.asarray(value))
            lines.append(f"  {name} = {text}")
    return "inputs:\n" + "\n".join(lines)


def _fail(
    loss: Loss, args: Sequence[Any], check: str, message: str, formula: Loss | None = None
) -> AssertionError:
    """The AssertionError of `check`: what failed, the exact inputs, how to replay it."""
    names = [_loss_name(loss), *([_loss_name(formula)] if formula else [])]
    names += _arg_names(loss, len(args))
    replay = (
        f"replay: testing.{check}({', '.join(names)}, ...) with these inputs "
        "(from numpy import array); in a hypothesis test under "
        "testing.settings_profile(), the @reproduce_failure(...) line printed with "
        "this failure replays the whole example"
    )
    return AssertionError(f"{_loss_name(loss)}: {message}\n{_describe(loss, args)}\n{replay}")


class _Compiled:
    """`fn` under jax.jit, or eagerly once tracing it has failed (Python control flow
    on values, non-array arguments): jit retraces only for a new shape or dtype."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.jitted = jax.jit(fn)
        self.eager = False

    def __call__(self, *args: Any) -> Any:
        if not self.eager:
            try:
                return self.jitted(*args)
            except Exception:  # the eager call below re-raises a genuine error
                out = self.fn(*args)
                self.eager = True
                return out
        return self.fn(*args)


@functools.lru_cache(maxsize=64)
def _cached(fn: Callable[..., Any], nums: tuple[int, ...] | None) -> _Compiled:
    return _Compiled(fn if nums is None else jax.grad(fn, argnums=nums))


def _compiled(fn: Callable[..., Any], nums: tuple[int, ...] | None = None) -> Callable[..., Any]:
    """fn (nums None) or jax.grad(fn, argnums=nums), compiled once per function and shape.

    The 64 most recently used (function, argnums) are kept, so a test that checks the
    same loss on many examples compiles it once per shape.
    """
    try:
        return _cached(fn, nums)
    except TypeError:  # an unhashable callable: compile for this call only
        return _Compiled(fn if nums is None else jax.grad(fn, argnums=nums))


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
    loss: Loss, gradient: Loss | None, args: Sequence[Any], nums: tuple[int, ...], check: str
) -> tuple[np.ndarray, ...]:
    """Gradients with respect to args[nums] from jax.grad, or from `gradient` if given.

    A NaN or infinite entry fails `check` (e.g. the NaN gradient of a norm at 0, at a
    duplicated row): every identity compared later would fail on it less clearly.
    """
    if gradient is None:
        out = _compiled(loss, nums)(*args)
    else:
        out = _compiled(gradient)(*args)
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
        bad = ~np.isfinite(_rows(g)).all(axis=-1)
        if bad.any():
            source = "jax.grad" if gradient is None else _loss_name(gradient)
            names = _arg_names(loss, len(args))
            raise _fail(
                loss,
                args,
                check,
                f"{source} w.r.t. argument {names[i]!r} is not finite in rows "
                f"{np.flatnonzero(bad).tolist()}: first bad row {_rows(g)[bad][0]!r}",
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
    compiled = _compiled(loss)
    base = float(compiled(*args))
    if not math.isfinite(base):
        raise _fail(loss, args, "check_scale_invariant", f"loss is not finite ({base!r})")
    names = _arg_names(loss, len(args))
    for i in _argnums(argnums, len(args)):
        for label, factor in _scalings(args[i], scales):
            scaled = _replace(args, i, np.asarray(args[i], dtype=np.float64) * factor)
            value = float(compiled(*scaled))
            if not abs(value - base) <= atol + rtol * abs(base):
                raise _fail(
                    loss,
                    args,
                    "check_scale_invariant",
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
    for i, g in zip(
        nums, _gradients(loss, gradient, args, nums, "check_tangent_gradient"), strict=True
    ):
        x, gr = _rows(args[i]), _rows(g)
        radial = np.abs(np.sum(x * gr, axis=-1))
        energy = _row_norms(x) * _row_norms(gr)
        bound = atol + rtol * float(energy.max())
        worst = int(np.argmax(radial))
        if not radial[worst] <= bound:
            raise _fail(
                loss,
                args,
                "check_tangent_gradient",
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
    base = _gradients(loss, gradient, args, nums, "check_homogeneous_gradient")
    for i in nums:
        for label, factor in _scalings(args[i], (scale, 1.0 / scale)):
            scaled = _replace(args, i, np.asarray(args[i], dtype=np.float64) * factor)
            moved = _gradients(loss, gradient, scaled, nums, "check_homogeneous_gradient")
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
                        "check_homogeneous_gradient",
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
    actual = _gradients(loss, None, args, nums, "check_gradient_matches")
    expected = _gradients(loss, formula, args, nums, "check_gradient_matches")
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
                "check_gradient_matches",
                f"jax.grad w.r.t. argument {names[i]!r} differs from "
                f"{_loss_name(formula)}: max abs deviation {np.abs(a - e).max():.3e}; "
                f"row {worst}: |x| |delta grad| = {dev[worst]:.3e} > {bound:.3e} "
                f"(relative {rel:.3e})\n  jax.grad row {_rows(a)[worst]!r}\n"
                f"  formula row  {_rows(e)[worst]!r}",
                formula,
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

    loss, gradient = _compiled(loss), _compiled(gradient)

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
    compiled = _compiled(loss)
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
        return compiled(*full)

    try:
        check_grads(in_units, units, order=order, modes=["rev"], eps=eps, rtol=rtol, atol=atol)
    except AssertionError as err:
        source = _loss_name(gradient) if gradient is not None else "jax.grad"
        wrt = ", ".join(repr(names[i]) for i in nums)
        raise _fail(
            loss,
            args,
            "check_gradient_finite_differences",
            f"finite differences (eps={eps:g} relative to each row's norm) disagree with "
            f"{source} w.r.t. {wrt}:\n{err}",
        ) from err
