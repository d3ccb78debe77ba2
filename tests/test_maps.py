"""Validity maps: a check over two axes, each cell's verdict, and a map that can fail."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from normtheory.config import ConfigError, SimConfig
from normtheory.verify import maps

TINY = {"num_items": 40, "dim": 8, "batch": 16, "steps": 60}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path))


def test_a_map_records_every_cell_and_marks_impossible_ones():
    vmap = maps.validity_map(
        "accumulation", ("lr", [0.1, 0.5]), ("eta_lam", [0.0, 2.0]), changes=TINY
    )
    assert vmap.rel_error.shape == (2, 2) and vmap.verdict.shape == (2, 2)
    assert list(vmap.verdict[0]) == ["holds", "holds"]  # no decay: item 6 holds
    assert np.all(np.isfinite(vmap.rel_error[0])) and np.all(vmap.rel_error[0] <= vmap.tolerance[0])
    assert list(vmap.verdict[1]) == ["invalid", "invalid"]  # eta lam = 2: no contraction
    assert "weight_decay" in vmap.note[1, 0]
    # A per-item check records the statistic its verdict turns on, per cell.
    assert np.all((vmap.fraction[0] >= 0.9) & (vmap.fraction[0] <= 1))
    assert np.all(np.isnan(vmap.fraction[1]))
    record = vmap.to_json()
    assert record["counts"] == {"holds": 2, "invalid": 2} and record["rel_error"][1] == [None, None]
    assert vmap.holds_region().startswith("holds in 2 of 4 cells")


def test_a_wrong_law_fails_across_the_map(monkeypatch):
    from normtheory import laws

    real = laws.get("accumulation")
    wrong = dataclasses.replace(real, fn=lambda *a: 1.05 * real.fn(*a))
    monkeypatch.setattr(laws, "get", lambda name: wrong if name == "accumulation" else real)
    vmap = maps.validity_map("accumulation", ("lr", [0.1, 0.5]), ("tau", [0.1]), changes=TINY)
    assert set(vmap.verdict.ravel()) == {"fails"}


def test_bad_axes_are_refused():
    with pytest.raises(ConfigError, match="must differ"):
        maps.validity_map("accumulation", ("lr", [0.1]), ("lr", [0.2]))
    with pytest.raises(ConfigError, match="unknown map axis 'speed'"):
        maps.validity_map("accumulation", ("speed", [1.0]), ("lr", [0.2]), changes=TINY)
    with pytest.raises(KeyError, match="unknown check"):
        maps.validity_map("nope", ("lr", [0.1]), ("tau", [0.2]))


def test_the_report_states_the_default_verdict_beside_the_map_count():
    from normtheory.verify._record import Result

    vmap = maps.validity_map(
        "accumulation", ("lr", [0.1, 0.5]), ("eta_lam", [0.0, 2.0]), changes=TINY
    )
    default = Result(
        law=vmap.law, item=6, config=SimConfig(), quantity="q", predicted=1.0, measured=1.0,
        spread=0.0, rel_error=0.0, tolerance=0.1, basis="b", verdict="holds",
    )  # fmt: skip
    lines = maps.section({"maps": {"accumulation": vmap.to_json()}}, [default])
    [row] = [line for line in lines if line.startswith(f"| {vmap.law} |")]
    assert "| 6 | holds | 2 of 4 | lr x eta_lam | none |" in row
    assert vmap.base["num_items"] == TINY["num_items"] and vmap.base["weight_decay"] == 0


def test_two_rows_of_one_check_are_told_apart():
    from normtheory.verify._record import Result

    law = "drift_heat_equilibrium"

    def record(label, verdict):
        return {
            "check": law, "law": law, "row": 0, "label": label, "x": "eta_lam",
            "x_values": [1e-3], "y": "momentum", "y_values": [0.9],
            "verdict": [[verdict]], "counts": {verdict: 1},
        }  # fmt: skip

    def default(label, verdict):
        return Result(
            law=law, item=12, config=SimConfig(), quantity="q", predicted=1.0, measured=1.0,
            spread=0.0, rel_error=0.0, tolerance=0.1, basis="b", verdict=verdict, row=label,
        )  # fmt: skip

    data = {law: record("table, heavy ball", "fails"), f"{law}/2": record("comp", "holds")}
    results = [default("table, heavy ball", "fails"), default("comp (--set lr)", "holds")]
    lines = maps.section({"maps": data}, results)
    assert any(line.startswith(f"| {law} (table, heavy ball) | 12 | fails |") for line in lines)
    assert any(line.startswith(f"| {law} (comp) | 12 | holds | 1 of 1 |") for line in lines)
