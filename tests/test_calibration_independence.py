"""A prediction never sees the run it judges: calibration runs have disjoint seeds,
every approximate record says where its inputs came from, and a check handed the judged
run as its calibration refuses it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from normtheory import cli
from normtheory.regimes import SGD_L2
from normtheory.verify import equilibria
from normtheory.verify._common import (
    Calibration,
    calibration_run,
    check_independent,
    half_stats,
    simulate_cached,
)

SMALL = SGD_L2.replace(num_items=30, dim=8, batch=16, steps=400, stride=10)


def test_calibration_seeds_are_disjoint_from_the_judged_ones():
    for config in (SMALL, SMALL.replace(seed=2**32 - 2)):
        calibration = calibration_run(config, 2, 2, "G^2")
        judged = set(range(config.seed, config.seed + 2))
        assert judged.isdisjoint(calibration.seed_list()) and len(calibration.seed_list()) == 2
        regime = {k: v for k, v in calibration.to_json()["regime"].items() if k != "seed"}
        assert regime == {k: v for k, v in SMALL.__dict__.items() if k != "seed"}


def test_a_calibration_sharing_a_seed_with_the_judged_run_is_refused():
    with pytest.raises(ValueError, match="judged run's"):
        check_independent(Calibration(SMALL.replace(seed=1), 2, "G^2"), SMALL, 2)
    check_independent(Calibration(SMALL.replace(seed=2), 2, "G^2"), SMALL, 2)


def test_item_9c_refuses_the_judged_run_as_its_own_calibration(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path))
    config = SMALL.replace(weight_decay=0.01, dtype="float64")
    traj = simulate_cached(config, 2)
    n4 = half_stats(config, traj.norm**4)
    with pytest.raises(ValueError, match="judged run's"):
        equilibria._shot_noise(config, traj, n4, Calibration(config, 2, "kicks"))


def test_every_approximate_record_carries_its_calibration(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path))
    sets = ["--set=num_items=30", "--set=dim=8", "--set=batch=16", "--set=steps=400"]
    assert cli.main(["verify", "sgd_decay_equilibrium", "--json", "--seed-groups", "1", *sets]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    laws = {r["law"] for r in records}
    assert {"sgd_decay_equilibrium", "sparse_decay_shot_noise", "sgd_decay_angle"} <= laws
    for record in records:
        calibration = record["calibration"]
        judged = set(range(record["config"]["seed"], record["config"]["seed"] + 2))
        assert judged.isdisjoint(calibration["seeds"]), record["law"]
        assert calibration["measured"]
    fed = [r for r in records if r["calibration"]["seeds"]]
    assert fed, "the equilibrium takes G^2 from a calibration run"


def test_the_equilibrium_prediction_changes_with_the_calibration_not_the_judged_run(
    tmp_path, monkeypatch
):
    # Replace the judged run's gradient energies by garbage: the prediction must not move.
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path))
    config = SMALL.replace(weight_decay=0.01, dtype="float64")
    real = equilibria._run

    def judged_with_garbage(cfg, seeds, trace_split=False):
        traj = real(cfg, seeds, trace_split)
        if cfg.seed == config.seed:
            import dataclasses

            return dataclasses.replace(traj, g2=traj.g2 * 1e3)
        return traj

    before = equilibria.sgd_decay_equilibrium(config)[0].predicted
    monkeypatch.setattr(equilibria, "_run", judged_with_garbage)
    after = equilibria.sgd_decay_equilibrium(config)[0].predicted
    assert np.isfinite(before) and after == before
