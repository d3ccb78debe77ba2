"""normtheory calibrate's out-of-distribution test: seen against unseen items, beside
the item facts, within strata of the strongest fact and matched on it."""

import numpy as np
import pytest

from normtheory import calibrate
from normtheory.calibrate.analysis import ood
from normtheory.calibrate.table import format_ood


def _tree_like(norm_of, n_seen=600, n_unseen=200, seed=0):
    """Seen nodes at depths 1..4 (a quarter each), unseen leaves all at depth 4; the norm
    is norm_of(depth, is_seen, rng)."""
    rng = np.random.default_rng(seed)
    depth_seen = np.repeat([1.0, 2.0, 3.0, 4.0], n_seen // 4)
    depth_unseen = np.full(n_unseen, 4.0)
    arrays = {}
    for prefix, depth, seen in (("seen", depth_seen, True), ("unseen", depth_unseen, False)):
        n = len(depth)
        arrays |= {
            f"{prefix}_norm": norm_of(depth, seen, rng),
            f"{prefix}_top1": rng.random(n),
            f"{prefix}_margin": rng.random(n),
            f"{prefix}_seed": np.zeros(n),
            f"{prefix}_fact_depth": depth,
            f"{prefix}_fact_leaves": 3.0 ** (4 - depth),
        }
    return arrays


def test_a_norm_that_only_reads_depth_adds_nothing_once_depth_is_matched():
    # The norm is a function of depth and unseen items are all deep: raw AUROC far
    # above 0.5, and exactly 0.5 among items of the same depth.
    arrays = _tree_like(lambda d, seen, rng: 10.0 - d)
    record = ood(arrays, n_boot=200)
    raw = {s["score"]: s for s in record["raw"]}
    assert raw["norm"]["auroc"] > 0.7
    assert record["strongest"] in ("depth", "leaves")
    within = {w["score"]: w for w in record["within_strata"]}
    assert within["norm"]["auroc"] == within["norm"]["lo"] == within["norm"]["hi"] == 0.5
    assert record["norm_adds"] is False


def test_a_norm_that_knows_seen_items_within_a_depth_adds():
    arrays = _tree_like(lambda d, seen, rng: 10.0 - d + (0.5 if seen else 0.0) + rng.random(len(d)))
    record = ood(arrays, n_boot=200)
    within = {w["score"]: w for w in record["within_strata"]}
    assert within["norm"]["lo"] > 0.6
    assert record["logistic"]["gain"] > 0.05 and record["logistic"]["gain_lo"] > 0
    assert record["norm_adds"] is True
    matched = {s["score"]: s for s in record["matched"]["scores"]}
    assert matched["norm"]["auroc"] > 0.6 and abs(matched["depth"]["auroc"] - 0.5) < 1e-12


def test_a_norm_linear_in_a_continuous_fact_adds_nothing_to_it():
    # The input norm separates seen from unseen; the embedding norm is a linear function
    # of it, so the logistic regression on the facts gains nothing from the norm.
    rng = np.random.default_rng(1)
    arrays = {}
    for prefix, shift, n in (("seen", 0.5, 400), ("unseen", 0.0, 400)):
        x = rng.normal(shift, 1.0, n)
        arrays |= {
            f"{prefix}_norm": 2.0 * x + 1.0,
            f"{prefix}_top1": rng.random(n),
            f"{prefix}_margin": rng.random(n),
            f"{prefix}_seed": np.zeros(n),
            f"{prefix}_fact_input_norm": x,
            f"{prefix}_fact_ambiguity": np.resize([0.0, 0.5, 1.0], n),
        }
    record = ood(arrays, n_boot=200)
    assert record["strongest"] == "input_norm" and record["strata"]["count"] == 5
    assert record["logistic"]["gain"] < 0.005
    assert record["norm_adds"] is False


def test_facts_are_turned_to_their_better_side_and_bad_arrays_are_refused():
    arrays = _tree_like(lambda d, seen, rng: rng.random(len(d)))
    record = ood(arrays, n_boot=50)
    facts = {f["score"]: f for f in record["facts"]}
    assert facts["depth"]["direction"] == -1 and facts["leaves"]["direction"] == +1
    assert facts["depth"]["auroc"] == pytest.approx(facts["leaves"]["auroc"])
    assert facts["depth"]["auroc"] > 0.5
    with pytest.raises(ValueError, match="no seen_/unseen_ arrays"):
        ood({"norm": np.ones(3)})
    broken = dict(arrays)
    del broken["unseen_fact_leaves"]
    with pytest.raises(ValueError, match="must both hold"):
        ood(broken)


def test_the_table_says_whether_the_norm_adds():
    adds = ood(_tree_like(lambda d, s, rng: (1.0 if s else 0.0) + rng.random(len(d))), n_boot=50)
    reads = ood(_tree_like(lambda d, s, rng: -d), n_boot=50)
    lines = format_ood([{"regime": "a/b/c", "ood": adds}, {"regime": "d/e/f", "ood": reads}])
    rows = [line for line in lines if line.startswith("| a/b/c") or line.startswith("| d/e/f")]
    assert rows[0].endswith("| yes |") and rows[1].endswith("| no |")
    assert "depth (its 4 values)" in rows[1]
    assert lines[-1].endswith("in 1 of 2 regimes: a/b/c.")
    assert format_ood([{"regime": "old"}]) == []


TINY = {"steps": 100, "stride": 50, "num_items": 60}


def test_unseen_rows_of_the_free_table_are_draws_of_the_initialisation():
    # dim 8, init_scale 1: an untrained row's norm is chi(8) / sqrt(8), mean about 0.97.
    regime = calibrate.regimes(["hierarchy"], ["sgd"], TINY)[0]
    arrays = calibrate.retrieval(regime.config, 2)
    assert arrays["unseen_norm"].shape == (2 * 81,)  # one new leaf under each depth-4 node
    np.testing.assert_array_equal(arrays["unseen_fact_depth"], 5.0)
    assert abs(arrays["unseen_norm"].mean() - 0.97) < 0.08
    assert arrays["seen_norm"].shape == (2 * 363,)
    generic = arrays["seen_norm"][arrays["seen_fact_depth"] == 1]  # drawn most, grown most
    assert generic.mean() > 1.2 * arrays["unseen_norm"].mean()
