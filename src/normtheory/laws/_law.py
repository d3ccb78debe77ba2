"""The `Law` record: one derived SymPy expression, its JAX twin, and what it assumes.

A law is built by a derivation (a function in one of the sibling modules) and never
typed by hand: the derivation constructs the expression with SymPy and attaches the
symbolic checks that justify it. `Law.verify` re-runs those checks; an exact law must
reduce every residual to exactly 0, an approximate law must agree with the exact
expression to the order it claims.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from normtheory.laws._symbols import latex

# Explicit SymPy -> JAX mapping used by every lambdified law (no silent NumPy fallback).
JAX_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": jnp.sqrt,
    "exp": jnp.exp,
    "log": jnp.log,
    "sin": jnp.sin,
    "cos": jnp.cos,
    "tan": jnp.tan,
    "acos": jnp.arccos,
    "atan": jnp.arctan,
    "Abs": jnp.abs,
    "Max": jnp.maximum,
    "Min": jnp.minimum,
    "sign": jnp.sign,
}


def lambdify_jax(params: tuple[sp.Symbol, ...], expr: sp.Expr) -> Callable[..., jax.Array]:
    """`sympy.lambdify` onto jax.numpy with common-subexpression elimination."""
    return sp.lambdify(params, expr, modules=[JAX_FUNCTIONS, "jax"], cse=True)


@dataclasses.dataclass(frozen=True)
class Bound:
    """Admissible interval of a numeric argument; `None` means unbounded on that side."""

    lower: float | None = None
    upper: float | None = None
    lower_open: bool = True
    upper_open: bool = True

    def describe(self) -> str:
        parts = []
        if self.lower is not None:
            parts.append(f"{'>' if self.lower_open else '>='} {self.lower:g}")
        if self.upper is not None:
            parts.append(f"{'<' if self.upper_open else '<='} {self.upper:g}")
        return " and ".join(parts) if parts else "finite"

    def violated(self, value: np.ndarray) -> np.ndarray:
        bad = ~np.isfinite(value)
        if self.lower is not None:
            bad |= (value <= self.lower) if self.lower_open else (value < self.lower)
        if self.upper is not None:
            bad |= (value >= self.upper) if self.upper_open else (value > self.upper)
        return bad


POSITIVE = Bound(lower=0.0)
NONNEGATIVE = Bound(lower=0.0, lower_open=False)
FINITE = Bound()
RATE = Bound(lower=0.0, upper=1.0, upper_open=False)  # (0, 1]
MOMENTUM = Bound(lower=0.0, upper=1.0, lower_open=False)  # [0, 1)
COSINE = Bound(lower=-1.0, upper=1.0, lower_open=False, upper_open=False)


@dataclasses.dataclass(frozen=True)
class Relation:
    """A constraint between arguments, e.g. eta * lam < 2 for a contracting decay."""

    condition: sp.Basic
    message: str

    def numpy_test(self) -> tuple[list[str], Callable[..., Any]]:
        """(argument names, NumPy predicate), built once per relation."""
        return _relation_test(self.condition)


@functools.cache
def _relation_test(condition: sp.Basic) -> tuple[list[str], Callable[..., Any]]:
    symbols = sorted(condition.free_symbols, key=str)
    return [str(s) for s in symbols], sp.lambdify(symbols, condition, "numpy")


@dataclasses.dataclass(frozen=True)
class Check:
    """A symbolic residual that the derivation claims is zero.

    kind="exact": `residual` simplifies to exactly 0.
    kind="leading_order": `residual` is exact minus approximate; its series in `small`
    about 0 has no term below `order` (the neglected terms are O(small**order)).
    """

    name: str
    residual: sp.Expr
    kind: Literal["exact", "leading_order"] = "exact"
    small: sp.Symbol | None = None
    order: int = 0

    def reduce(self) -> sp.Expr:
        """The simplified residual (0 when the check passes)."""
        if self.kind == "exact":
            return _simplify_to_zero(self.residual)
        if self.small is None:
            raise ValueError(f"check {self.name!r}: leading_order needs `small`")
        lead = sp.series(self.residual, self.small, 0, self.order).removeO()
        return _simplify_to_zero(lead)


def nonzero_rows(*names: str) -> Callable[[Mapping[str, np.ndarray]], None]:
    """Array check: every row (last axis) of the named arguments has a positive norm."""

    def check(values: Mapping[str, np.ndarray]) -> None:
        for name in names:
            if name in values and np.any(np.linalg.norm(values[name], axis=-1) == 0):
                raise ValueError(f"argument {name!r} has a zero row; its direction is undefined")

    return check


def _simplify_to_zero(expr: sp.Expr) -> sp.Expr:
    expr = sp.sympify(expr)
    for step in (sp.expand, sp.cancel, sp.simplify):
        expr = step(expr)
        if expr == 0:
            return sp.Integer(0)
    return expr


def resolve_ranges(expr: sp.Expr) -> sp.Expr:
    """Drop the out-of-range branches SymPy adds when differentiating an indexed sum.

    `Sum(f(k) * KroneckerDelta(j, k), (k, 1, K)).doit()` gives
    Piecewise((f(j), K >= j), (0, True)); every free index here is in range by
    construction, so the first branch is the value.
    """
    expr = expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0][0])
    return expr.replace(lambda e: isinstance(e, sp.Sum), _collapse_delta_sum)


def _collapse_delta_sum(total: sp.Sum) -> sp.Expr:
    """sum_i f(i) delta(a, i) = f(a) for an in-range index a (sums SymPy leaves unevaluated)."""
    ((var, _, _),) = total.limits
    terms = sp.Add.make_args(sp.expand(total.function))
    collapsed = []
    for term in terms:
        deltas = [e for e in term.atoms(sp.KroneckerDelta) if var in e.free_symbols]
        if len(deltas) != 1:
            return total
        delta = deltas[0]
        other = delta.args[0] if delta.args[1] == var else delta.args[1]
        collapsed.append(term.xreplace({delta: sp.Integer(1)}).xreplace({var: other}))
    return sp.Add(*collapsed)


@dataclasses.dataclass(frozen=True)
class ScalarRecurrence:
    """A deterministic map of scalar state, x_{t+1} = update(x_t; params).

    The equilibrium laws are derived as fixed points of such maps; `iterate` runs the
    map (under jit, lax.fori_loop) so tests can compare a closed form with the limit.
    """

    state: tuple[sp.Symbol, ...]
    update: tuple[sp.Expr, ...]
    params: tuple[sp.Symbol, ...]

    @property
    def fn(self) -> Callable[..., Any]:
        return lambdify_jax((*self.state, *self.params), list(self.update))

    def iterate(self, init: tuple[Any, ...], params: Mapping[str, Any], steps: int) -> tuple:
        """Apply the map `steps` times from `init`; params by symbol name."""
        fn = self.fn
        args = tuple(params[str(p)] for p in self.params)

        def body(_, x):
            return tuple(fn(*x, *args))

        start = tuple(jnp.asarray(x, dtype=jnp.result_type(float)) for x in init)
        return jax.lax.fori_loop(0, steps, body, start)

    def fixed_point_residual(self, point: Mapping[sp.Symbol, sp.Expr]) -> tuple[sp.Expr, ...]:
        """update(x*) - x*, for closed-form checks."""
        return tuple(
            u.xreplace(point) - x.xreplace(point)
            for x, u in zip(self.state, self.update, strict=True)
        )


@dataclasses.dataclass(frozen=True)
class Law:
    """A derived law: `lhs = rhs` with the JAX function that evaluates `rhs`.

    Attributes:
      name: registry name, e.g. "sgd_decay_equilibrium".
      item: the THEORY.md item the law belongs to.
      title: one line for tables.
      lhs, rhs: SymPy expressions; `rhs` is what `fn` computes.
      params: argument names of `fn` in call order.
      bounds: admissible values of scalar arguments; checked on concrete inputs.
      relations: constraints between arguments.
      exact: True when the law holds with no neglected terms under its assumptions.
      assumptions, reference: stated in the derivation output and the docstring.
      checks: the symbolic residuals justifying the law.
      fn: the JAX function (pure, jit-able, broadcasting over array arguments).
    """

    name: str
    item: int
    title: str
    lhs: sp.Expr
    rhs: sp.Expr
    params: tuple[str, ...]
    bounds: Mapping[str, Bound]
    exact: bool
    assumptions: str
    reference: str
    checks: tuple[Check, ...]
    fn: Callable[..., Any] = dataclasses.field(repr=False, compare=False)
    relations: tuple[Relation, ...] = ()
    array_checks: tuple[Callable[[Mapping[str, np.ndarray]], None], ...] = ()
    symbols: Mapping[str, sp.Symbol] = dataclasses.field(default_factory=dict, repr=False)
    recurrence: ScalarRecurrence | None = dataclasses.field(default=None, compare=False)
    latex_names: Mapping[sp.Symbol, str] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self.signature.bind(*args, **kwargs).arguments
        self.validate(values)
        return self.fn(*(values[p] for p in self.params))

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        """Call signature of the JAX twin: the parameter names, positional or keyword."""
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        return inspect.Signature([inspect.Parameter(p, kind) for p in self.params])

    def validate(self, values: Mapping[str, Any]) -> None:
        """Raise ValueError naming the first argument outside its admissible range.

        Traced values (inside jit/vmap) cannot be inspected and are skipped.
        """
        concrete: dict[str, np.ndarray] = {}
        for name, value in values.items():
            if isinstance(value, jax.core.Tracer):
                continue
            arr = np.asarray(value)
            if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                raise TypeError(
                    f"{self.name}: argument {name!r} must be a number or a numeric array; "
                    f"got {value!r}"
                )
            concrete[name] = arr
            bound = self.bounds.get(name, FINITE)
            bad = bound.violated(np.asarray(arr, dtype=np.float64))
            if np.any(bad):
                example = arr[bad].ravel()[0] if arr.ndim else arr
                requirement = bound.describe()
                if requirement != "finite":
                    requirement += " (and finite)"
                raise ValueError(
                    f"{self.name}: argument {name!r} must be {requirement}; got {example!r}"
                )
        for array_check in self.array_checks:
            try:
                array_check(concrete)
            except ValueError as error:
                raise ValueError(f"{self.name}: {error}") from None
        for relation in self.relations:
            names, test = relation.numpy_test()
            if not all(n in concrete for n in names):
                continue
            if not np.all(np.asarray(test(*(concrete[n] for n in names)))):
                raise ValueError(f"{self.name}: {relation.message}")

    def latex(self) -> str:
        """`lhs = rhs` in LaTeX, with the shared symbol names and this law's own."""
        return f"{latex(self.lhs, self.latex_names)} = {latex(self.rhs, self.latex_names)}"

    def verify(self) -> list[tuple[Check, sp.Expr]]:
        """Reduce every symbolic check; a passing check reduces to 0."""
        return [(check, check.reduce()) for check in self.checks]


def scalar_law(
    *,
    name: str,
    item: int,
    title: str,
    lhs: sp.Expr,
    rhs: sp.Expr,
    params: tuple[sp.Symbol, ...],
    exact: bool,
    assumptions: str,
    reference: str,
    checks: tuple[Check, ...],
    bounds: Mapping[str, Bound] | None = None,
    relations: tuple[Relation, ...] = (),
    recurrence: ScalarRecurrence | None = None,
    latex_names: Mapping[sp.Symbol, str] | None = None,
) -> Law:
    """A law whose JAX twin is `lambdify_jax(params, rhs)`.

    Bounds default from the SymPy assumptions of each parameter symbol (positive,
    nonnegative); `bounds` overrides them per argument name.
    """
    default: dict[str, Bound] = {}
    for sym in params:
        if sym.is_positive:
            default[str(sym)] = POSITIVE
        elif sym.is_nonnegative:
            default[str(sym)] = NONNEGATIVE
        else:
            default[str(sym)] = FINITE
    default.update(bounds or {})
    return Law(
        name=name,
        item=item,
        title=title,
        lhs=lhs,
        rhs=rhs,
        params=tuple(str(s) for s in params),
        bounds=default,
        exact=exact,
        assumptions=assumptions,
        reference=reference,
        checks=checks,
        fn=lambdify_jax(params, rhs),
        relations=relations,
        symbols={str(s): s for s in params},
        recurrence=recurrence,
        latex_names=dict(latex_names or {}),
    )
