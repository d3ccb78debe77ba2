"""The laws of THEORY.md as derived SymPy expressions with JAX twins.

Every law is built by a derivation function on first use and cached; look one up by
name::

    from normtheory import laws
    law = laws.get("sgd_decay_equilibrium")
    law(eta=0.1, lam=1e-3, G2=1.0)   # JAX evaluation, arguments validated
    law.rhs, law.latex(), law.verify()

or as an attribute, ``laws.sgd_decay_equilibrium``. `names()` lists them in THEORY.md
order.
"""

from __future__ import annotations

import functools
import importlib

from normtheory.laws._law import Bound, Check, Law, Relation, ScalarRecurrence

__all__ = ["Bound", "Check", "Law", "Relation", "ScalarRecurrence", "get", "names"]

# The registry (name -> module, function) is imported by name on first use, so that a
# module using one law (as the engine uses `laws.budget`) neither imports the others nor
# depends on their source: see `normtheory.cache.code_identity`.
_REGISTRY = "normtheory.laws.registry"


def _builders() -> dict[str, tuple[str, str]]:
    return importlib.import_module(_REGISTRY).BUILDERS


def names() -> list[str]:
    """Registered law names, in THEORY.md item order."""
    return list(_builders())


@functools.cache
def get(name: str) -> Law:
    """The law called `name` (derived on first use, then cached).

    Args:
        name: a registered law name (`names()` lists them, in THEORY.md item order).

    Returns:
        The `Law`: its SymPy statement (`lhs`, `rhs`, `checks`), its JAX twin (call it
        with the law's parameters as keyword arrays; they broadcast), and its bounds.

    Raises:
        KeyError: an unknown name, listing the known ones.
    """
    builders = _builders()
    try:
        module, function = builders[name]
    except KeyError:
        raise KeyError(f"unknown law {name!r}; known: {', '.join(builders)}") from None
    return getattr(importlib.import_module(f"normtheory.laws.{module}"), function)()


def __getattr__(name: str) -> Law:
    if not name.startswith("_") and name in _builders():
        return get(name)
    raise AttributeError(f"module 'normtheory.laws' has no attribute {name!r}")
