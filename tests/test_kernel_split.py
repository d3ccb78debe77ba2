"""The engine's kernel split of heat and drift (THEORY.md item 15): self, cross, rest."""

from __future__ import annotations

import numpy as np
import pytest

from normtheory import engine
from normtheory.config import SimConfig
from normtheory.engine import simulate

BASE = {"dim": 4, "batch": 12, "steps": 10, "stride": 1, "dtype": "float64"}
HIERARCHY = {"data": "hierarchy", "depth": 2, "branching": 2, "lr": 0.1}
FAMILIES = {
    "table_momentum": {"num_items": 30, "optimizer": "momentum"},
    "table_adamw": {"num_items": 30, "optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
    "hierarchy_table_sgd": HIERARCHY,
    "compositional_sgd": {**HIERARCHY, "model": "compositional"},
    "compositional_sgd_l2": {**HIERARCHY, "model": "compositional", "weight_decay": 0.05},
    "compositional_momentum": {**HIERARCHY, "model": "compositional", "optimizer": "momentum"},
    "compositional_adam": {**HIERARCHY, "model": "compositional", "optimizer": "adam", "lr": 0.01},
    "mlp_sgd": {
        "data": "ambiguity",
        "model": "mlp",
        "loss": "prototype",
        "num_items": 20,
        "width": 8,
        "lr": 0.05,
    },
    "mlp_adam": {
        "data": "ambiguity",
        "model": "mlp",
        "loss": "prototype",
        "num_items": 20,
        "width": 8,
        "layers": 2,
        "lr": 0.01,
        "optimizer": "adam",
        "activation": "tanh",
    },
    "mlp_nesterov": {
        "data": "ambiguity",
        "model": "mlp",
        "loss": "prototype",
        "num_items": 20,
        "width": 8,
        "lr": 0.05,
        "optimizer": "nesterov",
    },
}


def _run(**changes) -> engine.Trajectory:
    return simulate(SimConfig(**{**BASE, **changes}), seeds=2, progress=False, trace_split=True)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_the_split_closes_and_cross_vanishes_for_tables(name):
    traj = _run(**FAMILIES[name])
    for total, parts in (("heat", "heat_"), ("drift", "drift_")):
        whole = getattr(traj, total)
        summed = sum(getattr(traj, parts + k) for k in ("self", "cross", "rest"))
        scale = np.max(np.abs(traj.heat)) + np.max(np.abs(traj.drift))
        np.testing.assert_allclose(summed, whole, rtol=0, atol=1e-10 * scale)
    if traj.config.model == "table":
        assert np.all(traj.heat_cross == 0) and np.all(traj.drift_cross == 0)
    else:
        assert np.max(np.abs(traj.heat_cross)) > 1e-6 * np.max(traj.heat)
    if traj.config.optimizer == "sgd":  # plain SGD has no memory: nothing is left over
        assert np.max(np.abs(traj.heat_rest)) <= 1e-12 * np.max(traj.heat)


def test_compositional_self_heat_is_the_path_length_squared_times_the_item_gradient():
    """K_ii = m_ii I = (depth + 1) I: heat_self = eta^2 (depth + 1)^2 |g_i|^2.

    |g_i|^2 = g2 / N^2 comes from the item's own gradient rows (`item_grads`), heat_self
    from a pullback through the encoder and a jvp of the probe: two computations.
    """
    traj = _run(**FAMILIES["compositional_sgd"])
    n2 = np.concatenate([traj.norm0[..., None, :], traj.norm[..., :-1, :]], axis=-2) ** 2
    m = traj.info["depth"] + 1.0
    predicted = traj.config.lr**2 * m**2 * traj.g2 / n2
    np.testing.assert_allclose(traj.heat_self, predicted, rtol=1e-10, atol=1e-14)
    # Euler kills the self drift when K_ii is proportional to the identity.
    assert np.max(np.abs(traj.drift_self)) <= 1e-12 * np.max(np.abs(traj.drift))


def test_a_wrong_optimizer_scale_breaks_the_self_heat_law(monkeypatch):
    real = engine.gradient_step

    def doubled(config):
        step = real(config)
        return lambda g, state, hp: step(jax_tree_scale(g, 2.0), state, hp)

    def jax_tree_scale(tree, c):
        import jax

        return jax.tree.map(lambda x: c * x, tree)

    monkeypatch.setattr(engine, "gradient_step", doubled)
    engine._compiled.cache_clear()
    try:
        traj = _run(**{**FAMILIES["compositional_sgd"], "num_items": 999})  # fresh compile
    finally:
        monkeypatch.undo()
        engine._compiled.cache_clear()
    n2 = np.concatenate([traj.norm0[..., None, :], traj.norm[..., :-1, :]], axis=-2) ** 2
    predicted = traj.config.lr**2 * (traj.info["depth"] + 1.0) ** 2 * traj.g2 / n2
    assert not np.allclose(traj.heat_self, predicted, rtol=1e-10, atol=1e-14)


def test_an_anisotropic_kernel_gives_a_self_drift():
    """An MLP's K_ii is not proportional to the identity, nor is Adam's compositional one."""
    for name in ("mlp_sgd", "compositional_adam"):
        traj = _run(**FAMILIES[name])
        assert np.max(np.abs(traj.drift_self)) > 1e-3 * np.max(np.abs(traj.drift)), name


@pytest.mark.parametrize(
    ("optimizer", "extra"),
    [("adam", {"b1": 0.0, "lr": 0.01}), ("momentum", {}), ("nesterov", {})],
)
def test_the_gradient_step_is_optax_update_when_the_optimizer_has_no_memory(optimizer, extra):
    """Against optax itself: with no past (Adam with b1 = 0 at every step; heavy ball and
    Nesterov at their first step, whose buffer is zero) the update is all g-linear, so
    the rest vanishes; a wrong preconditioner or scale would leave some."""
    config = {**FAMILIES["compositional_sgd"], "optimizer": optimizer, **extra}
    traj = _run(**config)
    first = slice(None) if optimizer == "adam" else slice(0, 1)
    rest = np.abs(traj.heat_rest[..., first, :]) + np.abs(traj.drift_rest[..., first, :])
    assert np.max(rest) <= 1e-10 * np.max(traj.heat[..., first, :])
    if optimizer != "adam":  # later steps carry the buffer
        assert np.max(np.abs(traj.heat_rest[..., 1:, :])) > 1e-6 * np.max(traj.heat)


def test_without_trace_split_an_encoder_leaves_the_split_undefined_and_a_table_has_it():
    encoder = simulate(SimConfig(**{**BASE, **FAMILIES["mlp_sgd"]}), progress=False)
    assert np.all(np.isnan(encoder.heat_self)) and np.all(np.isfinite(encoder.heat))
    table = simulate(SimConfig(**{**BASE, **FAMILIES["table_momentum"]}), progress=False)
    assert np.all(np.isfinite(table.heat_self)) and np.all(table.heat_cross == 0)


IMBALANCE = {"data": "imbalance", "model": "mlp", "loss": "supervised", "num_classes": 4,
             "width": 8, "lr": 0.05}  # fmt: skip


def _with_problem(changes: dict, monkeypatch, **fields) -> engine.Trajectory:
    """A run whose problem has `fields` replaced (a fresh compile, then the cache reset)."""
    import dataclasses

    real = engine.make_problem

    def patched(config, dtype, **kw):
        return dataclasses.replace(real(config, dtype, **kw), **fields)

    monkeypatch.setattr(engine, "make_problem", patched)
    engine._compiled.cache_clear()
    try:
        return _run(**changes)
    finally:
        monkeypatch.undo()
        engine._compiled.cache_clear()


ONE_ROW = {"self_kernel": None}
WHOLE_BATCH = {"probe_one": None, "rows_share_probe": False, "self_kernel": None}


@pytest.mark.parametrize(
    ("name", "fields"),
    [("compositional_adam", ONE_ROW), ("compositional_adam", WHOLE_BATCH),
     ("mlp_adam", WHOLE_BATCH)],
    ids=["compositional-one-row", "compositional-whole-batch", "mlp-whole-batch"],
)  # fmt: skip
def test_the_structured_self_kick_equals_the_generic_pullbacks(name, fields, monkeypatch):
    """The model's own J_i D J_i^T c (`self_kernel`) and the one-row pullback are
    shortcuts; pulling back the whole batch per item is the reference."""
    slow = _with_problem(FAMILIES[name], monkeypatch, **fields)
    fast = _run(**FAMILIES[name])
    scale = np.max(np.abs(fast.heat)) + np.max(np.abs(fast.drift))
    for field in engine.SPLIT_FIELDS:
        np.testing.assert_allclose(getattr(fast, field), getattr(slow, field), atol=1e-12 * scale)


def test_claiming_shared_rows_where_they_are_not_changes_the_split(monkeypatch):
    """Imbalance rows are samples of a class, not its probe centre: the one-row shortcut
    would be wrong there, and the comparison above would catch it."""
    right = _run(**IMBALANCE)
    wrong = _with_problem(IMBALANCE, monkeypatch, rows_share_probe=True)
    np.testing.assert_allclose(right.heat, wrong.heat, rtol=1e-12)  # same run ...
    assert not np.allclose(right.heat_self, wrong.heat_self, rtol=1e-3)  # ... other split
    parts = sum(getattr(right, f"heat_{p}") for p in ("self", "cross", "rest"))
    np.testing.assert_allclose(parts, right.heat, rtol=0, atol=1e-10 * np.max(right.heat))
