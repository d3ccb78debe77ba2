"""The one training step: scanning `_step`'s (init, step) by hand is the engine's run; the
replay scans the same step; the keys follow one rule; a Trajectory is a pytree.

The same float64 computation compiled in another context (eagerly, under vmap, inside the
engine's windows) may round differently in the last place, so runs are compared to 1e-12
relative; another seed or another step differs at O(1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from normtheory import _step, losses
from normtheory._replay import replay
from normtheory.config import SimConfig
from normtheory.engine import simulate
from normtheory.optim import make_optimizer
from normtheory.problems import make_problem
from normtheory.trajectory import Trajectory

SMALL = SimConfig(num_items=30, dim=8, batch=12, steps=40, stride=10, dtype="float64")
RTOL, ATOL = 1e-12, 1e-14
TREE = SimConfig(
    data="hierarchy",
    model="compositional",
    depth=2,
    branching=2,
    dim=6,
    batch=8,
    steps=30,
    stride=10,
    dtype="float64",
    lr=0.1,
)


def _by_hand(config: SimConfig, seed: int, sparse: bool):
    """The final parameters of `config` at `seed`, scanning the step outside the engine
    (with the loss form the engine compiles at this temperature)."""
    shared_exp = config.tau >= losses.shared_exp_min_tau(jnp.float64)
    problem = make_problem(config, jnp.float64, shared_exp=shared_exp)
    hp = {k: jnp.asarray(v, jnp.float64) for k, v in config.hyperparameters().items()}

    def make_opt(hp):
        return make_optimizer(config, hp)

    if sparse:
        init, step = _step.sparse_step(problem, make_opt, decay=config.weight_decay != 0)
    else:
        init, step = _step.dense_step(problem, make_opt)
    state = init(_step.seed_keys([seed])[0], hp)
    state, records = jax.lax.scan(lambda s, _: step(s, hp), state, None, length=config.steps)
    return state.params, records.loss


@pytest.mark.parametrize(
    ("config", "sparse"),
    [
        (SMALL, True),
        (SMALL.replace(weight_decay=0.01), True),
        (SMALL.replace(optimizer="adamw", lr=0.01, weight_decay=0.1), False),
        (TREE.replace(optimizer="momentum"), False),
    ],
)
def test_scanning_the_step_by_hand_is_the_engines_run(config, sparse):
    params, losses = _by_hand(config, seed=4, sparse=sparse)
    traj = simulate(config.replace(seed=4), progress=False, with_params=True)
    for mine, engine in zip(jax.tree.leaves(params), jax.tree.leaves(traj.params), strict=True):
        np.testing.assert_allclose(np.asarray(mine), engine[0], rtol=RTOL, atol=ATOL)
    window_means = np.asarray(losses).reshape(-1, config.stride).mean(axis=1)
    np.testing.assert_allclose(window_means, traj.loss[0], rtol=1e-13)


def test_another_seed_is_another_run():
    a, _ = _by_hand(SMALL, seed=4, sparse=True)
    b, _ = _by_hand(SMALL, seed=5, sparse=True)
    assert not np.array_equal(np.asarray(a["table"]), np.asarray(b["table"]))


def test_the_replay_scans_the_same_step():
    config = TREE.replace(optimizer="adam", lr=0.01)
    _, initial, final, _ = replay(config, 2, lambda problem, s: s.batch)
    params, _ = _by_hand(config, seed=2, sparse=False)
    for mine, replayed in zip(jax.tree.leaves(params), jax.tree.leaves(final), strict=True):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(replayed), rtol=RTOL, atol=ATOL)
    problem = make_problem(config, jnp.float64)
    for a, b in zip(
        jax.tree.leaves(_step.initial_params(problem, 2)), jax.tree.leaves(initial), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)


def test_the_initial_norms_follow_the_seed_rule():
    problem = make_problem(SMALL, jnp.float64)
    traj = simulate(SMALL.replace(seed=7), seeds=2, progress=False, trace_budget=False)
    for s in range(2):
        start = _step.initial_params(problem, 7 + s)
        norms = np.linalg.norm(np.asarray(problem.probe(start)), axis=-1)
        np.testing.assert_allclose(norms, traj.norm0[s], rtol=RTOL)


def test_a_trajectory_is_a_pytree_of_its_arrays():
    traj = simulate(SMALL, seeds=2, grid={"lr": [0.1, 0.2]}, progress=False, with_params=True)
    doubled = jax.tree.map(lambda x: 2 * np.asarray(x), traj)
    assert isinstance(doubled, Trajectory)
    assert doubled.config == traj.config
    np.testing.assert_array_equal(doubled.norm, 2 * traj.norm)
    np.testing.assert_array_equal(doubled.grid["lr"], 2 * traj.grid["lr"])
    np.testing.assert_array_equal(doubled.params["table"], 2 * traj.params["table"])
    # Every array of the run is a leaf: the saved arrays and the parameters.
    assert len(jax.tree.leaves(traj)) == len(traj.arrays()) + len(jax.tree.leaves(traj.params))


def test_the_sparse_step_refuses_a_problem_without_one_table():
    problem = make_problem(TREE, jnp.float64)
    with pytest.raises(ValueError, match="one table"):
        _step.sparse_step(problem, lambda hp: make_optimizer(TREE, hp), decay=False)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_tracing_nothing_changes_no_number_and_records_no_energy(optimizer):
    # Plain SGD takes the sparse step, Adam the dense one: in both, what is not traced is
    # NaN and nothing else moves.
    config = SMALL.replace(weight_decay=0.01, optimizer=optimizer)
    full = simulate(config, seeds=2, progress=False, with_params=True)
    quiet = dict(progress=False, with_params=True, trace_budget=False, trace_energy=False)
    bare = simulate(config, seeds=2, **quiet)
    silent = simulate(config, seeds=2, trace_diagnostics=False, **quiet)
    # Tracing changes how XLA fuses the step, so the runs agree to rounding, not bit for
    # bit: under Adam (a division by sqrt(v) + eps) about 2e-12 relative in the norms and
    # up to 3e-10 relative in parameter entries near 1e-3.
    rtol, atol = (RTOL, ATOL) if optimizer == "sgd" else (1e-10, 1e-11)
    for run in (bare, silent):
        np.testing.assert_allclose(run.norm, full.norm, rtol=rtol)
        np.testing.assert_allclose(run.params["table"], full.params["table"], rtol=rtol, atol=atol)
        assert np.isnan(run.g2).all()
    assert np.isfinite(full.g2).all()
    # Tracing off keeps the diagnostics; nothing traced records none of them, each NaN
    # with the shape of the recorded one.
    for name in ("loss", "uniformity", "alignment"):
        recorded, dropped = getattr(full, name), getattr(silent, name)
        assert np.isfinite(recorded).all() and recorded.shape == (2, full.norm.shape[1])
        np.testing.assert_allclose(getattr(bare, name), recorded, rtol=rtol)
        assert dropped.shape == recorded.shape and np.isnan(dropped).all()


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_both_groupings_of_repeated_rows_sum_the_same_gradients(dtype):
    # Small tables group repeats through a scratch index, large ones through a sort: each
    # distinct row gets the same summed gradient, bit for bit, and repeats are dropped.
    ids = jax.random.randint(jax.random.key(3), (200,), 0, 25).astype(jnp.int32)
    grad = jax.random.normal(jax.random.key(4), (200, 5), dtype)
    first, rows = _step._first_occurrences(ids, 25)
    by_scratch = jnp.zeros_like(grad).at[first].add(grad)
    order, head, sorted_rows = _step._distinct(ids, 25)
    by_sort = jax.ops.segment_sum(grad[order], head, 200, indices_are_sorted=True)
    scratch = {int(r): np.asarray(g) for r, g in zip(rows, by_scratch, strict=True) if r < 25}
    sort = {int(r): np.asarray(g) for r, g in zip(sorted_rows, by_sort, strict=True) if r < 25}
    assert scratch.keys() == sort.keys() == set(np.asarray(ids).tolist())
    for row, total in scratch.items():
        np.testing.assert_array_equal(total, sort[row])
        np.testing.assert_allclose(total, np.asarray(grad)[np.asarray(ids) == row].sum(0), 1e-5)


def test_a_table_above_the_scratch_size_runs_the_same_numbers(monkeypatch):
    import normtheory.engine as engine

    config = SMALL.replace(zipf=1.5, steps=30)
    scratch = simulate(config, seeds=2, progress=False)
    monkeypatch.setattr(_step, "SCRATCH_ROWS", 0)  # every table takes the sort
    engine._compiled.cache_clear()
    try:
        sorted_run = simulate(config, seeds=2, progress=False)
    finally:
        engine._compiled.cache_clear()
    for name in ("norm", "g2", "heat", "drift", "remainder"):
        np.testing.assert_array_equal(getattr(scratch, name), getattr(sorted_run, name))
