"""The energy of one sparse update of a free-table row, from its copies (item 9d).

Derives with SymPy the first two moments of the per-update energy G^2 of a row drawn by
K ~ Binomial(B, pi) batch slots, given an update (K >= 1), from the binomial's factorial
moments; checks them against the explicit binomial sum at B = 4, the single-slot case and
the rare limit; prints the equations in LaTeX. `normtheory derive` runs every group and
writes DERIVATIONS.md and laws.tex.

Run: python derivations/sparse_energy.py
"""

from normtheory.derive import run_script

LAWS = ["sparse_update_energy", "sparse_update_energy_square"]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
