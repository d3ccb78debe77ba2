"""Every verification check can fail: a wrong law or a broken regime changes its verdict.

Each test runs one check at a tiny size with a deliberately wrong law (the law the check
uses, patched: a factor of 2 or a wrong exponent), a loss that breaks the fact, or a
regime outside the law, and asserts the verdict that must follow. Where cheap, the same
regime is first shown to hold with the real law, so the verdict is the law's doing.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from normtheory import laws
from normtheory.config import SimConfig
from normtheory.data.frequency import zipf_probabilities
from normtheory.verify import drift_heat, run_checks, structure
from normtheory.verify._common import row_config
from normtheory.verify._record import (
    MAX_TOLERANCE,
    fraction_interval,
    fraction_verdict,
    log_error,
)

TINY = ["num_items=40", "dim=4", "batch=16", "steps=200"]
# 32 equally frequent items (two draws each per step) at a short relaxation time: the SGD +
# L2 law, fed G^2 from a calibration run with other seeds, holds here; with 16 items and
# batch 32 the per-item rule cannot decide (15 of 16 within tolerance, interval from 70%).
FREQUENT = ["num_items=32", "dim=8", "batch=64", "zipf=0", "steps=800"]
# Zipf items, one of them in nearly every batch (for the angle law); relaxed.
BUSY = ["num_items=40", "dim=8", "batch=16", "steps=400", "weight_decay=0.05"]
ADAMW = ["num_items=40", "dim=4", "batch=16", "steps=800", "lr=0.05"]


class _Wrong:
    """A law whose output is `transform(output of the real law)` (or a replacement)."""

    def __init__(self, law, transform=None, replace=None):
        self.law, self.transform, self.replace = law, transform, replace

    def __call__(self, **kwargs):
        if self.replace is not None:
            return self.replace(**kwargs)
        return self.transform(self.law(**kwargs))


def _break(monkeypatch, name, transform=None, replace=None):
    """Make `laws.get(name)` return a wrong version of the law, for every check."""
    real_get = laws.get

    def get(law_name):
        law = real_get(law_name)
        return _Wrong(law, transform, replace) if law_name == name else law

    monkeypatch.setattr(laws, "get", get)


def _sets(*groups):
    """--set strings; a later group's value for a field replaces an earlier one."""
    merged = dict(item.split("=", 1) for group in groups for item in group)
    return [f"{key}={value}" for key, value in merged.items()]


def _verdicts(name, sets, law=None):
    results, crashes = run_checks([name], _sets(sets))
    assert not crashes, crashes
    return {r.law: r for r in results} if law is None else next(r for r in results if r.law == law)


def _twice(x):
    return 2 * x


# Exact facts (items 1-5).


def test_euler_and_homogeneity_fail_for_a_loss_that_is_not_scale_invariant(monkeypatch):
    def raw(config):
        return lambda z, w, tau: jnp.mean(jnp.sum((z - w) ** 2, axis=-1))

    assert _verdicts("euler", TINY, "euler").verdict == "holds"
    monkeypatch.setattr("normtheory.verify.exact.pair_loss", raw)
    assert _verdicts("euler", TINY, "euler").verdict == "fails"
    assert _verdicts("homogeneity", TINY, "homogeneity").verdict == "fails"


def test_infonce_gradient_fails_with_a_wrong_law(monkeypatch):
    _break(monkeypatch, "symmetric_infonce_gradient", lambda out: (2 * out[0], out[1]))
    assert _verdicts("infonce_gradient", TINY, "infonce_gradient").verdict == "fails"


def test_gd_norm_step_fails_with_a_wrong_law(monkeypatch):
    _break(monkeypatch, "gd_norm_step", replace=lambda N, eta, G2: N**2 + eta**2 * G2)
    result = _verdicts("gd_norm_step", TINY, "gd_norm_step")
    assert result.verdict == "fails" and result.exact


def test_parameter_pythagoras_fails_without_the_decay_factor_or_homogeneity(monkeypatch):
    # Holds for the compositional encoder (shared features) under SGD + L2 ...
    assert _verdicts("parameter_pythagoras", [], "parameter_pythagoras").verdict == "holds"
    # ... fails for an MLP with biases, which is not homogeneous in its parameters ...
    mlp = ["data=ambiguity", "loss=prototype", "model=mlp", "lr=0.05", "num_items=40"]
    result = _verdicts("parameter_pythagoras", mlp, "parameter_pythagoras")
    assert result.verdict == "fails" and not result.exact and "biases" in result.note
    # ... and for a law that forgets the decay's (1 - eta lam)^2.
    _break(
        monkeypatch,
        "parameter_pythagoras",
        replace=lambda Theta2, eta, lam, Gamma2: Theta2 + eta**2 * Gamma2,
    )
    result = _verdicts("parameter_pythagoras", [], "parameter_pythagoras")
    assert result.verdict == "fails" and result.exact


# Laws of plain SGD (items 6-8). Items 5 and 6, approximate laws with an exact identity
# each (a wrong law, a broken step, a regime where the dropped term matters):
# tests/test_approximations.py.


def test_effective_learning_rate_uses_the_law_and_fails_with_a_wrong_one(monkeypatch):
    assert _verdicts("effective_learning_rate", TINY, "gd_angle_per_step").verdict == "holds"
    _break(monkeypatch, "gd_angle_per_step", _twice)
    assert _verdicts("effective_learning_rate", TINY, "gd_angle_per_step").verdict == "fails"


def test_effective_learning_rate_refuses_momentum_instead_of_stepping_sgd():
    result = _verdicts("effective_learning_rate", [*TINY, "optimizer=momentum"])
    (result,) = result.values()
    assert result.verdict == "not applicable" and "optimizer=momentum" in result.note


def test_frequency_imprint_fails_even_when_energy_explains_the_slope():
    # At this size the per-update energy falls with p, so the slope is far from 1. By
    # item 6 that is "explained", but the law's own prediction is p T: it fails.
    result = _verdicts("frequency_imprint", TINY, "frequency_imprint")
    assert result.predicted == pytest.approx(1.0)
    assert abs(result.measured - 1) > result.spread * 2
    assert result.verdict == "fails"


def test_frequency_imprint_judges_the_laws_own_exponent(monkeypatch):
    def squared(eta, p, T, G2):
        return 2 * eta**2 * p**2 * T * G2

    _break(monkeypatch, "frequency_imprint", replace=squared)
    result = _verdicts("frequency_imprint", TINY, "frequency_imprint")
    assert result.predicted == pytest.approx(2.0) and result.verdict == "fails"


def test_imprint_by_occurrences_holds_at_its_default_and_catches_a_wrong_exponent(monkeypatch):
    # The default regime (flat energy per occurrence, slope 0.99 +- 0.02) holds; the same
    # run judged against a law with pi^2 occurrences must fail.
    held = _verdicts("frequency_imprint_occurrences", [], "frequency_imprint_occurrences")
    assert held.verdict == "holds"

    def squared(eta, T, B, pi, epsilon):
        return 2 * eta**2 * T * B * pi**2 * epsilon

    _break(monkeypatch, "frequency_imprint_occurrences", replace=squared)
    result = _verdicts("frequency_imprint_occurrences", [], "frequency_imprint_occurrences")
    assert result.predicted == pytest.approx(2.0) and result.verdict == "fails"


def test_imprint_by_occurrences_fails_where_the_energy_per_occurrence_depends_on_pi():
    # At tau = 0.05 frequent items bring more energy per occurrence (slope ~0.9 on log
    # pi): the law's assumption is broken and its slope of 1 must fail.
    result = _verdicts(
        "frequency_imprint_occurrences", ["tau=0.05"], "frequency_imprint_occurrences"
    )
    assert result.measured > 1.5 and result.verdict == "fails"


# Weight-decay equilibria, Li-Arora, AdamW (items 9-11).


def test_sgd_decay_equilibrium_fails_with_a_wrong_law(monkeypatch):
    assert _verdicts("sgd_decay_equilibrium", FREQUENT, "sgd_decay_equilibrium").verdict == (
        "holds"
    )
    _break(monkeypatch, "sgd_decay_equilibrium", _twice)
    result = _verdicts("sgd_decay_equilibrium", FREQUENT, "sgd_decay_equilibrium")
    assert result.verdict == "fails" and result.tolerance <= MAX_TOLERANCE


# Sparse rates (Zipf 1.1, 60 items, rates 0.03 to 1) at eta lam = 0.01, relaxed.
SPARSE = ["num_items=60", "dim=8", "batch=32", "steps=1000", "weight_decay=0.02"]


def test_shot_noise_equilibrium_holds_where_the_mean_field_forms_fail(monkeypatch):
    results = _verdicts("sgd_decay_equilibrium", SPARSE)
    assert results["sparse_decay_shot_noise"].verdict == "holds"
    assert results["sparse_decay_equilibrium"].verdict == "fails"

    def wrong_exponent(eta, lam, p, m1, m2, w):
        # p^2 where the chain has p: the slope it predicts is far from the measured one.
        a2 = (1 - eta * lam) ** 2
        return p**2 * eta**2 * (2 * a2 * m1 + eta**2 * m2 * w) / (1 - a2**2)

    _break(monkeypatch, "sparse_decay_shot_noise", replace=wrong_exponent)
    result = _verdicts("sgd_decay_equilibrium", SPARSE, "sparse_decay_shot_noise")
    assert result.verdict == "fails"


@pytest.mark.parametrize("weight_decay", [0.8, 0.32])
def test_shot_noise_equilibrium_judges_only_rows_with_kappa_above_4(weight_decay):
    # Flat frequencies (zipf 0.3) give update rates of about 0.3 to 0.6. At eta lam = 0.4
    # every row has kappa <= 2 (no stationary N^4); at eta lam = 0.16 the frequent rows have
    # 2 < kappa <= 4, where N^4 has a mean but its time average no variance: the check
    # refuses both rather than judging a slope from rows it cannot estimate.
    config = SimConfig(num_items=60, batch=32, zipf=0.3)
    eta_lam = config.lr * weight_decay
    rate = 1 - (1 - zipf_probabilities(60, 0.3)) ** 32
    kappa = np.log1p(-rate) / (2 * np.log1p(-eta_lam))
    assert kappa.max() <= 4
    result = _verdicts(
        "sgd_decay_equilibrium",
        [*SPARSE, "zipf=0.3", f"weight_decay={weight_decay}"],
        "sparse_decay_shot_noise",
    )
    assert result.verdict == "not applicable" and "have kappa > 4" in result.note
    if weight_decay == 0.32:
        assert np.sum(kappa > 2) >= 5


def test_sgd_decay_equilibrium_is_not_relaxed_rather_than_failing_a_transient():
    # eta lam = 5e-4: a relaxation time of 1000 steps, the run is 800 steps long.
    results = _verdicts("sgd_decay_equilibrium", [*FREQUENT, "weight_decay=0.001"])
    assert results["sgd_decay_equilibrium"].verdict == "not relaxed"
    assert results["sgd_decay_equilibrium"].relaxed == 0


def test_sparse_decay_equilibrium_judges_the_laws_own_exponent(monkeypatch):
    def squared(eta, lam, G2, p):
        return p**2 * eta * G2 / (lam * (2 - eta * lam))

    result = _verdicts("sgd_decay_equilibrium", BUSY, "sparse_decay_equilibrium")
    assert result.predicted == pytest.approx(0.25)
    _break(monkeypatch, "sparse_decay_equilibrium", replace=squared)
    result = _verdicts("sgd_decay_equilibrium", BUSY, "sparse_decay_equilibrium")
    assert result.predicted == pytest.approx(0.5) and result.verdict == "fails"


def test_sgd_decay_angle_fails_with_a_wrong_law(monkeypatch):
    assert _verdicts("sgd_decay_equilibrium", BUSY, "sgd_decay_angle").verdict == "holds"
    _break(monkeypatch, "sgd_decay_angle", _twice)
    assert _verdicts("sgd_decay_equilibrium", BUSY, "sgd_decay_angle").verdict == "fails"


def test_momentum_is_judged_by_the_momentum_laws(monkeypatch):
    sets = [*BUSY, "optimizer=momentum", "lr=0.05"]
    results = _verdicts("sgd_decay_equilibrium", sets)
    assert {"momentum_decay_equilibrium", "momentum_decay_angle"} <= set(results)
    assert results["sparse_decay_equilibrium"].verdict == "not applicable"
    assert results["momentum_decay_angle"].verdict == "holds"
    _break(monkeypatch, "momentum_decay_angle", _twice)
    assert _verdicts("sgd_decay_equilibrium", sets, "momentum_decay_angle").verdict == "fails"


def test_an_optimizer_without_a_law_is_not_applicable():
    results = _verdicts("sgd_decay_equilibrium", [*TINY, "optimizer=nesterov", "lr=0.05"])
    assert {r.verdict for r in results.values()} == {"not applicable"}
    assert all("nesterov" in r.note for r in results.values())


def test_li_arora_stays_exact_at_large_eta_lam_and_fails_with_a_wrong_rate(monkeypatch):
    # eta lam = 0.15 over 100 steps: feeding one run's views to the other grew rounding
    # to O(1); each run making its own views keeps it at rounding.
    sets = ["weight_decay=0.3"]
    result = _verdicts("li_arora", sets, "li_arora")
    assert result.verdict == "holds" and result.measured < 1e-10

    def wrong(eta, lam, t):
        return eta * (1 - eta * lam) ** (-2 * t)

    _break(monkeypatch, "li_arora_learning_rate", replace=wrong)
    assert _verdicts("li_arora", sets, "li_arora").verdict == "fails"


def test_adamw_equilibrium_fails_with_a_wrong_law_and_waits_for_relaxation(monkeypatch):
    result = _verdicts("adamw_equilibrium", ADAMW, "adamw_equilibrium")
    assert result.verdict == "holds"
    short = _verdicts("adamw_equilibrium", _sets(ADAMW, ["steps=200"]), "adamw_equilibrium")
    assert short.verdict == "not relaxed"
    _break(monkeypatch, "adamw_equilibrium", _twice)
    assert _verdicts("adamw_equilibrium", ADAMW, "adamw_equilibrium").verdict == "fails"


def test_adamw_laws_fail_when_eps_swamps_the_normalization():
    # eps = 1 >> sqrt(v): the update is the gradient itself, not a unit-variance step, so
    # the random-walk norm is wrong and the frequency imprint comes back.
    results = _verdicts("adamw_equilibrium", _sets(ADAMW, ["eps=1.0"]))
    assert results["adamw_equilibrium"].verdict == "fails"
    assert results["adamw_frequency_independence"].verdict == "fails"
    assert results["adamw_frequency_independence"].measured > 0


# Drift and heat (item 12).

DRIFT_HEAT = [*ADAMW, "weight_decay=0.1"]


@pytest.fixture
def adamw_row(monkeypatch):
    monkeypatch.setattr(drift_heat, "REGIMES", {"table, adamw": drift_heat.REGIMES["table, adamw"]})


@pytest.mark.parametrize("factor", [2.0, 1 / 240])
def test_drift_heat_fails_a_prediction_too_large_or_too_small(monkeypatch, adamw_row, factor):
    (result,) = _verdicts("drift_heat_equilibrium", DRIFT_HEAT).values()
    assert result.verdict == "holds"
    _break(monkeypatch, "drift_heat_equilibrium", lambda n2: factor * n2)
    (result,) = _verdicts("drift_heat_equilibrium", DRIFT_HEAT).values()
    assert result.verdict == "fails" and result.tolerance <= MAX_TOLERANCE


def test_drift_heat_predicts_from_a_run_other_than_the_judged_one(monkeypatch):
    real_run = drift_heat._run
    judged = drift_heat.BASE.replace(
        optimizer="adamw", num_items=40, dim=4, batch=16, steps=800, lr=0.05, weight_decay=0.1
    )

    def run(cfg, seeds, **kwargs):
        traj = real_run(cfg, seeds, **kwargs)
        if cfg == judged:  # scramble the judged run's budget: the prediction must not move
            return dataclasses.replace(traj, drift=0 * traj.drift, heat=traj.heat / 7)
        return traj

    before = drift_heat.per_item(judged)["predicted"]
    monkeypatch.setattr(drift_heat, "_run", run)
    after = drift_heat.per_item(judged)["predicted"]
    np.testing.assert_array_equal(before, after)


def test_drift_heat_fails_a_shared_encoder_moved_by_its_own_gradient_only(monkeypatch):
    # The compositional row's D and V come from the gradients through K_ij = m_ij I; with
    # the free table's kernel (each node moved by its own gradient: the heat the issue
    # found ~100x too small) the same runs give wrong rates and the row fails.
    from normtheory.kernel_budget import kernel_budget

    cfg, _ = row_config(drift_heat.BASE, drift_heat.REGIMES["compositional, heavy ball"], ())
    assert drift_heat.rate_source(cfg) == "kernel"
    assert drift_heat._judge_row(cfg, "right kernel", "kernel").verdict == "holds"
    nodes = cfg.num_tracked_max

    def own_gradient_only(config, seed=None):
        return kernel_budget(config, seed, kernel=np.eye(nodes))

    monkeypatch.setattr(drift_heat, "kernel_budget_cached", own_gradient_only)
    result = drift_heat._judge_row(cfg, "table kernel", "kernel")
    assert result.verdict == "fails" and result.rel_error > 3 * result.tolerance


def test_set_values_win_over_a_rows_own_settings(adamw_row):
    (result,) = _verdicts("drift_heat_equilibrium", DRIFT_HEAT).values()
    assert "adamw, lr=0.05, wd=0.1" in result.regime
    assert "(--set lr, weight_decay)" in result.regime
    cfg, replaced = row_config(drift_heat.BASE, {"lr": 0.01, "optimizer": "adamw"}, {"lr"})
    assert (cfg.lr, cfg.optimizer, replaced) == (drift_heat.BASE.lr, "adamw", ["lr"])


# Regime maps (items 13-14).


@pytest.mark.parametrize(
    "law, sets",
    [
        ("specificity", ["depth=3", "steps=600", "dim=8", "batch=32"]),
        ("uncertainty", _sets(TINY, ["steps=600"])),
    ],
)
def test_a_regime_map_cell_fails_when_the_predicted_sign_is_flipped(monkeypatch, law, sets):
    # The verdict follows the derived prediction (item 16): the cell holds with the sign
    # it measures and fails when the predictor is made to say the opposite.
    monkeypatch.setattr(structure, "OPTIMIZERS", {"sgd": structure.OPTIMIZERS["sgd"]})
    # The cells' models are the keys of the family rule's table: the free table only.
    for rule in ("SPECIFICITY_SIGNS", "UNCERTAINTY_SIGNS"):
        monkeypatch.setattr(structure, rule, {"table": getattr(structure, rule)["table"]})
    sets = [*sets, "frequency_mode=decoupled"]
    (cell,) = _verdicts(law, sets).values()
    truth = int(np.sign(cell.measured))
    assert abs(cell.measured) > 2 * cell.spread, "the regime must give a significant sign"
    monkeypatch.setattr(structure, "predicted_sign", lambda cfg, seeds: (truth, 0.5 * truth))
    (cell,) = _verdicts(law, sets).values()
    assert cell.verdict == "holds"
    monkeypatch.setattr(structure, "predicted_sign", lambda cfg, seeds: (-truth, -0.5 * truth))
    (cell,) = _verdicts(law, sets).values()
    assert cell.verdict == "fails"


def test_a_sign_test_on_too_few_items_is_not_applicable(monkeypatch):
    # Five inputs: two standard errors of rho reach 1, so a predicted 0 could never fail.
    monkeypatch.setattr(structure, "OPTIMIZERS", {"sgd": structure.OPTIMIZERS["sgd"]})
    monkeypatch.setattr(structure, "UNCERTAINTY_SIGNS", {"table": +1})
    monkeypatch.setattr(structure, "predicted_sign", lambda cfg, seeds: (0, 0.0))
    monkeypatch.setattr(structure, "kernel_rho", lambda cfg, seeds=2: 0.0)
    (cell,) = _verdicts("uncertainty", _sets(TINY, ["num_items=5", "steps=100"])).values()
    assert cell.tolerance >= 1 and cell.verdict == "not applicable"


# The per-item rule and the error measure.


def test_the_per_item_rule_is_a_fraction_with_an_interval():
    ok = np.ones(200, bool)
    ok[0] = False  # one item out of 200 does not flip the verdict
    assert fraction_verdict(ok).verdict == "holds"
    ok[:30] = False
    frequent = np.arange(200) >= 100
    assert fraction_verdict(ok).verdict == "fails"
    assert fraction_verdict(ok, frequent).verdict == "partial"
    assert fraction_verdict(np.ones(10, bool)).verdict == "fails"  # too few to claim it
    low, high = fraction_interval(36, 40)
    assert low < 0.9 < high and low == pytest.approx(0.7634, abs=1e-3)


def test_the_equilibrium_error_is_symmetric():
    assert log_error(1.0, 240.0) == pytest.approx(log_error(240.0, 1.0))
    assert log_error(1.0, 240.0) > MAX_TOLERANCE
    assert log_error(1.0, -1.0) == np.inf


def test_a_predicted_zero_needs_an_equivalence_test_not_a_null_result():
    from normtheory.verify.structure import EQUIVALENCE_MARGIN, _verdict

    se = 0.05
    assert _verdict(0.02, 0, se) == "holds"  # interval [-0.08, 0.12] inside the margin
    # Not significant (|rho| < 2 se) but the interval reaches past the margin: no verdict.
    wide = 0.6 * EQUIVALENCE_MARGIN
    assert _verdict(0.1, 0, wide) == "inconclusive"
    assert _verdict(0.0, 0, wide) == "inconclusive"
    assert _verdict(0.3, 0, se) == "fails"
    assert _verdict(0.3, 1, se) == "holds" and _verdict(-0.3, 1, se) == "fails"


def test_a_setting_a_row_cannot_take_makes_that_row_not_applicable_not_a_crash(monkeypatch):
    # The MLP row of drift_heat_equilibrium is ambiguity data with the prototype loss; the
    # user's --set loss=one_sided cannot apply there: that row is refused, not a crash.
    from normtheory.verify import drift_heat

    mlp = {"mlp, heavy ball": drift_heat.REGIMES["mlp, heavy ball"]}
    monkeypatch.setattr(drift_heat, "REGIMES", mlp)
    results, crashes = run_checks(["drift_heat_equilibrium"], ["loss=one_sided"])
    assert not crashes
    [row] = results
    assert row.verdict == "not applicable" and "loss='one_sided'" in row.note
    assert row.row == "mlp, heavy ball" and "\n" not in row.note
