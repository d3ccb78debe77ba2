"""normtheory calibrate: retrieval, scoring, theory's side, the command line."""

import json
import subprocess
import sys

import numpy as np
import pytest

from normtheory import calibrate, cli
from normtheory.calibrate.analysis import Prediction
from normtheory.calibrate.run import _ranking, _subtree_retrieved, _top_two
from normtheory.config import ConfigError
from normtheory.data import make_tree


def _regime(name: str) -> calibrate.Regime:
    return next(r for r in calibrate.regimes() if r.name == name)


def test_regimes_cover_data_models_and_optimizers():
    names = [r.name for r in calibrate.regimes()]
    assert len(names) == 12 and len(set(names)) == 12
    assert "ambiguity/mlp/sgd+wd" in names and "hierarchy/compositional/adamw" in names
    moved = calibrate.regimes(["hierarchy"], ["sgd"], {"steps": 500, "stride": 50})
    assert [r.config.steps for r in moved] == [500, 500]
    assert _regime("ambiguity/mlp/sgd").config.lr == 0.05  # the MLP's SGD step
    with pytest.raises(ConfigError, match="unknown optimizer regime 'lion'"):
        calibrate.regimes(["ambiguity"], ["lion"])
    with pytest.raises(ConfigError, match="not 'frequency'"):
        calibrate.regimes(["frequency"])


def test_top_two_and_margin():
    queries = np.array([[1.0, 0.0], [0.0, -2.0]])
    gallery = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    top, first, margin = _top_two(*_ranking(queries, gallery))
    np.testing.assert_array_equal(top, [0, 0])
    np.testing.assert_allclose(first, [1.0, 0.0])
    np.testing.assert_allclose(margin, [1 - np.sqrt(0.5), 0.0 - (-np.sqrt(0.5))])


def test_subtree_retrieval_by_hand():
    # depth 2, branching 2: nodes 0; 1, 2; leaves 3, 4 (under 1) and 5, 6 (under 2).
    tree = make_tree(2, 2)
    gallery = np.array([[1.0, 0.1], [1.0, -0.1], [-1.0, 0.1], [-1.0, -0.1]])
    nodes = np.array([1, 2, 3, 4, 5])
    queries = np.array(
        [
            [1.0, 0.0],  # node 1: its two leaves are the two nearest -> right
            [0.2, 1.0],  # node 2: nearest are leaves 3 and 4 (node 1's) -> wrong
            [1.0, 0.2],  # leaf 3: its own context is the top-1 -> right
            [1.0, 0.2],  # leaf 4: top-1 is leaf 3 -> wrong
            [-1.0, 0.3],  # leaf 5 -> right
        ]
    )
    got = _subtree_retrieved(tree, nodes, _ranking(queries, gallery)[1])
    np.testing.assert_array_equal(got, [True, False, True, False, True])


def _arrays(n=400, seed=0):
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.5
    return {
        "norm": np.where(correct, 2.0, 1.0) + 0.1 * rng.random(n),  # separates perfectly
        "top1": rng.random(n),
        "margin": rng.random(n),
        "correct": correct,
        "feature": rng.random(n),
        "seed": np.zeros(n),
    }


def _prediction(sign_18: int, link: float) -> Prediction:
    """A derived prediction with item 18's sign and a link of that value (interval +-0.05),
    from calibration seeds 3-5 (the judged arrays below use seed 0)."""
    entry = {"rho": link, "lo": link - 0.05, "hi": link + 0.05, "feature_auroc": 0.3, "n": 99}
    return Prediction(sign_18, 0.5 * sign_18, entry, (3, 4, 5))


def test_evaluate_scores_a_perfect_norm_and_compares_with_theory():
    mlp = _regime("ambiguity/mlp/sgd")
    result = calibrate.evaluate(mlp, _arrays(), n_boot=100, prediction=_prediction(-1, -0.5))
    by = {s["score"]: s for s in result.scores}
    assert by["norm"]["auroc"] == 1.0 and by["norm"]["auroc_lo"] == 1.0
    assert abs(by["top1_cosine"]["auroc"] - 0.5) < 0.1  # an uninformative score
    assert by["combined"]["auroc"] > 0.95  # the combination finds the norm
    assert result.expected_direction == +1 and result.verdict == "agrees"
    # Item 18 says longer with entropy, entropy marks wrong answers: AUROC < 0.5.
    longer = calibrate.evaluate(mlp, _arrays(), n_boot=100, prediction=_prediction(+1, -0.5))
    assert longer.expected_direction == -1 and longer.verdict == "disagrees"
    flat = calibrate.evaluate(mlp, _arrays(), n_boot=100, prediction=_prediction(0, -0.5))
    assert flat.expected_direction == 0 and flat.verdict == "disagrees"


def test_the_old_rule_by_family_is_kept_beside_the_derivation():
    arrays = _arrays()
    arrays["feature"] = arrays["correct"] + 0.01 * np.arange(len(arrays["correct"]))
    keep = {"n_boot": 50, "prediction": _prediction(+1, 0.5)}
    deeper_right = calibrate.evaluate(_regime("hierarchy/table/sgd"), arrays, **keep)
    assert deeper_right.rho_correct_feature > 0
    assert deeper_right.rule_by_family == -1  # generic items longer, deep ones right
    assert deeper_right.rule_verdict == "disagrees" and deeper_right.verdict == "agrees"
    comp = calibrate.evaluate(_regime("hierarchy/compositional/sgd"), arrays, **keep)
    assert comp.rule_by_family == +1
    table = calibrate.evaluate(_regime("ambiguity/table/sgd"), arrays, **keep)
    assert table.rule_by_family == -1  # ambiguous items longer, ambiguity lowers accuracy
    adamw = calibrate.evaluate(_regime("ambiguity/table/adamw"), arrays, **keep)
    assert adamw.rule_by_family == 0 and adamw.rule_verdict == "disagrees"


def test_all_right_or_all_wrong_is_refused_with_the_regime_named():
    arrays = _arrays()
    arrays["correct"] = np.ones_like(arrays["correct"])
    with pytest.raises(ValueError, match="hierarchy/table/sgd: every top-1 is right"):
        calibrate.evaluate(_regime("hierarchy/table/sgd"), arrays, n_boot=10)


def test_table_marks_theory_and_verdict():
    prediction = _prediction(-1, -0.5)
    result = calibrate.evaluate(_regime("ambiguity/mlp/sgd"), _arrays(), n_boot=50,
                                prediction=prediction)  # fmt: skip
    lines = calibrate.format_table(calibrate.records([result]))
    assert lines[2].startswith("| ambiguity/mlp/sgd | 400 |")
    predicted = f"{prediction.auroc:.2f}"
    assert (
        f"| > 0.5 (rho_18 -0.50, link -0.50 [-0.55, -0.45]; AUROC {predicted}) | agrees |"
        in (lines[2])
    )
    assert "1.000 [1.000, 1.000]" in lines[2]


@pytest.mark.end_to_end
def test_calibrate_command_at_tiny_size(tmp_path, capsys):
    out = tmp_path / "out"
    tiny = ["steps=100", "stride=50", "num_items=100"]
    argv = ["calibrate", "--optimizers", "sgd", "--seeds", "1", "--boot", "50"]
    argv += [item for a in tiny for item in ("--set", a)] + ["--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| ambiguity/table/sgd |" in printed and "**Unseen items**" in printed
    data = json.loads((out / "calibration.json").read_text())
    assert [r["regime"] for r in data["regimes"]] == [
        "ambiguity/table/sgd",
        "ambiguity/mlp/sgd",
        "hierarchy/table/sgd",
        "hierarchy/compositional/sgd",
    ]
    for record in data["regimes"]:
        assert record["n"] > 0 and 0 < record["accuracy"] < 1
        theory = record["theory"]  # the derived side: item 18 and calibration seed 1
        assert record["judged_seeds"] == [0] and theory["calibration"]["seeds"] == [1]
        assert theory["sign_18"] in (-1, 0, 1) and -1 <= theory["rho_18"] <= 1
        assert theory["link"]["lo"] <= theory["link"]["rho"] <= theory["link"]["hi"]
        assert record["expected_direction"] == theory["side"]
        for score in record["scores"]:
            assert all(np.isfinite(score[k]) for k in ("auroc", "auroc_lo", "auroc_hi", "aurc"))
        ood = record["ood"]
        assert ood["n_unseen"] == (81 if record["data"] == "hierarchy" else 100)
        assert isinstance(ood["norm_adds"], bool) and 0 <= ood["raw"][0]["auroc"] <= 1
    assert (out / "fig9_calibration.png").stat().st_size > 10_000


def test_calibrate_command_names_a_bad_field(capsys):
    assert cli.main(["calibrate", "--set", "tau=-1"]) == 2
    assert "tau" in capsys.readouterr().err


def test_the_package_loads_its_modules_only_when_a_name_is_used():
    # The regimes and the table need neither the engine nor the statistics.
    code = (
        "import sys\n"
        "import normtheory.calibrate as c\n"
        "assert not any(m.startswith('normtheory.calibrate.') for m in sys.modules)\n"
        "c.regimes(); c.format_table([])\n"
        "heavy = ('jax', 'scipy', 'matplotlib', 'normtheory.calibrate.run')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert calibrate.calibrate.__module__ == "normtheory.calibrate.analysis"
    assert calibrate.format_table.__module__ == "normtheory.calibrate.table"
