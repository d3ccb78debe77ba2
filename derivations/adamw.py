"""AdamW random-walk equilibrium: norm and angle per step (item 11).

Derives each law with SymPy, reduces its symbolic checks and prints the equations in
LaTeX. `normtheory derive` runs every group and writes DERIVATIONS.md and laws.tex.

Run: python derivations/adamw.py
"""

from normtheory.derive import run_script

LAWS = ["adamw_equilibrium", "adamw_angle"]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
