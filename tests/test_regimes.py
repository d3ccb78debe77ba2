"""The one registry of named configurations (normtheory.regimes): every name is a valid
config with results of its own (a change of any field moves its cache key), the
experiments are looked up by name, and every canonical regime is what some consumer
runs, not a copy of it."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from normtheory import regimes
from normtheory.config import ConfigError, SimConfig

ROOT = Path(__file__).resolve().parents[1]


def _named() -> dict[str, SimConfig]:
    """Every named configuration: the canonical regimes and the experiments."""
    experiments = {name: entry.config for name, entry in regimes.EXPERIMENTS.items()}
    assert not set(experiments) & set(regimes.CANONICAL)  # one name, one config
    return {**regimes.CANONICAL, **experiments}


def test_the_registry_holds_every_canonical_constant_and_only_those():
    constants = {
        name: value
        for name, value in vars(regimes).items()
        if isinstance(value, SimConfig) and not name.startswith("_")
    }
    assert constants and regimes.CANONICAL.keys() == constants.keys()
    assert all(regimes.CANONICAL[name] is value for name, value in constants.items())


def test_every_named_configuration_is_a_valid_config():
    for name, config in _named().items():
        assert isinstance(config, SimConfig), name
        assert SimConfig(**dataclasses.asdict(config)) == config  # it validates as built


def test_every_named_configuration_has_a_key_of_its_own_and_any_change_moves_it():
    from normtheory import cache
    from normtheory.runs import run_spec

    def key(config):
        return cache.config_key(run_spec(config, 2, None, True), code="fixed")

    keys = {name: key(config) for name, config in _named().items()}
    assert len(set(keys.values())) == len(keys)  # no two names share results
    changes = {"dim": 3, "batch": 7, "steps_times": 2, "tau": 0.137, "seed": 11}
    for name, config in _named().items():
        for field, value in changes.items():
            if field == "steps_times":
                moved = config.replace(steps=config.steps * 2)
            else:
                moved = config.replace(**{field: value})
            assert key(moved) != keys[name], (name, field)


def test_get_experiment_serves_the_registered_config_and_lists_the_names_on_a_miss():
    for name, entry in regimes.EXPERIMENTS.items():
        assert regimes.get_experiment(name) is entry.config
        assert entry.summary.strip() and "\n" not in entry.summary
    with pytest.raises(ConfigError, match="unknown experiment 'no_such'") as info:
        regimes.get_experiment("no_such")
    assert all(name in str(info.value) for name in regimes.EXPERIMENTS)
    assert "\n" not in str(info.value)


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "figures" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_canonical_regime_is_run_by_a_consumer_as_it_stands():
    """verify, the bridge and the figures start from the registry's own objects, and
    each calibration regime is a canonical one with only its model/optimizer row
    changed; a canonical regime that nothing runs is dead and fails too."""
    from normtheory.bridge import settings
    from normtheory.calibrate import regimes as calibration_regimes
    from normtheory.verify import CHECKS

    used = {id(config) for _, config in CHECKS.values()}
    used |= {id(settings.BASE), id(_script("fig11_kernel_split").BASE)}
    row = ("model", "optimizer", "lr", "weight_decay")
    for regime in calibration_regimes():
        bases = [
            base
            for base in regimes.CANONICAL.values()
            if base.data == regime.config.data
            and regime.config.replace(**{f: getattr(base, f) for f in row}) == base
        ]
        assert len(bases) == 1, regime.name  # exactly one canonical regime, row applied
        used.add(id(bases[0]))
    unused = [name for name, config in regimes.CANONICAL.items() if id(config) not in used]
    assert not unused, f"canonical regimes no consumer runs: {unused}"
