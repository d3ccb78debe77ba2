"""The canonical regimes: each is a valid config with results of its own (a change of any
field moves its cache key), and each consumer runs the regime it names, not a copy."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

from normtheory import regimes
from normtheory.config import SimConfig

ROOT = Path(__file__).resolve().parents[1]


def _regimes() -> dict[str, SimConfig]:
    return {name: getattr(regimes, name) for name in regimes.__all__}


def test_every_regime_is_a_valid_config():
    for name, regime in _regimes().items():
        assert isinstance(regime, SimConfig), name
        assert SimConfig(**dataclasses.asdict(regime)) == regime  # it validates as built


def test_every_regime_has_a_key_of_its_own_and_any_change_moves_it():
    from normtheory import cache
    from normtheory.runs import run_spec

    def key(config):
        return cache.config_key(run_spec(config, 2, None, True), code="fixed")

    keys = {name: key(regime) for name, regime in _regimes().items()}
    assert len(set(keys.values())) == len(keys)  # no two regimes share results
    changes = {"dim": 3, "batch": 7, "steps_times": 2, "tau": 0.137, "seed": 11}
    for name, regime in _regimes().items():
        for field, value in changes.items():
            if field == "steps_times":
                moved = regime.replace(steps=regime.steps * 2)
            else:
                moved = regime.replace(**{field: value})
            assert key(moved) != keys[name], (name, field)


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
