"""Imprint signs from the kernel in mean field (items 16 and 18).

Derives each law with SymPy, reduces its symbolic checks and prints the equations in
LaTeX. `normtheory derive` runs every group and writes DERIVATIONS.md and laws.tex.

Run: python derivations/imprint_sign.py
"""

from normtheory.derive import run_script

LAWS = [
    "soft_label_gini",
    "adam_draw_displacement",
    "kernel_mean_heat",
    "path_overlap_sum",
    "self_mean_heat",
]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
