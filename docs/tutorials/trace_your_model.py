# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Trace your own model: does its norm encode frequency, and why?
#
# A CLIP-like two-tower model: an image tower and a text tower, each a small MLP with
# LayerNorm, trained with the symmetric InfoNCE loss and a learnable logit scale.
# Concepts are drawn with Zipf probabilities, so some are seen far more often than
# others. We ask two questions of the image tower's embedding of each concept:
#
# 1. Does its norm encode how often the concept was drawn? (`imprint_slope`: the
#    slope of log N on log probability, with a 95% bootstrap interval, and Spearman's
#    rho.)
# 2. Is the norm set by weight decay, by drift (radial updates: Adam's, and those
#    made by other samples through the shared weights) or by heat (the tangential
#    kick)? (`budget_shares`: the fractions of the net change of N^2, and how big the
#    remainder the first-order budget leaves is.)
#
# The run is in float64 so that the budget's remainder is the model's, not rounding.

# %%
import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import optax

import normtheory as nt
from normtheory.data import zipf_probabilities

jax.config.update("jax_enable_x64", True)

# %% [markdown]
# ## The model
#
# 48 concepts, each with a fixed image feature and text feature; a batch draws 16
# concepts by their Zipf probabilities and sees a noisy view of both features. The
# tracked items are the image tower's embeddings of the concepts' clean features.

# %%
CONCEPTS, BATCH, D_IN, WIDTH, DIM = 48, 16, 12, 32, 8
PROBS = zipf_probabilities(CONCEPTS, 1.1)
IMAGES, TEXTS = jax.random.normal(jax.random.key(7), (2, CONCEPTS, D_IN))


def tower_init(key):
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (D_IN, WIDTH)) / jnp.sqrt(D_IN),
        "gain": jnp.ones(WIDTH),
        "w2": jax.random.normal(k2, (WIDTH, DIM)) / jnp.sqrt(WIDTH),
    }


def tower(p, x):  # Linear -> LayerNorm (learned gain) -> GELU -> Linear
    h = x @ p["w1"]
    h = (h - h.mean(-1, keepdims=True)) / jnp.sqrt(h.var(-1, keepdims=True) + 1e-5)
    return jax.nn.gelu(h * p["gain"]) @ p["w2"]


def init(key):
    k1, k2 = jax.random.split(key)
    return {"image": tower_init(k1), "text": tower_init(k2), "logit_scale": jnp.log(10.0)}


def sample(key):
    k1, k2 = jax.random.split(key)
    ids = jax.random.choice(k1, CONCEPTS, (BATCH,), p=PROBS)
    noise = 0.3 * jax.random.normal(k2, (2, BATCH, D_IN))
    return {"ids": ids, "image": IMAGES[ids] + noise[0], "text": TEXTS[ids] + noise[1]}


def embed(p, b):  # image rows, then text rows
    return jnp.concatenate([tower(p["image"], b["image"]), tower(p["text"], b["text"])])


def loss(z, b, p):  # CLIP: temperature 1 / exp(logit_scale), a trained parameter
    return nt.losses.symmetric_infonce(z[:BATCH], z[BATCH:], jnp.exp(-p["logit_scale"]))


model = nt.Model(
    init=init,
    sample=sample,
    embed=embed,
    loss=loss,
    probe=lambda p: tower(p["image"], IMAGES),
    own_rows=lambda b: jnp.concatenate([b["ids"], jnp.full(BATCH, -1)]),
)

# %% [markdown]
# ## The question, answered
#
# Trace the model under AdamW (its decay is found and booked separately) and under
# plain SGD, with each concept's draw probability as an item column; then fit, split
# and plot.

# %%
answers = {}
fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
for row, (name, optimizer) in enumerate(
    [("adamw", optax.adamw(3e-3, weight_decay=0.1)), ("sgd", optax.sgd(0.5))]
):
    traj = nt.trace(
        model,
        optimizer,
        steps=400,
        stride=20,
        seeds=2,
        progress=False,
        items={"probability": PROBS},
    )
    slope, shares = nt.imprint_slope(traj, "probability"), nt.budget_shares(traj)
    answers[name] = (traj, slope, shares)
    print(f"{name}: {slope}")
    print(f"{name}: {shares}")
    nt.plot_norms(traj, ax=axes[row, 0], color_by="probability").set_title(name)
    nt.plot_budget(traj, ax=axes[row, 1]).set_title(name)
fig.savefig("trace_your_model.png")
print("figure: trace_your_model.png")

# %% [markdown]
# Read the numbers: the slope's interval says whether frequent concepts end longer
# (above 0) or shorter; the shares say which term wrote the change of N^2 (under
# AdamW, decay pulls inward and drift and heat push outward; under SGD there is no
# decay), and the remainder's size says how much of it the first-order budget
# misses: nothing for a free table, the encoder's curvature over a step here.
