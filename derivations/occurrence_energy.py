"""The energy per occurrence as a mixture over copies, and its imprint slope (item 8c).

Derives with SymPy the binomial mixture epsilon(pi) = E[e_{m+1}], m ~ Binomial(B - 1, pi),
and the closed form of its slope k = d log epsilon / d log pi, reduces their symbolic
checks and prints the equations in LaTeX. `normtheory derive` runs every group and
writes DERIVATIONS.md and laws.tex.

Run: python derivations/occurrence_energy.py
"""

from normtheory.derive import run_script

LAWS = ["occurrence_energy_mixture", "occurrence_energy_slope"]

if __name__ == "__main__":
    raise SystemExit(run_script(LAWS))
