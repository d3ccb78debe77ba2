# %% [markdown]
# # Property-test your own loss
#
# A loss of cosines sees only directions, so it obeys exact identities for every
# embedding z: L(c z) = L(z) for c > 0, z . grad L = 0 (Euler), and
# grad L(c z) = grad L(z) / c. `normtheory.testing` draws the inputs on which
# hand-written losses and gradients break (norms from 1e-3 to 1e3, nearly parallel and
# antiparallel pairs, exact duplicates and antipodes) and checks the identities, and a
# closed-form gradient against `jax.grad`. It needs the `test` extra (hypothesis).
#
# The loss here is a margin loss on one pair: softplus((m - cos(z, v)) / tau), with
# its gradient in z derived by hand:
# grad_z L = -sigmoid((m - cos) / tau) / tau * (v/|v| - cos z/|z|) / |z|.

# %%
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given

from normtheory import testing

jax.config.update("jax_enable_x64", True)  # the checkers' tolerances assume float64

MARGIN, TAU = 0.5, 0.1


def margin_loss(z, v):
    """softplus((m - cos(z, v)) / tau): scale-invariant in z and in v."""
    cos = z @ v / (jnp.linalg.norm(z) * jnp.linalg.norm(v))
    return jax.nn.softplus((MARGIN - cos) / TAU)


def margin_grad(z, v):
    """The hand-derived gradient of `margin_loss` in z (tangent to z)."""
    nz, nv = jnp.linalg.norm(z), jnp.linalg.norm(v)
    cos = z @ v / (nz * nv)
    return -jax.nn.sigmoid((MARGIN - cos) / TAU) / TAU * (v / nv - cos * z / nz) / nz


# %% [markdown]
# A property test is a hypothesis test: `embedding_pairs()` draws the pairs, the
# checkers raise an AssertionError naming the input and the identity it broke, and
# `settings_profile("fast")` bounds the work (20 examples, no shrinking, and a failure
# prints the `@reproduce_failure(...)` line that replays it). In a test file the
# function below is collected by pytest; here we call it once.


# %%
@testing.settings_profile("fast")
@given(testing.embedding_pairs())
def test_margin_loss(pair):
    z, v = pair
    testing.check_scale_invariant(margin_loss, z, v)
    testing.check_tangent_gradient(margin_loss, z, v, argnums=0, gradient=margin_grad)
    testing.check_gradient_matches(margin_loss, margin_grad, z, v, argnums=0)


test_margin_loss()
print("margin_grad: every identity holds on 20 drawn pairs")


# %% [markdown]
# ## A planted bug, caught
#
# A common slip: forget the tangent projection and write the gradient of cos in z as
# v / (|v| |z|). It is off by the radial part cos z / |z|^2, so it breaks the Euler
# identity z . grad L = 0 for every pair that is not orthogonal, and the check that
# tests that identity on a closed-form gradient names the fault directly.


# %%
def margin_grad_buggy(z, v):
    """The same gradient without the tangent projection (wrong)."""
    nz, nv = jnp.linalg.norm(z), jnp.linalg.norm(v)
    cos = z @ v / (nz * nv)
    return -jax.nn.sigmoid((MARGIN - cos) / TAU) / TAU * (v / nv) / nz


@testing.settings_profile("fast")
@given(testing.embedding_pairs())
def test_margin_loss_buggy(pair):
    z, v = pair
    testing.check_tangent_gradient(margin_loss, z, v, argnums=0, gradient=margin_grad_buggy)


try:
    test_margin_loss_buggy()
except AssertionError as error:
    caught = str(error).splitlines()[0]
    print(f"margin_grad_buggy: caught: {caught}")
else:
    raise SystemExit("the planted bug was not caught")

# %% [markdown]
# The first line of the message names the loss, the argument and the broken identity;
# the rest prints the input exactly, so the failing call can be pasted and replayed.
# On one fixed pair, the radial component z . grad that the bug leaves is
# -sigmoid((m - cos) / tau) cos / tau:

# %%
z0, v0 = np.array([3.0, 0.0, 4.0]), np.array([1.0, 2.0, 2.0])
print(f"z . grad: correct {float(z0 @ margin_grad(z0, v0)):.3e}, "
      f"buggy {float(z0 @ margin_grad_buggy(z0, v0)):.6f}")  # fmt: skip
