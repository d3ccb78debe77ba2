"""Item 12's budget from the gradients through the kernel (normtheory.kernel_budget)."""

import dataclasses

import numpy as np
import pytest

from normtheory import simulate
from normtheory.config import ConfigError, SimConfig
from normtheory.kernel_budget import (
    KernelBudget,
    feature_kernel,
    kernel_budget,
    kernel_budget_cached,
    kernel_refusal,
)
from normtheory.verify import drift_heat

TREE = SimConfig(
    data="hierarchy",
    model="compositional",
    depth=2,
    branching=3,
    dim=4,
    batch=16,
    steps=120,
    stride=10,
    dtype="float64",
    lr=0.05,
    momentum=0.9,
    weight_decay=0.02,
)
SPLIT = [f"{kind}_{part}" for kind in ("drift", "heat") for part in ("self", "cross", "rest")]


def _scale(budget) -> float:
    return float(np.max(np.abs(budget.decay) + np.abs(budget.drift) + np.abs(budget.heat)))


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_the_kernel_closes_the_budget_and_gives_the_engines_terms(optimizer):
    config = TREE.replace(optimizer=optimizer)
    budget = kernel_budget(config)
    scale = _scale(budget)
    assert np.max(np.abs(budget.remainder)) <= 1e-12 * scale
    engine = simulate(config, seeds=1, progress=False, trace_split=True)
    np.testing.assert_allclose(budget.norm, engine.norm, rtol=1e-12)
    np.testing.assert_allclose(budget.norm0, engine.norm0, rtol=1e-12)
    for name in ("decay", "drift", "heat", "g2", *SPLIT):
        np.testing.assert_allclose(
            getattr(budget, name), getattr(engine, name), rtol=0, atol=1e-10 * scale,
            err_msg=name,
        )  # fmt: skip
    np.testing.assert_array_equal(budget.rate, engine.rate)


def test_the_split_adds_up():
    budget = kernel_budget(TREE)
    for kind in ("drift", "heat"):
        parts = sum(getattr(budget, f"{kind}_{p}") for p in ("self", "cross", "rest"))
        np.testing.assert_allclose(parts, getattr(budget, kind), atol=1e-13 * _scale(budget))


def test_a_free_table_closes_with_the_identity():
    config = SimConfig(
        num_items=30, dim=4, batch=16, steps=60, stride=6, optimizer="momentum",
        weight_decay=0.01, dtype="float64", view_noise=0.3,
    )  # fmt: skip
    budget = kernel_budget(config)
    np.testing.assert_array_equal(feature_kernel(config), np.eye(30))
    assert np.max(np.abs(budget.remainder)) <= 1e-12 * _scale(budget)
    assert np.max(np.abs(budget.drift_cross)) == 0.0


def test_the_compositional_kernel_counts_shared_path_features():
    m = feature_kernel(TREE)  # depth 2, branching 3: root 0, children 1-3, leaves 4-12
    assert m[0, 0] == 1 and m[1, 1] == 2 and m[4, 4] == 3
    assert m[4, 5] == 2 and m[4, 7] == 1 and m[1, 4] == 2 and m[2, 4] == 1
    np.testing.assert_array_equal(m, m.T)


def test_a_wrong_kernel_leaves_a_remainder():
    wrong = kernel_budget(TREE, kernel=np.eye(13))  # each node moved by its own gradient
    assert np.max(np.abs(wrong.remainder)) > 0.1 * _scale(wrong)


@pytest.mark.parametrize(
    "changes, word",
    [
        ({"model": "mlp", "data": "ambiguity", "loss": "prototype"}, "model='mlp'"),
        ({"optimizer": "adamw", "lr": 0.01}, "optimizer='adamw'"),
        ({"tracked": 5}, "tracked=5"),
    ],
)
def test_refusals_name_the_problem(changes, word):
    config = TREE.replace(**changes)
    assert word in kernel_refusal(config)
    with pytest.raises(ConfigError, match=word) as info:
        kernel_budget(config)
    assert "\n" not in str(info.value)


def test_a_kernel_of_the_wrong_shape_is_refused():
    with pytest.raises(ConfigError, match=r"kernel: expected shape \(13, 13\)"):
        kernel_budget(TREE, kernel=np.eye(12))


def test_the_cached_budget_is_the_computed_one():
    first = kernel_budget_cached(TREE)
    again = kernel_budget_cached(TREE)
    for field in dataclasses.fields(KernelBudget):
        np.testing.assert_array_equal(getattr(first, field.name), getattr(again, field.name))
    np.testing.assert_allclose(first.heat, kernel_budget(TREE).heat, rtol=1e-15)


def test_drift_heat_takes_a_shared_encoders_rates_from_the_kernel():
    assert drift_heat.rate_source(TREE) == "kernel"
    assert drift_heat.rate_source(TREE.replace(optimizer="adamw", lr=0.01)) == "traced"
    assert drift_heat.rate_source(TREE.replace(model="table")) == "traced"


def test_kernel_rates_equal_the_traced_rates_for_an_exact_kernel():
    config = TREE.replace(steps=400)
    kernel = drift_heat.per_item(config, "kernel")
    traced = drift_heat.per_item(config, "traced")
    for key in ("predicted", "measured", "drift", "h"):
        np.testing.assert_allclose(kernel[key], traced[key], rtol=1e-9, err_msg=key)
