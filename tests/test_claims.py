"""Claims about where a law holds: found on a map, tested off it, stated only if the
tests agree, and looked up for a regime (`claimed`)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from normtheory import verify
from normtheory.verify import claims, maps
from normtheory.verify._record import Result

CHANGES = {"num_items": 40, "dim": 8, "batch": 16, "steps": 60}
BASE = dataclasses.asdict(verify.CHECKS["accumulation"][1].replace(**CHANGES))


def _map(verdicts, xs=(0.1, 0.2, 0.5), ys=(0.05, 0.1)) -> maps.ValidityMap:
    shape = (len(ys), len(xs))
    return maps.ValidityMap(
        check="accumulation",
        law="accumulation",
        row=0,
        x="lr",
        x_values=tuple(xs),
        y="tau",
        y_values=tuple(ys),
        changes=CHANGES,
        rel_error=np.zeros(shape),
        tolerance=np.ones(shape),
        verdict=np.asarray(verdicts),
        note=np.full(shape, ""),
        base=BASE,
    )


def test_candidates_are_the_largest_rectangles_of_one_verdict():
    vmap = _map([["holds", "holds", "fails"], ["holds", "holds", "fails"]])
    found = {c.verdict: c for c in claims.candidates(vmap)}
    assert found["holds"].x_range == (0.1, 0.2) and found["holds"].y_range == (0.05, 0.1)
    assert found["holds"].cells == 4
    assert found["fails"].x_range == (0.5, 0.5) and found["fails"].cells == 2
    # An L-shape: the rectangle must not include the hole.
    ell = claims.candidates(_map([["holds", "holds", "holds"], ["holds", "fails", "fails"]]))
    holds = next(c for c in ell if c.verdict == "holds")
    assert holds.cells == 3 and holds.y_range == (0.05, 0.05)


def _fake_check(monkeypatch, holds_if):
    """Replace run_checks: the check 'holds' where holds_if(config) else 'fails'."""
    seen = []

    def run_checks(names, assignments):
        from normtheory.config import parse_assignments

        changes = parse_assignments(assignments)
        config = verify.CHECKS[names[0]][1].replace(**changes)
        seen.append(config)
        verdict = "holds" if holds_if(config) else "fails"
        result = Result(
            law="accumulation", item=6, config=config, quantity="q", predicted=1.0,
            measured=1.0, spread=0.0, rel_error=0.0, tolerance=0.1, basis="b",
            verdict=verdict,
        )  # fmt: skip
        return [result], {}

    monkeypatch.setattr(verify, "run_checks", run_checks)
    return seen


def test_a_claim_that_holds_off_the_grid_is_stated(monkeypatch):
    seen = _fake_check(monkeypatch, lambda c: c.lr <= 0.3)
    vmap = _map([["holds", "holds", "fails"], ["holds", "holds", "fails"]])
    grid = {"lr": list(vmap.x_values), "tau": list(vmap.y_values)}
    claim = next(c for c in claims.candidates(vmap) if c.verdict == "holds")
    tested = claims.validate(claim, grid, interior=3, unswept=("batch", "dim", "num_items"))
    assert [t.kind for t in tested.tests].count("interior") == 3
    assert tested.stated and tested.agreement == 1.0
    # Interior points are off the grid and inside the rectangle; unswept ones change one
    # setting at the rectangle's centre.
    for t in tested.tests:
        assert 0.1 <= t.changes["lr"] <= 0.2 and 0.05 <= t.changes["tau"] <= 0.1
    interior = [t.changes for t in tested.tests if t.kind == "interior"]
    assert all(p["lr"] not in grid["lr"] or p["tau"] not in grid["tau"] for p in interior)
    assert {c.batch for c in seen} == {16, 8} and {c.num_items for c in seen} == {40, 80}


def test_a_claim_broken_between_grid_points_is_not_stated(monkeypatch):
    # The law fails in a band between two holding grid values: the map cannot see it.
    _fake_check(monkeypatch, lambda c: not 0.12 < c.lr < 0.45)
    vmap = _map([["holds", "holds", "holds"], ["holds", "holds", "holds"]])
    grid = {"lr": list(vmap.x_values), "tau": list(vmap.y_values)}
    [claim] = claims.candidates(vmap)
    tested = claims.validate(claim, grid, interior=6, unswept=("batch",))
    assert not tested.stated and tested.agreement < claims.MIN_AGREEMENT
    lines = maps.section(
        {"maps": {"accumulation": vmap.to_json()}, "claims": [tested.to_json()]}, []
    )
    assert any("holds at the tested points only" in line for line in lines)


def test_a_claim_broken_by_an_unswept_setting_is_not_stated(monkeypatch):
    _fake_check(monkeypatch, lambda c: c.batch >= 16)  # a smaller batch breaks the law
    vmap = _map([["holds", "holds", "holds"], ["holds", "holds", "holds"]])
    grid = {"lr": list(vmap.x_values), "tau": list(vmap.y_values)}
    [claim] = claims.candidates(vmap)
    tested = claims.validate(claim, grid, interior=1, unswept=("batch", "dim"))
    assert tested.agreement == pytest.approx(2 / 3) and not tested.stated


def _stated_claim(monkeypatch) -> claims.Claim:
    _fake_check(monkeypatch, lambda c: c.lr <= 0.3)
    vmap = _map([["holds", "holds", "fails"], ["holds", "holds", "fails"]])
    grid = {"lr": list(vmap.x_values), "tau": list(vmap.y_values)}
    claim = next(c for c in claims.candidates(vmap) if c.verdict == "holds")
    return claims.validate(claim, grid, interior=2, unswept=("batch", "dim"))


def test_claimed_says_holds_inside_a_stated_claim_and_none_elsewhere(monkeypatch):
    claim = _stated_claim(monkeypatch)
    stated = [claims.Claim.from_json(claim.to_json())]  # as read back from maps.json

    def at(**changes):
        return claims.claimed({**BASE, **changes}, "accumulation", "", stated)

    assert at(lr=0.15, tau=0.07) == "holds"
    assert at(lr=0.4, tau=0.07) == "none"  # outside the intervals
    assert at(lr=0.15, tau=0.07, batch=8) == "holds"  # the validated unswept change
    assert at(lr=0.15, tau=0.07, batch=32) == "none"  # an untested change
    assert at(lr=0.15, tau=0.07, init_scale=0.05) == "none"
    assert claims.claimed({**BASE, "lr": 0.15}, "other_law", "", stated) == "none"


def test_claimed_never_cites_an_unstated_claim(monkeypatch):
    claim = dataclasses.replace(_stated_claim(monkeypatch), tests=())
    assert not claim.stated and math.isnan(claim.agreement)
    assert claims.claimed({**BASE, "lr": 0.15, "tau": 0.07}, "accumulation", "", [claim]) == "none"


def test_verify_json_carries_claimed(tmp_path, monkeypatch, capsys):
    import json

    from normtheory import cli

    claim = _stated_claim(monkeypatch)
    monkeypatch.undo()
    path = tmp_path / "maps.json"
    path.write_text(json.dumps({"maps": {}, "claims": [claim.to_json()]}))
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path / "cache"))
    sets = [f"--set={k}={v}" for k, v in claim.changes.items()]
    argv = ["verify", "accumulation", "--json", "--seed-groups", "1", "--claims", str(path), *sets]

    def first_row(argv):
        assert cli.main(argv) == 0
        return json.loads(capsys.readouterr().out.splitlines()[0])

    assert first_row([*argv, "--set=lr=0.15", "--set=tau=0.07"])["claimed"] == "holds"
    assert first_row([*argv, "--set=lr=0.4", "--set=tau=0.07"])["claimed"] == "none"
