"""normtheory verify: records, verdicts, exit status, at tiny sizes."""

import dataclasses
import json

import pytest

from normtheory import cli, laws
from normtheory.config import SimConfig
from normtheory.verify import CHECKS, run_checks
from normtheory.verify._record import VERDICTS, describe

TINY = ["num_items=40", "dim=4", "batch=16", "steps=200"]
FIELDS = {
    "law",
    "item",
    "config",
    "regime",
    "row",
    "quantity",
    "predicted",
    "measured",
    "spread",
    "rel_error",
    "tolerance",
    "basis",
    "verdict",
    "exact",
    "note",
    "fraction_holding",
    "fraction_low",
    "fraction_high",
    "relaxed",
    "calibration",
    "groups",
    "claimed",
}


def _set(assignments):
    return [arg for a in assignments for arg in ("--set", a)]


def test_json_records_and_exact_facts_hold(capsys, tmp_path):
    names = ["euler", "homogeneity", "infonce_gradient", "gd_norm_step", "li_arora"]
    report = tmp_path / "REPORT.md"
    assert cli.main(["verify", *names, "--json", *_set(TINY), "--report", str(report)]) == 0
    text = report.read_text()
    assert "| `li_arora` | 10 | **holds**" in text and "## Wall time per stage" in text
    assert "## Figures" not in text  # none drawn in tmp_path
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["law"] for r in records} == set(names)
    for record in records:
        assert set(record) == FIELDS
        assert record["verdict"] == "holds", record
        assert record["rel_error"] <= record["tolerance"]
        assert describe(record["config"], short=True) in text
        assert SimConfig(**record["config"]).dim == 4  # the regime run, as data


@pytest.mark.end_to_end
def test_every_check_runs_at_a_tiny_size(monkeypatch):
    # One optimizer per regime map and one drift-heat regime: every cell runs the same
    # code, and each extra cell costs a compilation.
    from normtheory.verify import drift_heat, structure

    monkeypatch.setattr(structure, "OPTIMIZERS", {"sgd": structure.OPTIMIZERS["sgd"]})
    first = next(iter(drift_heat.REGIMES.items()))
    monkeypatch.setattr(drift_heat, "REGIMES", dict([first]))
    results, crashes = run_checks(None, TINY)
    assert not crashes, crashes
    assert {r.item for r in results} == set(range(1, 15)) | {17}
    assert all(r.verdict in VERDICTS for r in results)


def test_every_check_has_a_one_line_summary(capsys):
    for name, (check, _) in CHECKS.items():
        summary = (check.__doc__ or "").strip().splitlines()
        assert summary and summary[0].strip(), name
    assert cli.main(["verify", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(CHECKS)
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_outside_its_assumptions_a_fact_is_measured_not_claimed():
    results, _ = run_checks(["gd_norm_step"], [*TINY, "optimizer=momentum", "lr=0.05"])
    (result,) = results
    assert result.verdict == "fails" and not result.exact
    assert "plain SGD" in result.note


def test_a_wrong_law_is_caught_and_fails_the_exit_status(monkeypatch, capsys):
    class Broken:
        def __call__(self, N, eta, G2):  # drops the 1/N^2 of homogeneity
            return N**2 + eta**2 * G2

    real_get = laws.get
    monkeypatch.setattr(
        "normtheory.verify.exact.laws.get",
        lambda name: Broken() if name == "gd_norm_step" else real_get(name),
    )
    assert cli.main(["verify", "gd_norm_step", *_set(TINY)]) == 1
    assert "exact facts failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [(["no_such_law"], "no_such_law"), (["euler", "--set", "tau=-1"], "tau")],
)
def test_bad_requests_are_named(args, message, capsys):
    assert cli.main(["verify", *args]) == 2
    assert message in capsys.readouterr().err


def _specificity(model: str, optimizer: str, mode: str, rho: float):
    from normtheory.verify import Result

    return Result(
        law="specificity",
        item=13,
        config=SimConfig(data="hierarchy", model=model, optimizer=optimizer, frequency_mode=mode),
        quantity="Spearman",
        predicted=1.0,
        measured=rho,
        spread=0.09,
        rel_error=0.0,
        tolerance=0.18,
        basis="sign test",
        verdict="holds",
    )


def test_report_compares_the_real_model_with_the_simulated_regimes(tmp_path):
    from normtheory.report import write_report

    def corr(name, controls, rho):
        return {"name": name, "controls": controls, "n": 100, "rho": rho, "lo": rho - 0.05,
                "hi": rho + 0.05, "dropped": []}  # fmt: skip

    def score(name, auroc):
        return {"score": name, "auroc": auroc, "auroc_lo": auroc - 0.02,
                "auroc_hi": auroc + 0.02, "aurc": 0.3}  # fmt: skip

    probe = {
        "quantity": "norm before Normalize",
        "vocabulary": {"size": 100},
        "wordnet": {"available": True, "path": "/wn"},
        "correlations": [
            corr("norm ~ log frequency", ["word pieces"], -0.4),
            corr("norm ~ depth", ["log frequency", "word pieces"], 0.1),
        ],
        "sign_test": {"frames": [{"frame": "{w}", "n": 50, "fraction": 0.7, "p": 1e-4}]},
        "retrieval": {"accuracy": 0.2, "n_queries": 100, "scores": [score("norm", 0.57)]},
    }
    calibration = {
        "seeds": 1,
        "bootstrap": 10,
        "seconds": 1.0,
        "regimes": [
            {"regime": name, "n": 10, "accuracy": 0.5, "rho_norm_feature": 0.1,
             "feature": "depth", "expected_direction": 1, "verdict": "agrees",
             "scores": [score(s, a) for s in ("norm", "top1_cosine", "margin", "combined")]}
            for name, a in (("hierarchy/table/sgd", 0.6), ("hierarchy/compositional/sgd", 0.4))
        ],
    }  # fmt: skip
    (tmp_path / "probe.json").write_text(json.dumps(probe))
    (tmp_path / "calibration.json").write_text(json.dumps(calibration))
    results = [
        _specificity("table", "sgd", "decoupled", -0.4),  # sign -: against the real +
        _specificity("table", "sgd", "coupled", -0.3),
        _specificity("compositional", "adam", "decoupled", +0.5),  # all three signs
        _specificity("compositional", "adam", "coupled", +0.6),
    ]
    text = write_report(results, {}, {}, tmp_path / "REPORT.md").read_text()
    assert "| table | sgd | - | - | + | 0 of 3 |" in text
    assert "| compositional | adam | + | + | - | 3 of 3 |" in text
    assert "all three of the real model's signs: compositional + adam." in text
    assert "same side of 0.5: hierarchy/table/sgd." in text
    assert "| hierarchy/table/sgd | 10 | 0.50 |" in text  # the calibration table
    assert (
        "The norm predicts a correct retrieval (AUROC interval above 0.5) in: "
        "hierarchy/table/sgd; its interval lies wholly above the top-1 cosine's interval in: "
        "none."
    ) in text


@pytest.mark.parametrize("data", ["hierarchy", "wordnet"])
def test_replayed_checks_refuse_data_without_a_replay(data):
    # These checks replay a frequency/table run's own inputs; on other data they must say
    # so ("not applicable", naming the data), never crash or measure something else.
    names = ["euler", "homogeneity", "infonce_gradient", "effective_learning_rate", "li_arora"]
    results, crashes = run_checks(names, [f"data={data}", "steps=20", "stride=1"])
    assert crashes == {}
    assert len(results) == len(names)
    for r in results:
        assert r.verdict == "not applicable", r.law
        assert f"data={data}" in r.note and "replay" in r.note


def test_a_result_carries_its_regime_as_data_and_shows_it_for_display():
    from normtheory.verify import Result

    config = SimConfig(optimizer="adamw", lr=0.01, weight_decay=0.1, dim=8)
    result = Result(
        law="adamw_equilibrium", item=11, config=config, quantity="q", predicted=1.0,
        measured=1.0, spread=0.0, rel_error=0.0, tolerance=0.1, basis="b", verdict="holds",
        row="table, adamw (--set lr)",
    )  # fmt: skip
    assert result.config == dataclasses.asdict(config)
    assert SimConfig(**result.config) == config
    shown = "frequency/table, adamw, lr=0.01, wd=0.1, b1=0.9"
    assert result.setting == f"table, adamw (--set lr): {shown}"
    assert result.regime.startswith(result.setting + ", tau=0.1, d=8, ")
    record = json.loads(json.dumps(result.to_json()))
    assert record["config"]["weight_decay"] == 0.1 and record["regime"] == result.regime


def test_sign_maps_away_from_the_default_are_tallied_in_the_report(monkeypatch, tmp_path):
    """`make signs`: each map's cells carry whether they are significant and agree, and
    the report counts agreement among significant cells, held-out maps apart."""
    from normtheory.report import write_report
    from normtheory.verify import structure

    measured = {(4, 3): +0.5, (2, 8): -0.3, (6, 2): +0.05}  # (depth, branching) -> rho

    def fake_specificity(config, overridden=frozenset()):
        rho = measured[(config.depth, config.branching)]
        return [dataclasses.replace(_specificity("compositional", "adam", "coupled", rho),
                                    config=config.replace(model="compositional"))]  # fmt: skip

    monkeypatch.setattr(structure, "SHAPES", tuple(measured))
    monkeypatch.setattr(structure, "HELD_OUT", ((2, 8), (6, 2)))
    monkeypatch.setattr(structure, "FRESH", ((6, 2),))
    monkeypatch.setattr(structure, "CLASS_COUNTS", ())
    monkeypatch.setattr(structure, "specificity", fake_specificity)

    def kernel(config):
        assert isinstance(config, SimConfig)  # rebuilt from the record's dict
        return -0.4

    monkeypatch.setattr(structure, "kernel_rho", kernel)
    monkeypatch.setattr(structure, "self_sign", lambda config, seeds=5: (1, 0.45))
    cells = structure.sign_maps()
    assert [c["map"] for c in cells] == [
        "depth 4, branching 3", "depth 2, branching 8", "depth 6, branching 2"
    ]  # fmt: skip
    assert [c["held_out"] for c in cells] == [False, True, True]
    assert [c["fresh"] for c in cells] == [False, False, True]
    assert [c["significant"] for c in cells] == [True, True, False]  # |rho| > 0.18
    assert [c["agrees"] for c in cells] == [True, False, False]  # predicted +
    # Item 18's size +0.45 is within two standard errors (0.18) of +0.5 only.
    assert [c["predicted_rho"] for c in cells] == [0.45] * 3
    assert [c["size_agrees"] for c in cells] == [True, False, False]
    (sizes,) = structure.size_tally(cells)
    assert (sizes["law"], sizes["model"], sizes["cells"], sizes["within"]) == (
        "specificity",
        "compositional",
        3,
        1,
    )
    assert sizes["mean_error"] == pytest.approx((0.05 - 0.75 - 0.40) / 3)
    assert sizes["mean_abs_error"] == pytest.approx((0.05 + 0.75 + 0.40) / 3)
    from normtheory.verify import code_identity

    code = code_identity()
    record = {
        "code": code,
        "cells": cells,
        "tally": structure.sign_tally(cells),
        "sizes": structure.size_tally(cells),
    }
    (tmp_path / "signs.json").write_text(json.dumps(record))
    text = write_report([], {}, {}, tmp_path / "REPORT.md").read_text()
    assert "Stale" not in text
    assert "| specificity | compositional | sgd | 1 of 3 | -0.367 | 0.400 |" in text
    assert (
        "were fixed): depth 2, branching 8; depth 6, branching 2; of these, run only after "
        "verify adopted item 18: depth 6, branching 2."
    ) in text
    assert (
        "| depth 2, branching 8 | compositional, sgd, coupled | -0.300 +- 0.090 | + | holds | "
        "+0.45 | off | - (-0.40) |"
    ) in text
    assert (
        "- specificity, maps run when items 16 and 18 were formulated: 1 cells with a "
        "significant sign; item 18 agrees with 1, item 16's kernel closure with 0."
    ) in text
    assert "- specificity, held-out maps: 1 cells with a significant sign; item 18 agrees " \
        "with 0, item 16's kernel closure with 1." in text  # fmt: skip
    # Cells computed by other code are rendered, marked stale.
    (tmp_path / "signs.json").write_text(json.dumps(record | {"code": "0123"}))
    text = write_report([], {}, {}, tmp_path / "REPORT.md").read_text()
    assert f"**Stale:** these cells were computed by code 0123; the code is now {code}." in text
    # A signs.json written before its tallies were recorded is not rendered as if it were.
    (tmp_path / "signs.json").write_text(json.dumps({"cells": cells}))
    text = write_report([], {}, {}, tmp_path / "REPORT.md").read_text()
    assert "run `make signs` to redo the maps" in text and "| depth 2, branching 8 |" not in text


def _seeded_check(verdict_of_seed):
    """A check whose approximate verdict depends on the seed it runs, and an exact row."""
    from normtheory.verify import Result

    seen = []

    def check(config, overridden):
        seen.append(config.seed)
        row = dict(law="planted", item=6, config=config, quantity="q", predicted=1.0,
                   measured=1.0 + config.seed, spread=0.0, rel_error=0.0, tolerance=0.1,
                   basis="planted")  # fmt: skip
        return [
            Result(**row, verdict=verdict_of_seed(config.seed)),
            Result(**{**row, "law": "planted_exact"}, verdict="holds", exact=True),
        ]

    return check, seen


def test_seed_groups_make_a_split_verdict_inconclusive(monkeypatch):
    import normtheory.verify as verify

    check, seen = _seeded_check(lambda seed: "holds" if seed == 0 else "fails")
    monkeypatch.setitem(verify.CHECKS, "planted", (check, SimConfig(seed=0)))
    results, crashes = run_checks(["planted"], seed_groups=3)
    assert not crashes and len(seen) == 3 and len(set(seen)) == 3  # three seed groups
    approximate, exact = results
    assert approximate.verdict == "inconclusive"
    assert approximate.groups == ("holds", "fails", "fails")
    assert approximate.measured == 1.0  # the first group's numbers
    assert "seed groups disagree" in approximate.note
    assert exact.verdict == "holds" and exact.groups is None  # exact facts are not grouped
    # One group judges as before.
    seen.clear()
    (single, _), _ = run_checks(["planted"])
    assert single.verdict == "holds" and single.groups is None and seen == [0]


def test_seed_groups_that_agree_keep_the_verdict(monkeypatch):
    import normtheory.verify as verify

    check, seen = _seeded_check(lambda seed: "fails")
    monkeypatch.setitem(verify.CHECKS, "planted", (check, SimConfig(seed=0)))
    (result, _), _ = run_checks(["planted"], seed_groups=2)
    assert result.verdict == "fails" and result.groups == ("fails", "fails")
    assert seen == [0, seen[1]] and seen[1] > 0


def test_a_real_check_judged_on_seed_groups_runs_other_seeds():
    (one,), _ = run_checks(["li_arora"], TINY)
    (three,), _ = run_checks(["li_arora"], TINY, seed_groups=3)
    assert three.measured == one.measured  # the first group is the single run
    assert three.groups == ("holds",) * 3 and three.verdict == "holds"


@pytest.mark.parametrize("groups", [0, -1, 1.5, True])
def test_bad_seed_groups_are_refused(groups):
    from normtheory.config import ConfigError

    with pytest.raises(ConfigError, match="seed_groups"):
        run_checks(["euler"], seed_groups=groups)
