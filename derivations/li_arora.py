"""Li-Arora equivalence of weight decay and an exponential learning rate (item 10).

Derives each law with SymPy, reduces its symbolic checks and prints the equations in
LaTeX. `normtheory derive` runs every group and writes DERIVATIONS.md and laws.tex.

Run: python derivations/li_arora.py
"""

from normtheory.derive import run_script

LAWS = ["li_arora_learning_rate", "li_arora_scale"]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
