"""The parameters' budget row by row (normtheory.parameter_budget, THEORY.md item 17)."""

import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from normtheory import simulate
from normtheory.config import SimConfig
from normtheory.parameter_budget import (
    path_membership,
    path_parts,
    path_summary,
    row_names,
    trace_parameters,
)
from normtheory.problems import make_problem

ROOT = Path(__file__).resolve().parents[1]
TREE = SimConfig(
    data="hierarchy",
    model="compositional",
    depth=2,
    branching=3,
    dim=4,
    batch=16,
    steps=40,
    stride=40,
    dtype="float64",
    weight_decay=0.02,
)


def test_the_replay_makes_the_engines_steps():
    """Same problem, optimizer and keys: the final embeddings are simulate's."""
    for config in (TREE, TREE.replace(optimizer="adam", lr=0.01)):
        trace = trace_parameters(config, seed=3)
        problem = make_problem(config, jnp.float64)
        norms = np.linalg.norm(np.asarray(problem.probe(trace["final"])), axis=-1)
        engine = simulate(config.replace(seed=3), seeds=1, progress=False)
        np.testing.assert_allclose(norms, engine.norm[0, -1], rtol=1e-12)


def test_rows_close_and_sgd_drift_sums_to_the_decay_only():
    trace = trace_parameters(TREE)
    np.testing.assert_allclose(
        trace["after"], trace["norm2"] + trace["drift"] + trace["heat"], rtol=1e-12
    )
    eta_lam = TREE.lr * TREE.weight_decay
    # Summed over rows the gradient's share of the drift vanishes (item 17): only the
    # shrink's -2 eta lam |theta|^2 is left ...
    total = trace["drift"].sum(axis=1)
    np.testing.assert_allclose(total, -2 * eta_lam * trace["norm2"].sum(axis=1), rtol=1e-10)
    # ... while row by row it does not: the gradient moves norm between features.
    root = row_names(trace["initial"]).index("['anchor']['features'][0]")
    moved = trace["drift"][:, root] + 2 * eta_lam * trace["norm2"][:, root]
    assert np.max(np.abs(moved)) > 0.1 * np.max(trace["heat"][:, root])


def test_float32_is_refused():
    import jax

    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="float64"):
            trace_parameters(TREE)
    finally:
        jax.config.update("jax_enable_x64", True)


def test_path_parts_split_growth_exactly():
    rng = np.random.default_rng(0)
    member = path_membership(np.array([[0, -1], [0, 1], [0, 2]]))
    np.testing.assert_array_equal(member, [[1, 0, 0], [1, 1, 0], [1, 0, 1]])
    initial, final = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    parts = path_parts(initial, final, member)
    np.testing.assert_allclose(parts["growth"], parts["feature"] + parts["alignment"])
    z0, z1 = member @ initial, member @ final
    np.testing.assert_allclose(
        parts["growth"], np.log(np.linalg.norm(z1, axis=1) / np.linalg.norm(z0, axis=1))
    )
    assert parts["alignment"][0] == pytest.approx(0.0)  # the root is its one feature
    # Mutually orthogonal features keep alignment 1 at both ends: no alignment part.
    orthogonal = path_parts(np.eye(3), 2 * np.eye(3), member)
    np.testing.assert_allclose(orthogonal["alignment"], 0.0, atol=1e-15)
    # Anti-aligned ones lower it.
    anti = np.array([[1.0, 0.0, 0.0], [-0.9, 1.0, 0.0], [-0.9, 0.0, 1.0]])
    assert np.all(path_parts(np.eye(3), anti, member)["alignment"][1:] < 0)


def test_path_features_names_a_bad_tree_in_one_line():
    result = subprocess.run(
        [sys.executable, str(ROOT / "simulations" / "path_features.py"), "--depth", "0"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "depth" in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_path_summary_is_cached_and_refuses_other_models(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path / "cache"))
    first = path_summary(TREE, seed=1)
    assert set(first) == {"growth", "feature", "alignment", "depth", "drift", "heat"}
    np.testing.assert_allclose(first["growth"], first["feature"] + first["alignment"])
    trace = trace_parameters(TREE, seed=1)
    np.testing.assert_allclose(first["heat"], trace["heat"].sum(axis=0), rtol=1e-12)
    entries = sorted((tmp_path / "cache").iterdir())
    assert entries
    np.testing.assert_array_equal(path_summary(TREE, seed=1)["growth"], first["growth"])
    assert sorted((tmp_path / "cache").iterdir()) == entries  # read, not recomputed
    with pytest.raises(ValueError, match="model='compositional'"):
        path_summary(TREE.replace(model="table"))
