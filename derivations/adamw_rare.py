"""AdamW equilibrium of a row drawn with probability p per step (item 11b).

Derives the law with SymPy (the momentum tail's geometric sums in closed form, the
second moment's Laplace integral, its rare and frequent limits), reduces its symbolic
checks and prints the equation in LaTeX. `normtheory derive` runs every group and writes
DERIVATIONS.md and laws.tex.

Run: python derivations/adamw_rare.py
"""

from normtheory.derive import run_script

LAWS = ["adamw_rare_row_equilibrium"]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
