"""Plain (S)GD on a scale-invariant loss: norm identities and their laws (items 4-8).

Derives each law with SymPy, reduces its symbolic checks and prints the equations in
LaTeX. `normtheory derive` runs every group and writes DERIVATIONS.md and laws.tex.

Run: python derivations/gd_step.py
"""

from normtheory.derive import run_script

LAWS = [
    "gd_norm_step",
    "gd_norm_step_quartic",
    "modified_flow_quartic_rate",
    "accumulation",
    "gd_angle_per_step",
    "frequency_imprint",
    "frequency_imprint_occurrences",
]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
