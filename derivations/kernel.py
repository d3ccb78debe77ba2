"""The kernel norm budget of shared encoders: self, cross and rest parts (item 15).

Derives each law with SymPy, reduces its symbolic checks and prints the equations in
LaTeX. `normtheory derive` runs every group and writes DERIVATIONS.md and laws.tex.

Run: python derivations/kernel.py
"""

from normtheory.derive import run_script

LAWS = [
    "kernel_first_order",
    "kernel_split",
    "euler_self_drift",
    "compositional_sgd_kernel",
    "compositional_self_heat",
    "compositional_adam_kernel",
]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
