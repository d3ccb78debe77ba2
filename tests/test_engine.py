"""The simulation engine: exact budget closure, determinism, vmapping, errors, caching."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from normtheory import losses
from normtheory.config import ConfigError, SimConfig, override
from normtheory.engine import SPLIT_FIELDS, simulate
from normtheory.problems import tracked_items
from normtheory.runs import run

TINY = SimConfig(num_items=40, dim=8, batch=16, steps=60, stride=5, dtype="float64", lr=0.5)

OPTIMIZERS = {
    "sgd": {},
    "sgd_l2": {"weight_decay": 0.02},
    "momentum_l2": {"optimizer": "momentum", "lr": 0.1, "weight_decay": 0.02},
    "nesterov": {"optimizer": "nesterov", "lr": 0.1},
    "adam_l2": {"optimizer": "adam", "lr": 0.01, "weight_decay": 0.02},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
}


def _closure_error(traj):
    n2 = np.concatenate([traj.norm0[..., None, :] ** 2, traj.norm**2], axis=-2)
    change = np.diff(n2, axis=-2)
    total = traj.heat + traj.drift + traj.decay
    return np.max(np.abs(change - total) / n2[..., 1:, :])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("loss", ["symmetric", "one_sided"])
def test_budget_closes_to_float64_rounding(name, loss):
    traj = simulate(TINY.replace(loss=loss, **OPTIMIZERS[name]), seeds=2, progress=False)
    assert _closure_error(traj) < 1e-10
    if name == "sgd":
        # Plain SGD: steps are tangent, so there is no drift and norms never shrink.
        assert np.max(np.abs(traj.drift)) < 1e-12 * np.max(traj.heat)
        assert np.all(np.diff(traj.norm, axis=-2) >= -1e-12)
    if name in ("momentum_l2", "adamw"):
        assert np.max(np.abs(traj.drift)) > 1e-3 * np.max(traj.heat)  # first-order drift


def test_rerun_is_bit_identical():
    a = simulate(TINY, seeds=2, progress=False)
    b = simulate(TINY, seeds=2, progress=False)
    for name, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[name], err_msg=name)


def test_vmapped_seeds_equal_separate_runs():
    seeds = 32
    config = TINY.replace(steps=20, num_items=20)
    batched = simulate(config, seeds=seeds, progress=False)
    for s in range(seeds):
        alone = simulate(config.replace(seed=s), seeds=1, progress=False)
        for name in ("norm", "g2", "heat", "drift", "decay", "loss"):
            np.testing.assert_allclose(
                getattr(batched, name)[s],
                getattr(alone, name)[0],
                rtol=1e-12,
                atol=1e-14,
                err_msg=f"seed {s}, {name}",
            )


def test_grid_points_equal_separate_runs():
    grid = {"lr": [0.1, 0.5], "tau": [0.2, 1.0]}
    swept = simulate(TINY, seeds=2, grid=grid, progress=False)
    assert swept.norm.shape[:2] == (4, 2)
    for g, (lr, tau) in enumerate([(0.1, 0.2), (0.1, 1.0), (0.5, 0.2), (0.5, 1.0)]):
        alone = simulate(TINY.replace(lr=lr, tau=tau), seeds=2, progress=False)
        np.testing.assert_allclose(swept.norm[g], alone.norm, rtol=1e-12)


def test_tracked_items_span_the_frequency_range():
    config = SimConfig(num_items=10_000, tracked=12)
    items = tracked_items(config)
    assert len(items) == 12 and items[0] == 0 and items[-1] == 9_999
    assert np.all(np.diff(items) > 0)


def test_divergence_stops_with_the_step_and_quantity_named():
    config = TINY.replace(dtype="float32", lr=1e38, init_scale=1e-12)
    with pytest.raises(FloatingPointError, match=r"non-finite \w+ by step \d+"):
        simulate(config, progress=False)
    kept = simulate(config, progress=False, record_divergence=True)
    assert not np.all(np.isfinite(kept.norm))


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("tau=0", "tau"),
        ("lr=-1", "lr"),
        ("momentum=1.0", "momentum"),
        ("batch=1", "batch"),
        ("steps=7", "steps"),
        ("tracked=100000", "tracked"),
        ("optimizer=rmsprop", "optimizer"),
        ("dim=two", "dim"),
        ("no_such_field=1", "no_such_field"),
    ],
)
def test_bad_config_is_named(assignment, field):
    with pytest.raises(ConfigError, match=field):
        override(TINY, [assignment])


def test_float64_without_x64_is_refused():
    import jax

    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ConfigError, match="64-bit"):
            simulate(TINY, progress=False)
    finally:
        jax.config.update("jax_enable_x64", True)


def test_cached_run_reuses_and_recovers_from_corruption(tmp_path):
    messages = []
    first, path, cached = run(TINY, 2, directory=tmp_path, progress=False, log=messages.append)
    assert not cached and path.exists()
    again, _, cached = run(TINY, 2, directory=tmp_path, progress=False, log=messages.append)
    assert cached
    np.testing.assert_array_equal(first.norm, again.norm)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["config"]["seeds"] == 2
    # A truncated result file is detected, reported and recomputed, never read as data.
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    healed, _, cached = run(TINY, 2, directory=tmp_path, progress=False, log=messages.append)
    assert not cached and any(str(path) in m for m in messages)
    np.testing.assert_array_equal(first.norm, healed.norm)
    # A changed config is a different entry.
    _, other, _ = run(TINY.replace(lr=0.25), 2, directory=tmp_path, progress=False)
    assert other != path


@pytest.mark.end_to_end
def test_simulate_command_line(tmp_path):
    exe = Path(sys.executable).with_name("normtheory")
    args = [
        exe,
        "simulate",
        "frequency",
        "--set",
        "num_items=30",
        "--set",
        "dim=4",
        "--set",
        "batch=8",
        "--set",
        "steps=20",
        "--chunk",
        "10",
        "--seeds",
        "2",
        "--grid",
        "lr=0.1,0.2",
        "--quiet",
    ]
    env = {"NORMTHEORY_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    env.update({"XLA_FLAGS": os.environ["XLA_FLAGS"]} if "XLA_FLAGS" in os.environ else {})
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    assert "wrote" in out and str(tmp_path) in out
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    assert "loaded from cache" in out
    bad = subprocess.run(
        [exe, "simulate", "frequency", "--set", "tau=-1"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 2 and "tau" in bad.stderr


FAMILIES = {
    "hierarchy_table": {"data": "hierarchy", "depth": 2, "branching": 2},
    "hierarchy_compositional_two_towers": {
        "data": "hierarchy",
        "model": "compositional",
        "depth": 2,
        "branching": 2,
        "towers": 2,
    },
    "ambiguity_table": {"data": "ambiguity", "loss": "prototype", "num_items": 24},
    "ambiguity_mlp": {
        "data": "ambiguity",
        "model": "mlp",
        "loss": "prototype",
        "num_items": 24,
        "input_dim": 6,
        "width": 8,
    },
    "imbalance_mlp": {
        "data": "imbalance",
        "model": "mlp",
        "loss": "supervised",
        "input_dim": 6,
        "width": 8,
        "optimizer": "adamw",
        "lr": 0.01,
        "weight_decay": 0.1,
    },
}
FAMILY_BASE = {"dim": 4, "batch": 12, "steps": 20, "stride": 5, "dtype": "float64"}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_closes_its_budget_and_linear_models_have_no_remainder(name):
    config = SimConfig(**{**FAMILY_BASE, **FAMILIES[name]})
    traj = simulate(config, seeds=2, progress=False)
    n2 = np.concatenate([traj.norm0[..., None, :] ** 2, traj.norm**2], axis=-2)
    total = traj.heat + traj.drift + traj.decay + traj.remainder
    np.testing.assert_allclose(np.diff(n2, axis=-2), total, rtol=0, atol=1e-12 * n2.max())
    assert np.all(np.isfinite(traj.loss)) and np.all(traj.g2 >= 0)
    if config.model in ("table", "compositional"):
        # Rows of a table, and sums of path features, are linear in the parameters.
        assert np.max(np.abs(traj.remainder)) < 1e-12 * n2.max()


def test_mlp_remainder_is_second_order_in_the_step():
    settings = {**FAMILY_BASE, **FAMILIES["ambiguity_mlp"], "lr": 0.05, "steps": 5}
    config = SimConfig(**settings)
    big = simulate(config, progress=False)
    small = simulate(config.replace(lr=0.005), progress=False)
    first_big = np.abs(big.heat) + np.abs(big.drift) + np.abs(big.decay)
    assert np.max(np.abs(big.remainder)) > 1e-9 * np.max(first_big)  # nonlinear: present
    ratio = np.max(np.abs(small.remainder[..., 0, :])) / np.max(np.abs(big.remainder[..., 0, :]))
    assert ratio < 0.1**2 * 3  # a tenfold smaller step: about a hundredfold smaller


def test_sharded_grid_merges_into_the_full_grid_result(tmp_path):
    from normtheory.runs import merge

    grid = {"lr": [0.1, 0.2, 0.3], "tau": [0.5, 1.0]}
    for index in range(4):
        run(TINY, 2, grid, directory=tmp_path, progress=False, shard=(index, 4))
    merged, path = merge(TINY, 2, grid, 4, directory=tmp_path)
    assert path.exists()
    full = simulate(TINY, seeds=2, grid=grid, progress=False)
    np.testing.assert_allclose(merged.norm, full.norm, rtol=1e-12)
    np.testing.assert_array_equal(merged.grid["lr"], full.grid["lr"])
    again, _, cached = run(TINY, 2, grid, directory=tmp_path, progress=False)
    assert cached and again.norm.shape == full.norm.shape


def test_merge_names_missing_shards(tmp_path):
    from normtheory.runs import merge

    grid = {"lr": [0.1, 0.2]}
    run(TINY, 1, grid, directory=tmp_path, progress=False, shard=(0, 2))
    with pytest.raises(FileNotFoundError, match=r"shards \[1\] of 2"):
        merge(TINY, 1, grid, 2, directory=tmp_path)


SHARDED_SCRIPT = """
import sys, jax, numpy as np
jax.config.update("jax_enable_x64", True)
from normtheory.config import SimConfig
from normtheory.engine import SPLIT_FIELDS, simulate
config = SimConfig(**{config!r})
traj = simulate(config, seeds=3, progress=False)
assert jax.local_device_count() == 4, jax.local_device_count()
np.save(sys.argv[1], traj.norm)
"""


def test_seed_axis_sharded_over_four_host_devices_gives_the_same_numbers(tmp_path):
    settings = {
        "num_items": 30,
        "dim": 4,
        "batch": 8,
        "steps": 10,
        "stride": 5,
        "dtype": "float64",
    }
    script = tmp_path / "sharded.py"
    script.write_text(SHARDED_SCRIPT.format(config=settings))
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    env = {"XLA_FLAGS": flags.strip(), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, str(script), str(tmp_path / "norm.npy")], env=env, check=True)
    sharded = np.load(tmp_path / "norm.npy")
    local = simulate(SimConfig(**settings), seeds=3, progress=False).norm
    np.testing.assert_allclose(sharded, local, rtol=1e-12)


def test_replay_inputs_reproduce_the_engine_trajectory():
    """An independent SGD loop fed replay_inputs must land on the engine's norms."""
    import jax
    import jax.numpy as jnp

    from normtheory import losses
    from normtheory.engine import replay_inputs

    config = TINY.replace(steps=20, seed=3)
    traj = simulate(config, progress=False)
    table, ids, noise = replay_inputs(config)

    def loss(z, t):
        anchors = z[ids[t]]
        u = jax.lax.stop_gradient(anchors)
        u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
        views = u + config.view_noise * noise[t]
        views = views / jnp.linalg.norm(views, axis=-1, keepdims=True)
        return losses.symmetric_infonce(anchors, views, config.tau)

    z = jnp.asarray(table)
    for t in range(config.steps):
        z = z - config.lr * jax.grad(loss)(z, t)
    np.testing.assert_allclose(np.linalg.norm(z, axis=-1), traj.norm[0, -1], rtol=1e-12)


def test_train_returns_the_parameters_whose_norms_the_trajectory_ends_on():
    from normtheory.engine import train

    traj = simulate(TINY, seeds=2, progress=False, with_params=True)
    params = traj.params
    trained, problem = train(TINY, seeds=2, progress=False)
    np.testing.assert_array_equal(trained["table"], params["table"])
    norms = np.linalg.norm(trained["table"][:, problem.items], axis=-1)
    np.testing.assert_allclose(norms, traj.norm[:, -1], rtol=1e-12)


SPARSE_CASES = {
    "sgd_grid": {},
    "sgd_l2_one_sided": {"weight_decay": 0.02, "loss": "one_sided"},
    "tracked_subset": {"tracked": 7},
    "tracked_subset_l2": {"tracked": 7, "weight_decay": 0.05, "lr": 0.3},
    "hierarchy_table_l2": {"data": "hierarchy", "depth": 2, "branching": 2, "weight_decay": 0.01},
}
SPARSE_GRID = {"lr": [0.1, 0.5], "weight_decay": [0.0, 0.02]}
BUDGET_FIELDS = ("heat", "drift", "decay", "remainder", *SPLIT_FIELDS)


@pytest.mark.parametrize("name", list(SPARSE_CASES))
def test_sparse_row_step_records_what_the_dense_optax_step_records(name):
    config = TINY.replace(**SPARSE_CASES[name])
    grid = SPARSE_GRID if name == "sgd_grid" else None
    sparse = simulate(config, seeds=3, grid=grid, progress=False)
    dense = simulate(config, seeds=3, grid=grid, progress=False, dense=True)
    n2 = np.max(dense.norm**2)
    for field, expected in dense.arrays().items():
        got = sparse.arrays()[field]
        assert got.shape == expected.shape, field
        if expected.dtype.kind != "f":
            np.testing.assert_array_equal(got, expected, err_msg=field)
            continue
        # Budget terms are compared on the scale of N^2 (drift and remainder are
        # rounding noise around zero here); everything else on its own scale.
        scale = n2 if field in BUDGET_FIELDS else np.max(np.abs(expected))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * scale, err_msg=field)
    if config.weight_decay or grid:  # the dense shrink and decay terms were exercised
        assert np.max(np.abs(sparse.decay)) > 1e-3 * n2


def _scatter_adds_onto_the_table(config: SimConfig, dense: bool) -> int:
    """How many scatter-adds in one window's program produce a whole (V, d) table."""
    import re

    import jax

    from normtheory.engine import _build

    init, run_windows, _ = _build(config, dense=dense)
    hp = {h: np.float64(v) for h, v in config.hyperparameters().items()}
    state = init(jax.random.key(0), hp)
    text = str(jax.make_jaxpr(run_windows, static_argnums=2)(state, hp, 1))
    return len(re.findall(rf"f64\[{config.num_items},{config.dim}\] = scatter-add", text))


def test_plain_sgd_on_a_table_takes_the_sparse_step_and_momentum_the_dense_one():
    for extra in ({}, {"weight_decay": 0.02}):
        config = TINY.replace(**extra)
        assert _scatter_adds_onto_the_table(config, dense=True) >= 1
        assert _scatter_adds_onto_the_table(config, dense=False) == 0
    momentum = TINY.replace(optimizer="momentum", lr=0.1)
    assert _scatter_adds_onto_the_table(momentum, dense=False) >= 1


def test_shared_exp_loss_and_log_sum_exp_loss_give_the_same_runs(monkeypatch):
    # A grid reaching below the float64 limit of the shared exponential compiles the
    # log-sum-exp form for every point; the same point alone takes the shared form.
    traced = []
    shared = losses._shared_exp_loss
    monkeypatch.setattr(losses, "_shared_exp_loss", lambda *a: traced.append(1) or shared(*a))
    low = 0.5 * losses.shared_exp_min_tau(jnp.float64)
    for name in ("sgd", "momentum_l2"):
        config = TINY.replace(num_items=41, **OPTIMIZERS[name])  # compiled here only
        swept = simulate(config, seeds=2, grid={"tau": [0.1, low]}, progress=False)
        assert not traced
        alone = simulate(config, seeds=2, progress=False)
        assert traced
        traced.clear()
        for field in ("norm", "heat", "loss"):
            np.testing.assert_allclose(
                getattr(swept, field)[0], getattr(alone, field), rtol=1e-11, err_msg=field
            )
        assert np.all(np.isfinite(swept.loss[1]))
