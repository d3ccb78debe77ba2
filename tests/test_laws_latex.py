"""A law's printed form is its own: no module changes the shared symbol names."""

from __future__ import annotations

import sympy as sp

from normtheory import laws
from normtheory.laws import _symbols


def test_module_symbols_print_through_their_law_not_a_shared_dict():
    before = dict(_symbols.LATEX_NAMES)
    for name in laws.names():
        laws.get(name).latex()
    assert _symbols.LATEX_NAMES == before
    assert all(not str(sym).startswith(("P", "depth", "gg")) for sym in before)
    assert r"\mathrm{depth}" in laws.get("compositional_self_heat").latex()
    # A symbol of the same name elsewhere prints plainly: names do not leak across laws.
    assert _symbols.latex(sp.Symbol("depth", positive=True)) == r"depth"
