"""Cosine and InfoNCE gradients; Euler identity and homogeneity (THEORY.md items 1-3).

Derives each law with SymPy, reduces its symbolic checks and prints the equations in
LaTeX. `normtheory derive` runs every group and writes DERIVATIONS.md and laws.tex.

Run: python derivations/gradients.py
"""

from normtheory.derive import run_script

LAWS = [
    "cosine_gradient",
    "cosine_gradient_norm",
    "infonce_gradient",
    "symmetric_infonce_gradient",
    "supervised_infonce_gradient",
]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
