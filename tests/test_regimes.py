"""The canonical regimes: their values (which every cached result and REPORT.md number
depends on) and that each consumer runs the regime it names, not a copy."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import itertools
from pathlib import Path

import pytest

from normtheory import regimes
from normtheory.config import SimConfig

ROOT = Path(__file__).resolve().parents[1]
TABLE = {"num_items": 200, "dim": 16, "batch": 64, "dtype": "float64", "zipf": 1.1}
# The values each regime had where its consumer defined it before regimes.py existed.
VALUES = {
    "EXACT_FACTS": {**TABLE, "steps": 60, "stride": 1, "lr": 0.5},
    "FREE_TABLE": {**TABLE, "steps": 1000, "stride": 1, "lr": 0.5},
    "SGD_L2": {**TABLE, "steps": 3000, "stride": 10, "lr": 0.5, "weight_decay": 0.01},
    "ADAMW": {**TABLE, "steps": 6000, "stride": 10, "optimizer": "adamw", "lr": 0.01,
              "weight_decay": 0.1},
    "HEAVY_BALL": {**TABLE, "steps": 4000, "stride": 10, "optimizer": "momentum", "lr": 0.05,
                   "momentum": 0.9, "weight_decay": 0.01},
    "HIERARCHY": {"data": "hierarchy", "depth": 4, "branching": 3, "dim": 16, "batch": 64,
                  "steps": 3000, "stride": 100, "dtype": "float64"},
    "AMBIGUITY": {"data": "ambiguity", "loss": "prototype", "num_items": 200, "dim": 16,
                  "batch": 64, "steps": 3000, "stride": 100, "dtype": "float64", "width": 32},
    "RETRIEVAL_AMBIGUITY": {"data": "ambiguity", "loss": "prototype", "num_items": 500,
                            "num_classes": 4, "ambiguity_levels": 5, "dim": 16, "batch": 64,
                            "steps": 3000, "stride": 500, "tracked": 1, "width": 32,
                            "noise": 0.3},
    "RETRIEVAL_HIERARCHY": {"data": "hierarchy", "depth": 5, "branching": 3, "towers": 2,
                            "frequency_mode": "coupled", "dim": 8, "batch": 64, "steps": 3000,
                            "stride": 500, "tracked": 1},
    "WORDNET": {"data": "wordnet", "num_items": 1000, "dim": 32, "batch": 256, "steps": 3000,
                "stride": 500, "tau": 0.1, "loss": "symmetric", "towers": 1},
    "KERNEL_SPLIT": {"data": "hierarchy", "model": "compositional", "depth": 3, "branching": 3,
                     "frequency_mode": "decoupled", "dim": 16, "batch": 64, "steps": 1500,
                     "stride": 1, "dtype": "float64"},
    "PARAMETER_NORM": {"data": "hierarchy", "model": "compositional", "depth": 4,
                       "branching": 3, "dim": 16, "batch": 64, "steps": 60, "stride": 1,
                       "dtype": "float64", "weight_decay": 0.01},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(VALUES))
def test_a_regime_has_the_values_its_consumers_ran(name):
    regime = getattr(regimes, name)
    assert dataclasses.asdict(regime) == dataclasses.asdict(SimConfig(**VALUES[name]))


def test_every_regime_is_listed_and_documented():
    assert set(regimes.__all__) == set(VALUES)
    body = ast.parse(Path(regimes.__file__).read_text(encoding="utf-8")).body
    documented = {
        statement.targets[0].id
        for statement, after in itertools.pairwise(body)
        if isinstance(statement, ast.Assign)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
        and isinstance(after.value.value, str)
    }
    assert documented >= set(VALUES)


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "figures" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verify_figures_calibrate_and_bridge_start_from_the_canonical_regimes():
    from normtheory.bridge import settings
    from normtheory.calibrate import regimes as calibration_regimes
    from normtheory.verify import CHECKS

    assert CHECKS["euler"][1] is regimes.EXACT_FACTS
    assert CHECKS["parameter_pythagoras"][1] is regimes.PARAMETER_NORM
    assert CHECKS["accumulation"][1] is regimes.FREE_TABLE
    assert CHECKS["sgd_decay_equilibrium"][1] is regimes.SGD_L2
    assert CHECKS["adamw_equilibrium"][1] is regimes.ADAMW
    assert CHECKS["drift_heat_equilibrium"][1] is regimes.HEAVY_BALL
    assert CHECKS["specificity"][1] is regimes.HIERARCHY
    assert CHECKS["uncertainty"][1] is regimes.AMBIGUITY
    assert settings.BASE is regimes.WORDNET
    bases = {"ambiguity": regimes.RETRIEVAL_AMBIGUITY, "hierarchy": regimes.RETRIEVAL_HIERARCHY}
    for regime in calibration_regimes():
        base = bases[regime.config.data]
        assert regime.config.replace(model=base.model, optimizer=base.optimizer, lr=base.lr,
                                     weight_decay=base.weight_decay) == base  # fmt: skip
    assert _script("fig11_kernel_split").BASE is regimes.KERNEL_SPLIT
