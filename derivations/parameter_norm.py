"""The parameter norm of a homogeneous shared encoder: Pythagoras in parameter space (item 17).

Derives each law with SymPy, reduces its symbolic checks and prints the equations in
LaTeX. `normtheory derive` runs every group and writes DERIVATIONS.md and laws.tex.

Run: python derivations/parameter_norm.py
"""

from normtheory.derive import run_script

LAWS = ["parameter_pythagoras"]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
