# %% [markdown]
# # Verify a law in your regime and read its map
#
# Each law of THEORY.md has a check in `normtheory.verify` that runs a simulation built
# to test it and returns a result row: the predicted and measured value of one named
# quantity, the error between them, the tolerance the law claims, and a verdict
# ("holds", "partial", "fails", "not relaxed", "not applicable"). A check runs at a base
# regime of its own; you move it to yours with `key=value` settings, exactly like
# `normtheory verify accumulation --set lr=0.1` on the command line.
#
# Here: the accumulation law, THEORY.md item 6. Under plain SGD every step is
# perpendicular to the embedding, so the norm only grows, and
# N_T^4 = N_0^4 + 2 eta^2 sum_t G_t^2 up to a term eta^4 sum_t G_t^4 / N_t^4 that the
# law drops. The check claims 1% accuracy on N_T^4 for at least 90% of the items.
#
# Simulations go through the results cache (`NORMTHEORY_CACHE`, by default `results/`
# in the working directory), so a second run of this script takes no simulation time.

# %%
import jax

jax.config.update("jax_enable_x64", True)  # verification runs in float64

from normtheory.verify import run_checks  # noqa: E402
from normtheory.verify.maps import validity_map  # noqa: E402

# A tiny regime (the check's own has 200 items and 1000 steps): a free table of 20
# items in 8 dimensions, batches of 8, 50 steps of SGD at the check's lr (0.5).
REGIME = {"num_items": 20, "dim": 8, "batch": 8, "steps": 50}

results, crashes = run_checks(["accumulation"], [f"{k}={v}" for k, v in REGIME.items()])
if crashes:
    raise SystemExit(f"the check crashed: {crashes}")
row = results[0]
print(f"{row.law} (THEORY.md item {row.item}), lr={row.config['lr']:g}: {row.verdict}")
print(f"  quantity: {row.quantity}")
print(f"  predicted {row.predicted:.6g}, measured {row.measured:.6g}")
print(f"  error {row.rel_error:.3g} against tolerance {row.tolerance:.3g}")
print(f"  fraction of items and seeds within tolerance: {row.fraction_holding:.3f}")

# %% [markdown]
# The check returns a second row, the exact identity the law truncates
# (N_T^4 = law + dropped term), judged at float64 rounding: when it fails, the
# simulation is wrong, not the law.

# %%
for extra in results[1:]:
    print(f"{extra.row or extra.law}: {extra.verdict}, error {extra.rel_error:.3g}")

# %% [markdown]
# ## Read its map
#
# One regime says little about where a law stops holding. `validity_map` runs the same
# check at every cell of a grid over two regime axes and records the error, tolerance
# and verdict of each cell (`normtheory map` does the same from the command line and
# draws it). Here the grid is 2 x 1: the learning rate at 0.5 and at 20, at the
# default initial scale. The cell at lr 0.5 is the regime above, so it comes from the
# cache; the learning rate is a traced hyper-parameter, so the second cell reuses the
# compiled program.

# %%
vmap = validity_map("accumulation", x=("lr", [0.5, 20.0]), y=("init_scale", [1.0]), changes=REGIME)
for j, lr in enumerate(vmap.x_values):
    print(
        f"lr={lr:g}: {vmap.verdict[0, j]} "
        f"(error {vmap.rel_error[0, j]:.3g}, tolerance {vmap.tolerance[0, j]:.3g})"
    )
print(vmap.holds_region())

# %% [markdown]
# At lr 20 the steps are large against the norms: the term the law drops,
# eta^4 sum_t G_t^4 / N_t^4, is no longer small, and the check fails. That is a finding
# about the law's scope, not a bug: THEORY.md item 6 states the same boundary at the
# check's full size (holds at eta 10, fails at eta 20 for init_scale 1).
# `vmap.to_json()` is the map's record, with the base regime every cell shares, and
# `normtheory.verify.maps.draw(vmap, "map.png")` draws it.
