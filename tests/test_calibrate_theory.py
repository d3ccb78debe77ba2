"""The calibration's theory column: the side of 0.5 derived from item 18 and the link."""

import numpy as np
import pytest
from scipy.stats import norm as gaussian

from normtheory import calibrate, confidence, mean_field
from normtheory.calibrate import analysis
from normtheory.calibrate import run as calibrate_run
from normtheory.calibrate.analysis import Prediction, copula_auroc, predicted_side, side_verdict
from normtheory.calibrate.settings import calibration_config


def _regime(name: str) -> calibrate.Regime:
    return next(r for r in calibrate.regimes() if r.name == name)


def _link(rho: float, lo: float, hi: float, feature_auroc: float = 0.3) -> dict:
    return {"rho": rho, "lo": lo, "hi": hi, "feature_auroc": feature_auroc, "n": 100}


# ------------------------------------------------------------------- the side logic


@pytest.mark.parametrize(
    ("sign_18", "lo", "hi", "side"),
    [
        (+1, -0.6, -0.5, -1),  # longer with the feature, the feature marks wrong answers
        (+1, 0.2, 0.4, +1),
        (-1, -0.6, -0.5, +1),  # shorter with the feature, which marks wrong answers
        (-1, 0.2, 0.4, -1),
        (0, -0.6, -0.5, 0),  # no norm-feature correlation: AUROC 0.5 whatever the link
        (+1, -0.1, 0.05, None),  # the link's sign is not known: no side
        (-1, 0.0, 0.3, None),
    ],
)
def test_predicted_side_is_the_product_of_item_18_and_the_link(sign_18, lo, hi, side):
    assert predicted_side(sign_18, lo, hi) == side


def test_predicted_side_refuses_bad_input():
    with pytest.raises(ValueError, match="sign_18=2"):
        predicted_side(2, -0.5, -0.4)
    with pytest.raises(ValueError, match="not an interval"):
        predicted_side(1, 0.5, 0.4)


@pytest.mark.parametrize(
    ("side", "lo", "hi", "verdict"),
    [
        (+1, 0.55, 0.7, "agrees"),
        (+1, 0.3, 0.45, "disagrees"),
        (-1, 0.3, 0.45, "agrees"),
        (-1, 0.45, 0.6, "inconclusive"),
        (0, 0.47, 0.53, "agrees"),  # inside 0.5 +- 0.05: equivalent to 0.5
        (0, 0.42, 0.53, "inconclusive"),  # holds 0.5 but is too wide to confirm it
        (0, 0.51, 0.6, "disagrees"),
        (None, 0.3, 0.4, "inconclusive"),  # no side predicted
    ],
)
def test_side_verdict(side, lo, hi, verdict):
    assert side_verdict(side, lo, hi) == verdict


def _judged(n=600, seeds=3, rng_seed=0):
    """Judged-run arrays in which longer queries are more often wrong (AUROC < 0.5)."""
    rng = np.random.default_rng(rng_seed)
    correct = rng.random(n) < 0.5
    return {
        "norm": np.where(correct, 1.0, 1.5) + rng.random(n),
        "top1": rng.random(n),
        "margin": rng.random(n),
        "correct": correct,
        "feature": rng.random(n),
        "seed": np.repeat(np.arange(seeds), n // seeds),
    }


def test_a_wrong_sign_of_item_18_makes_the_verdict_disagree():
    regime = _regime("ambiguity/table/sgd")
    arrays = _judged()
    right = Prediction(+1, 0.7, _link(-0.5, -0.55, -0.45), (3, 4, 5))
    result = calibrate.evaluate(regime, arrays, n_boot=100, prediction=right)
    assert result.norm["auroc_hi"] < 0.5
    assert result.expected_direction == -1 and result.verdict == "agrees"
    flipped = Prediction(-1, -0.7, right.link, right.calibration_seeds)
    wrong = calibrate.evaluate(regime, arrays, n_boot=100, prediction=flipped)
    assert wrong.expected_direction == +1 and wrong.verdict == "disagrees"
    flat = Prediction(0, 0.01, right.link, right.calibration_seeds)
    assert calibrate.evaluate(regime, arrays, n_boot=100, prediction=flat).verdict == "disagrees"


# ------------------------------------------------- the link never sees the judged seeds


@pytest.fixture
def fake_runs(monkeypatch, tmp_path):
    """Calibration runs whose feature marks wrong answers (link < 0) unless `flip`, and an
    item 18 sign of +1; records the (first seed, seeds) each run and the mean field was
    asked for. A private results cache keeps the fake sign out of the other tests'."""
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path / "results"))
    calls, state = [], {"flip": False}

    def retrieval(config, seeds, **kwargs):
        calls.append((config.seed, seeds))
        rng = np.random.default_rng(config.seed)
        n = 300 * seeds
        correct = rng.random(n) < 0.5
        feature = np.where(correct, 0.0, 1.0) + 2 * rng.random(n)
        return {
            "correct": correct,
            "feature": -feature if state["flip"] else feature,
            "seed": np.repeat(np.arange(seeds), 300),
        }

    monkeypatch.setattr(calibrate_run, "cached_retrieval", retrieval)

    def item_18(config, seeds):
        calls.append(("mean field", config.seed, seeds))
        return 1, 0.6

    monkeypatch.setattr(mean_field, "predicted_sign", item_18)
    return calls, state


def test_the_link_comes_from_other_seeds_and_not_from_the_judged_arrays(fake_runs):
    calls, state = fake_runs
    regime = _regime("hierarchy/table/sgd")
    arrays = _judged(seeds=3)
    first = calibrate.evaluate(regime, arrays, n_boot=50)
    assert first.judged_seeds == (0, 1, 2)
    # The calibration runs and item 18's initial models: seeds from 3 on, none judged.
    link_seeds = tuple(range(3, 3 + analysis.LINK_SEEDS))
    assert calls == [(3, analysis.LINK_SEEDS), ("mean field", 3, 2)]
    assert first.prediction.calibration_seeds == link_seeds
    assert first.prediction.mean_field_seeds == (3, 4)
    assert first.prediction.link["hi"] < 0 and first.expected_direction == -1
    # Another judged run (other norms, correctness, features): the same prediction.
    other = {**_judged(seeds=3, rng_seed=7), "feature": -arrays["feature"]}
    second = calibrate.evaluate(regime, other, n_boot=50)
    assert second.prediction == first.prediction
    # Other calibration runs (the link turned round) do change it.
    state["flip"] = True
    third = calibrate.evaluate(regime, arrays, n_boot=50)
    assert third.prediction.link["lo"] > 0 and third.expected_direction == +1
    record = calibrate.records([first])[0]
    assert set(record["theory"]["calibration"]["seeds"]).isdisjoint(record["judged_seeds"])


def test_item_18s_sign_is_computed_once_and_then_read_from_the_cache(fake_runs):
    calls, _ = fake_runs
    regime = _regime("ambiguity/table/adamw")
    first = analysis.predict(regime, 3, n_boot=20)
    again = analysis.predict(regime, 3, n_boot=20)
    assert (first.sign_18, first.rho_18) == (again.sign_18, again.rho_18) == (1, 0.6)
    assert sum(call[0] == "mean field" for call in calls) == 1
    analysis.predict(regime, 3, n_boot=20, use_cache=False)
    assert sum(call[0] == "mean field" for call in calls) == 2


def test_a_prediction_from_the_judged_seeds_is_refused():
    leaked = Prediction(+1, 0.7, _link(-0.5, -0.55, -0.45), (2, 3, 4))
    with pytest.raises(ValueError, match=r"calibration seeds \[2\] are the judged run's"):
        calibrate.evaluate(_regime("ambiguity/table/sgd"), _judged(), prediction=leaked)
    initial = Prediction(+1, 0.7, _link(-0.5, -0.55, -0.45), (3, 4, 5), (1, 2))
    with pytest.raises(ValueError, match=r"calibration seeds \[1, 2\] are the judged run's"):
        calibrate.evaluate(_regime("ambiguity/table/sgd"), _judged(), prediction=initial)


def test_calibration_runs_start_after_the_judged_seeds():
    config = _regime("ambiguity/mlp/adamw").config.replace(seed=10)
    moved = calibration_config(config, 4)
    assert moved.seed == 14 and moved.replace(seed=10) == config


def test_link_measures_the_feature_against_correctness():
    rng = np.random.default_rng(1)
    correct = rng.random(2000) < 0.6
    feature = np.where(correct, 0.0, 0.5) + rng.random(2000)  # wrong answers: larger feature
    got = analysis.link({"feature": feature, "correct": correct}, n_boot=200)
    assert got["rho"] == pytest.approx(confidence.spearman(feature, correct.astype(float)))
    assert got["lo"] < got["rho"] < got["hi"] < 0
    assert got["feature_auroc"] == pytest.approx(confidence.auroc(feature, correct))
    with pytest.raises(ValueError, match="always right"):
        analysis.link({"feature": feature, "correct": np.ones(2000, bool)})


# ---------------------------------------------------------- the size: a Gaussian copula


@pytest.mark.parametrize(("r", "mu"), [(0.8, 1.0), (-0.6, 1.5), (0.3, -0.8), (0.5, 1.8)])
def test_copula_auroc_matches_a_simulation_of_its_model(r, mu):
    rng = np.random.default_rng(0)
    n = 200_000
    correct = rng.random(n) < 0.5
    x = rng.normal(size=n) + mu * correct  # binormal feature
    y = r * x + np.sqrt(1 - r**2) * rng.normal(size=n)  # the norm, through the feature only
    rho_within = confidence.spearman(x[~correct], y[~correct])
    feature_auroc = confidence.auroc(x, correct)
    measured = confidence.auroc(y, correct)
    tolerance = 0.006  # about 3.5 Monte Carlo standard errors of an AUROC at this n
    assert copula_auroc(rho_within, feature_auroc) == pytest.approx(measured, abs=tolerance)
    # The tolerance separates the law from a plausible wrong one (linear in r).
    if abs(mu) > 1.2:
        assert abs(0.5 + r * (feature_auroc - 0.5) - measured) > tolerance


def test_copula_auroc_closed_form_and_bad_input():
    assert copula_auroc(0.0, 0.8) == 0.5
    assert copula_auroc(1.0, 0.8) == pytest.approx(0.8)  # 2 sin(pi / 6) = 1
    assert copula_auroc(-1.0, 0.8) == pytest.approx(0.2)
    r = 2 * np.sin(np.pi * 0.4 / 6)
    assert copula_auroc(0.4, 0.7) == pytest.approx(gaussian.cdf(r * gaussian.ppf(0.7)))
    assert copula_auroc(0.5, 1.0) == 1.0 and copula_auroc(-0.5, 1.0) == 0.0  # the limits
    with pytest.raises(ValueError, match=r"feature_auroc=1\.2"):
        copula_auroc(0.5, 1.2)
    with pytest.raises(ValueError, match=r"rho_norm_feature=1\.5"):
        copula_auroc(1.5, 0.7)


# ------------------------------------------------------------------------ the table


def test_table_states_the_derivation_and_both_agreement_counts():
    regime = _regime("ambiguity/table/sgd")
    arrays = _judged()
    results = [
        calibrate.evaluate(regime, arrays, n_boot=50, prediction=p)
        for p in (
            Prediction(+1, 0.7, _link(-0.5, -0.55, -0.45), (3, 4, 5)),  # agrees
            Prediction(-1, -0.7, _link(-0.5, -0.55, -0.45), (3, 4, 5)),  # disagrees
            Prediction(+1, 0.7, _link(0.0, -0.05, 0.05), (3, 4, 5)),  # no side
        )
    ]
    lines = calibrate.format_table(calibrate.records(results))
    assert "| < 0.5 (rho_18 +0.70, link -0.50 [-0.55, -0.45]; AUROC " in lines[2]
    assert "| agrees | < 0.5, agrees |" in lines[2]  # the rule: free table, entropy
    assert "| no side (rho_18 +0.70" in lines[4] and "| inconclusive |" in lines[4]
    counts = next(line for line in lines if line.startswith("The derived side agrees"))
    assert counts == (
        "The derived side agrees in 1 of 3 regimes (1 disagrees, 1 inconclusive); the rule "
        "by model family agrees in 3 of 3 (0 disagrees, 0 inconclusive)."
    )
