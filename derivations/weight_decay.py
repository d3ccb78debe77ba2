"""SGD with coupled L2 weight decay: recurrence, equilibria and angle (item 9).

Derives each law with SymPy, reduces its symbolic checks and prints the equations in
LaTeX. `normtheory derive` runs every group and writes DERIVATIONS.md and laws.tex.

Run: python derivations/weight_decay.py
"""

from normtheory.derive import run_script

LAWS = [
    "sgd_decay_step",
    "sgd_decay_equilibrium",
    "sgd_decay_angle",
    "sparse_decay_equilibrium",
    "sparse_decay_equilibrium_quartic",
    "sparse_decay_shot_noise",
    "momentum_decay_equilibrium",
    "momentum_decay_angle",
]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
