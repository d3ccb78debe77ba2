"""Figures 9 and 13 plot the records REPORT.md quotes: every AUROC, interval and rho the
figure's JSON holds equals the producer's record (calibration.json, bridge.json) exactly,
and a figure drawn from another record (a perturbed copy) is caught."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest

from normtheory import calibrate, confidence
from normtheory.bridge import figure as fig13
from normtheory.calibrate import figure as fig9
from normtheory.calibrate.analysis import Prediction

FIGURES = Path(__file__).resolve().parents[1] / "figures"
PLOTTED = ("norm", "top1_cosine", "margin", "combined")  # the forest plot's scores


# ---------------------------------------------------------------- the comparisons (the test's own)


def _fig9_mismatches(figure: dict, calibration: dict) -> list[str]:
    """Keys where figure 9's JSON and the calibration record disagree (or one lacks)."""
    got = figure["measured"]
    want: dict[str, float] = {}
    for r in calibration["regimes"]:
        by = {s["score"]: s for s in r["scores"]}
        for score in PLOTTED:
            for key in ("auroc", "auroc_lo", "auroc_hi"):
                want[f"{r['regime']}/{score}/{key}"] = by[score][key]
        want[f"{r['regime']}/accuracy"] = r["accuracy"]
        want[f"{r['regime']}/norm/selective_accuracy_50"] = by["norm"]["selective_accuracy_50"]
    for family in ("ambiguity", "hierarchy"):
        rows = [r for r in calibration["regimes"] if r["data"] == family]
        if rows:
            want[f"{family}_on_theory_side"] = sum(r["verdict"] == "agrees" for r in rows)
    bad = [k for k, v in want.items() if got.get(k) != v]
    plotted = {k for k in got if re.fullmatch(r".+/(auroc(_lo|_hi)?|accuracy|selective_.+)", k)}
    return bad + sorted(plotted - set(want))  # and nothing plotted that the record lacks


def _fig13_mismatches(figure: dict, bridge: dict) -> list[str]:
    """Keys where figure 13's JSON and the bridge record disagree (or one lacks)."""
    got = figure["measured"]
    want: dict[str, float | None] = {}
    for r in bridge["regimes"]:
        c = r["compare"]
        want |= {f"{r['name']}/rho": c["rho"], f"{r['name']}/rho_lo": c["lo"]}
        want[f"{r['name']}/rho_hi"] = c["hi"]
    for b in bridge["baselines"]:
        key = f"baseline/{b['name']}"
        want |= {f"{key}/rho": b["rho"], f"{key}/rho_lo": b["lo"], f"{key}/rho_hi": b["hi"]}
    bad = [k for k, v in want.items() if k not in got or got[k] != v]
    plotted = {k for k in got if re.search(r"/rho(_lo|_hi)?$", k)}
    return bad + sorted(plotted - set(want))


def _numbers(line: str) -> np.ndarray:
    return np.array([float(x) for x in re.findall(r"[-+]?\d+\.\d+", line)])


def _quoted(report: str, first_cell: str, values: list[float]) -> bool:
    """Whether REPORT.md's table row starting with `first_cell` shows every value (3 d.p.)."""
    rows = [line for line in report.splitlines() if line.startswith(f"| {first_cell} |")]
    return bool(rows) and all(np.any(np.abs(_numbers(rows[0]) - v) <= 5e-4 + 1e-12) for v in values)


# ---------------------------------------------------------------- the committed figures


def _load(name: str) -> dict:
    return json.loads((FIGURES / name).read_text(encoding="utf-8"))


def test_figure_9_plots_the_calibration_record_the_report_quotes() -> None:
    figure, calibration = _load("fig9_calibration.json"), _load("calibration.json")
    assert _fig9_mismatches(figure, calibration) == []
    report = (FIGURES / "REPORT.md").read_text(encoding="utf-8")
    for r in calibration["regimes"]:
        m = figure["measured"]
        values = [m[f"{r['regime']}/{s}/{k}"] for s in PLOTTED for k in ("auroc", "auroc_lo")]
        assert _quoted(report, r["regime"], values), r["regime"]


def test_figure_13_plots_the_bridge_record_the_report_quotes() -> None:
    figure, bridge = _load("fig13_bridge.json"), _load("bridge.json")
    assert _fig13_mismatches(figure, bridge) == []
    report = (FIGURES / "REPORT.md").read_text(encoding="utf-8")
    m = figure["measured"]
    for r in bridge["regimes"]:
        values = [m[f"{r['name']}/rho{k}"] for k in ("", "_lo", "_hi")]
        assert _quoted(report, r["name"], values), r["name"]
    finite = [b for b in bridge["baselines"] if b["rho"] is not None]
    for b in finite:
        values = [m[f"baseline/{b['name']}/rho{k}"] for k in ("", "_lo", "_hi")]
        assert _quoted(report, b["name"], values), b["name"]


# ---------------------------------------------------------------- figure 9 at a tiny size


def _results(shift: float = 0.0) -> list:
    """Two scored regimes of synthetic retrieval arrays (the norm separates `correct`)."""
    out = []
    for i, name in enumerate(("ambiguity/mlp/sgd", "hierarchy/table/adamw")):
        rng = np.random.default_rng(i)
        correct = rng.random(300) < 0.6
        arrays = {
            "norm": correct + rng.normal(0, 1.0 + shift, 300),
            "top1": rng.random(300),
            "margin": correct + rng.normal(0, 2.0, 300),
            "correct": correct,
            "feature": rng.random(300),
            "seed": np.zeros(300, int),
        }
        regime = next(r for r in calibrate.regimes() if r.name == name)
        link = {"rho": -0.3, "lo": -0.4, "hi": -0.2, "feature_auroc": 0.35, "n": 300}
        derived = Prediction(-1, -0.5, link, (1,), (1, 2))
        out.append(calibrate.evaluate(regime, arrays, n_boot=40, prediction=derived))
    return out


@pytest.fixture(scope="module")
def drawn_fig9(tmp_path_factory) -> tuple[Path, list, dict]:
    results = _results()
    path = calibrate.draw(results, tmp_path_factory.mktemp("fig9") / "fig9_calibration.png")
    return path, results, {"regimes": calibrate.records(results)}


def test_figure_9_from_results_matches_their_record(drawn_fig9) -> None:
    path, _, record = drawn_fig9
    assert path.with_suffix(".pdf").read_bytes().startswith(b"%PDF-")
    figure = json.loads(path.with_suffix(".json").read_text())
    assert _fig9_mismatches(figure, record) == []
    assert figure["measured"]["ambiguity/mlp/sgd/norm/auroc"] > 0.6  # the norm is informative


def test_figure_9_drawn_from_a_perturbed_record_is_caught(drawn_fig9, tmp_path) -> None:
    _, results, record = drawn_fig9
    curves = {r.regime.name: (r.curves["norm"].coverage, r.curves["norm"].accuracy)
              for r in results}  # fmt: skip
    perturbed = copy.deepcopy(record)
    perturbed["regimes"][1]["scores"][2]["auroc_hi"] += 0.01  # margin of the second regime
    path = fig9.draw_record(perturbed, tmp_path / "fig9_calibration.png", curves)
    figure = json.loads(path.with_suffix(".json").read_text())
    assert _fig9_mismatches(figure, record) == ["hierarchy/table/adamw/margin/auroc_hi"]
    assert _fig9_mismatches(figure, perturbed) == []


def test_figure_9_refuses_curves_of_other_arrays(drawn_fig9, tmp_path) -> None:
    record = drawn_fig9[2]
    other = {
        r.regime.name: (r.curves["norm"].coverage, r.curves["norm"].accuracy)
        for r in _results(shift=0.5)
    }  # the same queries ranked by another norm
    with pytest.raises(ValueError, match=r"ambiguity/mlp/sgd: .*coverage 0\.5.*not the record"):
        fig9.draw_record(record, tmp_path / "fig9_calibration.png", other)


def test_a_curve_is_checked_at_coverage_one_and_one_half() -> None:
    record = calibrate.records(_results()[:1])[0]
    correct = np.array([1, 1, 0, 0, 1, 0], bool)
    record |= {"accuracy": 0.5, "n": 6}
    record["scores"][0] |= {"n": 6, "selective_accuracy_50": 2 / 3}
    curve = confidence.risk_coverage(np.array([6.0, 5, 4, 3, 2, 1]), correct)
    fig9.check_curve(record, curve.coverage, curve.accuracy)  # 2 of the top 3 are right
    wrong = curve.accuracy.copy()
    wrong[2] = 1.0  # the top 3 all right: another ranking
    with pytest.raises(ValueError, match=r"selective accuracy at coverage 0\.5 is 1\.0"):
        fig9.check_curve(record, curve.coverage, wrong)
    wrong = curve.accuracy.copy()
    wrong[-1] = 0.6
    with pytest.raises(ValueError, match=r"accuracy at coverage 1 is 0\.6, the record's 0\.5"):
        fig9.check_curve(record, curve.coverage, wrong)
    with pytest.raises(ValueError, match="has 5 queries, the record 6"):
        fig9.check_curve(record, curve.coverage[:5], curve.accuracy[:5])


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({}, "no list 'regimes'"),
        ({"regimes": []}, "no regimes"),
        ({"regimes": [{"regime": "x"}]}, "lacks 'data'"),
    ],
)
def test_figure_9_names_a_bad_record_in_one_line(broken, message, tmp_path) -> None:
    with pytest.raises(ValueError, match=f"figure 9: .*{message}"):
        fig9.draw_record(broken, tmp_path / "f.png", {})


def test_figure_9_without_a_plotted_score_is_refused(drawn_fig9, tmp_path) -> None:
    record = copy.deepcopy(drawn_fig9[2])
    record["regimes"][0]["scores"] = record["regimes"][0]["scores"][:2]
    with pytest.raises(ValueError, match="ambiguity/mlp/sgd: the record has no score margin"):
        fig9.measured(record)


def test_figure_9_command_reports_a_bad_file_in_one_line(tmp_path, capsys) -> None:
    bad = tmp_path / "calibration.json"
    bad.write_text('{"seeds": 3}')
    assert fig9.main([str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no list 'regimes'" in err


# ---------------------------------------------------------------- figure 13 at a tiny size


def _bridge_record(words: int = 60) -> dict:
    """A bridge record of two regimes and two baselines (one constant), with its arrays."""
    rng = np.random.default_rng(3)
    real = rng.normal(7, 0.5, words)
    toy = {"table/sgd/coupled": real + rng.normal(0, 1, words),
           "compositional/adam/decoupled": rng.normal(2, 0.3, words)}  # fmt: skip
    regimes = []
    for name, values in toy.items():
        rho = confidence.spearman(values, real)
        regimes.append({"name": name, "compare": {"rho": rho, "lo": rho - 0.1, "hi": rho + 0.1}})
    baseline = real + rng.normal(0, 0.5, words)
    rho = confidence.spearman(baseline, real)
    return {
        "regimes": regimes,
        "baselines": [
            {"name": "word pieces", "rho": None, "lo": None, "hi": None, "note": "constant"},
            {"name": "linear combination (CV)", "rho": rho, "lo": rho - 0.05, "hi": rho + 0.05},
        ],
        "per_word": {
            "real": real.tolist(),
            "baseline": baseline.tolist(),
            "toy": {k: v.tolist() for k, v in toy.items()},
        },
        "future_field": {"ignored": True},
    }


def test_figure_13_matches_its_record_and_writes_the_supplement(tmp_path) -> None:
    record = _bridge_record()
    path = fig13.draw(record, tmp_path)
    figure = json.loads(path.with_suffix(".json").read_text())
    assert _fig13_mismatches(figure, record) == []
    assert figure["measured"]["baseline/word pieces/rho"] is None  # null stays null
    assert figure["measured"]["regimes_above_baseline"] == 0
    scatter = tmp_path / fig13.SCATTER
    assert scatter.read_bytes().startswith(b"\x89PNG") and scatter.with_suffix(".pdf").exists()
    first = path.read_bytes()
    fig13.draw(record, tmp_path)  # redrawn from the record alone: the same bytes
    assert path.read_bytes() == first


def test_figure_13_drawn_from_a_perturbed_record_is_caught(tmp_path) -> None:
    record = _bridge_record()
    perturbed = copy.deepcopy(record)
    perturbed["regimes"][0]["compare"]["lo"] -= 0.02
    perturbed["baselines"][1]["rho"] += 0.01
    figure = json.loads(fig13.draw(perturbed, tmp_path).with_suffix(".json").read_text())
    assert _fig13_mismatches(figure, record) == [
        "table/sgd/coupled/rho_lo",
        "baseline/linear combination (CV)/rho",
    ]


def test_figure_13_counts_regimes_above_the_baseline() -> None:
    record = _bridge_record()
    top = record["baselines"][-1]["hi"]
    record["regimes"][1]["compare"] |= {"rho": top + 0.2, "lo": top + 0.01, "hi": top + 0.3}
    assert fig13.measured(record)["regimes_above_baseline"] == 1
    record["regimes"][1]["compare"]["lo"] = top  # touching the interval is not above it
    assert fig13.measured(record)["regimes_above_baseline"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("regimes"), "no regimes"),
        (lambda r: r["regimes"][0].pop("compare"), "lacks 'name' or 'compare'"),
        (lambda r: r["regimes"][0]["compare"].pop("hi"), "table/sgd/coupled has no numbers"),
        (lambda r: r["baselines"][1].update(rho=None), "compared baseline .* has no interval"),
    ],
)
def test_figure_13_names_a_bad_record_in_one_line(change, message, tmp_path) -> None:
    record = _bridge_record()
    change(record)
    with pytest.raises(ValueError, match=f"figure 13: .*{message}"):
        fig13.draw(record, tmp_path)


def test_figure_13_command_reports_a_bad_file_in_one_line(tmp_path, capsys) -> None:
    bad = tmp_path / "bridge.json"
    bad.write_text("[1, 2]")
    assert fig13.main([str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not a JSON object" in err
