"""Every registered law passes its own symbolic checks, and bad arguments are refused."""

import math

import numpy as np
import pytest

from normtheory import laws

ALL = laws.names()


@pytest.mark.parametrize("name", ALL)
def test_symbolic_checks_reduce_to_zero(name):
    law = laws.get(name)
    assert law.checks, f"{name} has no symbolic check"
    for check, residual in law.verify():
        assert residual == 0, f"{name}: check {check.name!r} leaves {residual}"


def test_every_theory_item_with_a_closed_form_has_a_law():
    items = {laws.get(name).item for name in ALL}
    assert set(range(3, 13)) <= items


@pytest.mark.parametrize(
    ("name", "kwargs", "bad"),
    [
        ("sgd_decay_equilibrium", {"eta": -0.1, "lam": 1e-3, "G2": 1.0}, "eta"),
        ("sgd_decay_equilibrium", {"eta": 0.1, "lam": 0.0, "G2": 1.0}, "lam"),
        ("sgd_decay_equilibrium", {"eta": 0.1, "lam": 1e-3, "G2": -1.0}, "G2"),
        ("sgd_decay_equilibrium", {"eta": 0.1, "lam": 1e-3, "G2": math.nan}, "G2"),
        ("sparse_decay_equilibrium", {"eta": 0.1, "lam": 1e-3, "G2": 1.0, "p": 1.5}, "p"),
        ("momentum_decay_equilibrium", {"eta": 0.1, "lam": 1e-3, "G2": 1.0, "alpha": 1.0}, "alpha"),
        ("adamw_equilibrium", {"eta": 1e-3, "lam": 0.1, "C": 64, "b1": -0.1}, "b1"),
        ("gd_norm_step", {"N": 0.0, "eta": 0.1, "G2": 1.0}, "N"),
        ("cosine_gradient_norm", {"c": 1.5, "N": 1.0}, "c"),
        (
            "infonce_gradient",
            {"z": np.ones(3), "candidates": np.eye(3), "targets": np.eye(3)[0], "tau": 0.0},
            "tau",
        ),
    ],
)
def test_bad_argument_raises_value_error_naming_it(name, kwargs, bad):
    with pytest.raises(ValueError, match=f"'{bad}'"):
        laws.get(name)(**kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs", "bad"),
    [
        (
            "infonce_gradient",
            {"z": np.ones(3), "candidates": np.eye(3), "targets": np.full(3, 0.5), "tau": 1.0},
            "targets",
        ),
        (
            "infonce_gradient",
            {"z": np.zeros(3), "candidates": np.eye(3), "targets": np.eye(3)[0], "tau": 1.0},
            "z",
        ),
        (
            "supervised_infonce_gradient",
            {"z": np.eye(3), "labels": np.array([0, 0, 1]), "tau": 1.0},
            "labels",
        ),
        ("cosine_gradient", {"z": np.ones(2), "v": np.zeros(2)}, "v"),
    ],
)
def test_bad_array_argument_raises_value_error_naming_it(name, kwargs, bad):
    with pytest.raises(ValueError, match=f"'{bad}'"):
        laws.get(name)(**kwargs)


def test_relation_between_arguments_is_enforced():
    with pytest.raises(ValueError, match="eta \\* lam must be < 2"):
        laws.get("sgd_decay_equilibrium")(eta=10.0, lam=0.5, G2=1.0)


def test_unknown_law_name_is_named():
    with pytest.raises(KeyError, match="no_such_law"):
        laws.get("no_such_law")
