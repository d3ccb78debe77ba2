"""A theory figure and REPORT.md quote one record: every number a figure's JSON shares with
a row of the verification report equals that row exactly (same runs, same seeds).

Figures 2 (items 8, 8b, 9b, 9c and 11's slopes), 5 (item 12's rows) and 6 (item 10's
deviation) are drawn at a small size and compared with `normtheory verify`'s checks run at
the same size, which is what REPORT.md renders; figure 10 is compared with the probe
records (probe*.json) the report reads. Each comparison also has a variant in which the two
disagree by one unit in the last place, which it must catch.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from normtheory import figures, verify
from normtheory.verify import drift_heat

FIGURES = Path(__file__).resolve().parents[1] / "figures"
SMALL = {"num_items": 40, "dim": 4, "batch": 16, "steps": 200}


def _load(name: str):
    path = FIGURES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assignments(changes: Mapping[str, object]) -> list[str]:
    return [f"{k}={v}" for k, v in changes.items()]


def disagreements(figure: Mapping[str, float], report: Mapping[str, float]) -> list[str]:
    """The keys of `report` whose value in the figure's record is missing or not the same
    float, bit for bit (NaN equals NaN: both say "not measured")."""
    out = []
    for key, expected in report.items():
        got = figure.get(key)
        same = got is not None and (
            got == expected or (math.isnan(float(got)) and math.isnan(float(expected)))
        )
        if not same:
            out.append(f"{key}: figure {got!r}, report {expected!r}")
    return out


def _nudged(numbers: Mapping[str, float]) -> dict[str, float]:
    """`numbers` with its first value moved by one unit in the last place."""
    out = dict(numbers)
    key = next(iter(out))
    out[key] = float(np.nextafter(out[key], math.inf))
    return out


def test_the_comparison_is_exact() -> None:
    report = {"a": 0.1, "b": math.nan}
    assert disagreements({"a": 0.1, "b": math.nan}, report) == []
    assert disagreements(_nudged({"a": 0.1, "b": math.nan}), report) == [
        f"a: figure {float(np.nextafter(0.1, 1))!r}, report 0.1"
    ]
    assert disagreements({"b": math.nan}, report) == ["a: figure None, report 0.1"]


# Figure 5: the drift-heat rows (item 12).


def _drift_heat_rows(results) -> dict[str, float]:
    """The numbers REPORT.md's drift_heat_equilibrium rows quote, under figure 5's keys."""
    out = {}
    for r in results:
        assert r.law == "drift_heat_equilibrium" and r.verdict != "not applicable", r
        out |= {
            f"{r.row}_median_log_error": r.rel_error,
            f"{r.row}_tolerance": r.tolerance,
            f"{r.row}_predicted_median": r.predicted,
            f"{r.row}_measured_median": r.measured,
            f"{r.row}_fraction_within_tolerance": r.fraction_holding,
            f"{r.row}_fraction_low": r.fraction_low,
            f"{r.row}_fraction_high": r.fraction_high,
        }
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One results cache for this file: the verdicts' runs are computed once."""
    return tmp_path_factory.mktemp("consistency-cache")


@pytest.mark.end_to_end
def test_figure5_quotes_the_drift_heat_verdicts(cache, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NORMTHEORY_CACHE", str(cache))
    rows = {k: drift_heat.REGIMES[k] for k in ("table, heavy ball", "compositional, heavy ball")}
    monkeypatch.setattr(drift_heat, "BASE", drift_heat.BASE.replace(**SMALL))
    monkeypatch.setattr(drift_heat, "REGIMES", rows)
    record = _load("fig5_drift_heat").main(tmp_path, seed_groups=1)
    written = figures.read_record(record.path)["measured"]
    results, crashes = verify.run_checks(["drift_heat_equilibrium"], _assignments(SMALL))
    assert not crashes and [r.row for r in results] == list(rows)
    # The compositional row takes its rates from the kernel: the figure must too.
    compositional = drift_heat.BASE.replace(**rows["compositional, heavy ball"])
    assert drift_heat.rate_source(compositional) == "kernel"
    report = _drift_heat_rows(results)
    assert disagreements(written, report) == []
    assert len(disagreements(written, _nudged(report))) == 1
    # On seed groups, the figure states the verdicts `normtheory verify` states (here
    # made to split: the figure must say so, not its own group's verdict).
    script = _load("fig5_drift_heat")

    def split(*args, **kwargs):
        out, crashed = verify.run_checks(*args, **kwargs)
        return [dataclasses.replace(r, verdict="inconclusive", groups=("fails", "holds"))
                for r in out], crashed  # fmt: skip

    monkeypatch.setattr(script, "run_checks", split)
    caption = figures.read_record(script.main(tmp_path / "grouped", seed_groups=2).path)
    for r in results:
        assert f"{r.row}: " in caption["caption"]
    assert caption["caption"].count("tolerance, inconclusive (seed groups: fails, holds)") == 2
    # Drawn from other runs (the table at another learning rate), the figure disagrees.
    moved = drift_heat.BASE.replace(**SMALL, lr=0.04)
    monkeypatch.setattr(drift_heat, "BASE", moved)
    monkeypatch.setattr(drift_heat, "REGIMES", {"table, heavy ball": {}})
    other = _load("fig5_drift_heat").main(tmp_path / "other", seed_groups=1)
    other = figures.read_record(other.path)
    assert disagreements(other["measured"], _drift_heat_rows(results[:1]))


# Figure 2: the slopes of items 8, 8b, 9b, 9c and 11.


@pytest.mark.end_to_end
def test_figure2_quotes_the_slope_verdicts(cache, tmp_path, monkeypatch) -> None:
    """Items 8, 8b, 9b, 9c and 11's slopes in figure 2 are the verdicts' rows, not refits."""
    monkeypatch.setenv("NORMTHEORY_CACHE", str(cache))
    script = _load("fig2_frequency_imprint")
    written = figures.read_record(script.main(tmp_path, tiny=True).path)["measured"]
    tiny = script.configs(tiny=True)
    rows = {}
    for name, checks, fields in (
        (
            "sgd",
            ["frequency_imprint", "frequency_imprint_occurrences"],
            ("num_items", "steps", "stride"),
        ),
        ("sgd_l2", ["sgd_decay_equilibrium"], ("num_items", "steps", "weight_decay")),
        ("adamw", ["adamw_equilibrium"], ("num_items", "steps", "lr")),
    ):
        changes = {k: getattr(tiny[name], k) for k in fields}
        results, crashes = verify.run_checks(checks, _assignments(changes))
        assert not crashes
        rows |= {r.law: r for r in results}
    row = rows["sparse_decay_shot_noise"]  # item 9c
    assert row.verdict != "not applicable", row.note
    shot_noise = {
        "sgd_l2_shot_noise_slope": row.measured,
        "sgd_l2_shot_noise_slope_predicted": row.predicted,
        "sgd_l2_shot_noise_slope_error": row.rel_error,
        "sgd_l2_shot_noise_tolerance": row.tolerance,
    }
    assert disagreements(written, shot_noise) == []
    assert len(disagreements(written, _nudged(shot_noise))) == 1
    report = {
        "sgd_slope": rows["frequency_imprint"].measured,
        "sgd_slope_se": rows["frequency_imprint"].spread,
        "sgd_occurrence_slope": rows["frequency_imprint_occurrences"].measured,
        "sgd_l2_slope": rows["sparse_decay_equilibrium"].measured,
        "adamw_slope": rows["adamw_frequency_independence"].measured,
    }
    assert disagreements(written, report) == []
    assert len(disagreements(written, _nudged(report))) == 1


# Figure 6: Li-Arora's deviation (item 10).


@pytest.mark.end_to_end
def test_figure6_quotes_the_li_arora_verdict(cache, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NORMTHEORY_CACHE", str(cache))
    script = _load("fig6_li_arora")
    written = figures.read_record(script.main(tmp_path, tiny=True).path)["measured"]
    small = script.config(tiny=True)
    changes = {"num_items": small.num_items, "steps": small.steps}
    results, crashes = verify.run_checks(["li_arora"], _assignments(changes))
    assert not crashes and len(results) == 1 and results[0].verdict == "holds"
    report = {"deviation": results[0].measured}
    assert disagreements(written, report) == []
    assert disagreements(written, _nudged(report))


# Figure 10: the probe records REPORT.md reads.


@pytest.mark.parametrize("suffix", ["", "_minilm-l3"])
def test_figure10_quotes_the_probe_record(suffix: str) -> None:
    from normtheory.probe.figure import measured

    probe = FIGURES / f"probe{suffix}.json"
    figure = FIGURES / f"fig10_probe{suffix}.json"
    if not (probe.exists() and figure.exists()):
        pytest.skip(f"{probe.name} or {figure.name} not generated (make probe)")
    report = measured(json.loads(probe.read_text(encoding="utf-8")))
    written = json.loads(figure.read_text(encoding="utf-8"))["measured"]
    assert report and disagreements(written, report) == []
    assert len(disagreements(written, _nudged(report))) == 1
