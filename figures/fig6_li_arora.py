"""Figure 6 (THEORY.md item 10): Li-Arora, GD + decay equals rescaled GD at eta_t.

Replicates the loop of normtheory.verify.equilibria.li_arora on SGD_L2: the same batches
drive GD with weight decay (w_t) and GD without decay at eta (1 - eta lam)^(-2t-1)
(w~_t). Lines: norms of a few items of w~_t; points: w_t / (1 - eta lam)^t.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures, laws
from normtheory.config import SimConfig
from normtheory.engine import replay_inputs
from normtheory.verify._common import pair_loss
from normtheory.verify.equilibria import SGD_L2

NAME = "fig6_li_arora.png"


def config(tiny: bool = False) -> SimConfig:
    """The Li-Arora run of `normtheory verify` (100 steps; tiny: 20 steps, 40 items)."""
    steps = 20 if tiny else 100
    cfg = SGD_L2.replace(num_items=40) if tiny else SGD_L2
    return cfg.replace(steps=steps, chunk=steps, stride=1)


def trajectories(cfg: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """(rescaled decayed norms, plain norms), each (steps + 1, items)."""
    table, ids, noise = replay_inputs(cfg)
    ids, noise = jnp.asarray(ids), jnp.asarray(noise)
    loss = pair_loss(cfg)
    eta, lam = cfg.lr, cfg.weight_decay

    def views(z: jax.Array, t: int) -> jax.Array:
        u = jax.lax.stop_gradient(z[ids[t]])
        u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
        v = u + cfg.view_noise * noise[t]
        return v / jnp.linalg.norm(v, axis=-1, keepdims=True)

    grad = jax.jit(jax.grad(lambda z, v, t: loss(z[ids[t]], v, cfg.tau)))
    rates = laws.get("li_arora_learning_rate")(eta=eta, lam=lam, t=jnp.arange(float(cfg.steps)))
    decayed = plain = jnp.asarray(table)
    rescaled_norms, plain_norms = [np.linalg.norm(table, axis=-1)], [np.linalg.norm(table, axis=-1)]
    for t in range(cfg.steps):
        v = views(decayed, t)
        decayed = (1 - eta * lam) * decayed - eta * grad(decayed, v, t)
        plain = plain - rates[t] * grad(plain, v, t)
        scale = laws.get("li_arora_scale")(eta=eta, lam=lam, t=float(t + 1))
        rescaled_norms.append(np.asarray(jnp.linalg.norm(decayed / scale, axis=-1)))
        plain_norms.append(np.asarray(jnp.linalg.norm(plain, axis=-1)))
    return np.stack(rescaled_norms), np.stack(plain_norms)


def main(out_dir: Path, tiny: bool = False) -> Path:
    """Draw the figure into out_dir and return its path."""
    figures.enable_x64()
    cfg = config(tiny)
    rescaled, plain = trajectories(cfg)
    err = np.abs(rescaled - plain) / plain
    steps = np.arange(cfg.steps + 1)
    with figures.style():
        fig, ax = plt.subplots(figsize=(5.4, 3.8))
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for color, item in zip(colors, (0, 1, 5, 20), strict=False):
            ax.plot(
                steps, plain[:, item], color=color, lw=1.2, label=f"item {item}: GD at $\\eta_t$"
            )
            ax.plot(steps[::4], rescaled[::4, item], "o", ms=3.5, mfc="none", color=color)
        ax.plot([], [], "o", mfc="none", color="0.3", label=r"GD + decay / $(1-\eta\lambda)^t$")
        ax.set_xlabel("step t")
        ax.set_ylabel("norm")
        ax.set_title(
            f"Li-Arora equivalence, $\\eta$={cfg.lr:g}, $\\lambda$={cfg.weight_decay:g}, float64"
        )
        ax.legend(loc="center right", fontsize=7)
        figures.annotate(ax, f"max rel. error of norms {err.max():.1e}\n(all items, all steps)")
        return figures.save(fig, Path(out_dir) / NAME)


if __name__ == "__main__":
    path = main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv)
    print(path)
