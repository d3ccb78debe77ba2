"""The exact one-step norm budget and the drift-heat equilibrium (item 12).

Derives each law with SymPy, reduces its symbolic checks and prints the equations in
LaTeX. `normtheory derive` runs every group and writes DERIVATIONS.md and laws.tex.

Run: python derivations/budget.py
"""

from normtheory.derive import run_script

LAWS = ["norm_budget", "drift_scale", "heat_scale", "drift_heat_equilibrium"]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
