"""Approximate laws are judged as approximations (THEORY.md items 5 and 6).

The modified flow (item 5) and the accumulation law (item 6) drop a term the simulation
measures exactly. Each check judges the law against the accuracy it declares (so it
fails where the dropped term is large: small initial norms, large steps), and keeps the
identity it truncates (law + dropped term) as a separate exact row, so a broken step is
still caught to rounding.
"""

import dataclasses

import numpy as np
import pytest

from normtheory import laws
from normtheory.verify import accumulation, exact, run_checks
from normtheory.verify._record import MAX_TOLERANCE, within_accuracy

TINY = ["num_items=40", "dim=4", "batch=16", "steps=200"]
# Small steps: eta G / N^2 small for (nearly) every item, both laws within 1%.
HELD = [*TINY, "lr=0.1"]
CHECKS = {"modified_flow": "modified_flow_quartic_rate", "accumulation": "accumulation"}


def _rows(check, sets):
    """(approximate row, exact-identity row) of `check` run with --set `sets`."""
    results, crashes = run_checks([check], sets)
    assert not crashes, crashes
    law = CHECKS[check]
    (approximate,) = [r for r in results if r.law == law and not r.row]
    (identity,) = [r for r in results if r.law == law and r.row == "exact identity"]
    return approximate, identity


def _wrong(monkeypatch, name, factor):
    """Make `laws.get(name)` return the law times `factor`, for every check."""
    real_get = laws.get

    def get(law_name):
        law = real_get(law_name)
        if law_name != name:
            return law
        return lambda **kwargs: factor * np.asarray(law(**kwargs))

    monkeypatch.setattr(laws, "get", get)


@pytest.mark.parametrize("check", list(CHECKS))
def test_the_error_to_tolerance_ratio_follows_the_regime(check):
    # The tolerance is the accuracy the law declares, not the term it drops: the ratio
    # is small where steps are small and large where the initial norm is small.
    small, _ = _rows(check, HELD)
    large, _ = _rows(check, [*TINY, "init_scale=0.3"])
    assert small.tolerance == large.tolerance < MAX_TOLERANCE
    ratios = [r.rel_error / r.tolerance for r in (small, large)]
    assert ratios[0] < 0.5 and ratios[1] > 2 and ratios[1] > 20 * ratios[0]
    assert (small.verdict, large.verdict) == ("holds", "fails")
    assert not small.exact and not large.exact  # approximate rows never claim exactness


def test_accumulation_fails_at_a_small_initial_scale():
    held, _ = _rows("accumulation", HELD)
    assert held.verdict == "holds" and held.fraction_low >= 0.75
    failed, identity = _rows("accumulation", [*TINY, "init_scale=0.05"])
    # The dropped eta^4 sum G^4 / N^4 dominates N_T^4: almost no item is within 1% ...
    assert failed.verdict == "fails" and failed.fraction_holding < 0.1
    assert failed.rel_error > 1
    # ... while the identity the law truncates still holds to rounding.
    assert identity.verdict == "holds" and identity.exact and identity.rel_error < 1e-12


@pytest.mark.parametrize("sets", [["init_scale=0.05"], ["lr=20"]])
def test_modified_flow_fails_where_the_step_is_large_against_the_norm(sets):
    held, _ = _rows("modified_flow", HELD)
    assert held.verdict == "holds"
    failed, identity = _rows("modified_flow", [*TINY, *sets])
    assert failed.verdict == "fails" and failed.fraction_holding < 0.1
    assert identity.verdict == "holds" and identity.exact


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("factor", [1.05, 0.5])  # 5% too large; the factor 2 missing
def test_a_wrong_law_fails_both_rows(monkeypatch, check, factor):
    _wrong(monkeypatch, CHECKS[check], factor)
    approximate, identity = _rows(check, HELD)
    assert approximate.verdict == "fails"
    assert identity.verdict == "fails" and identity.exact


def _overgrown(traj, eta, excess):
    """The run's norms rebuilt step by step as N'^2 = N^2 + (1 + excess) eta^2 G^2 / N^2
    from its own N_0 and G^2: item 4's tangent step for excess 0, else a broken step that
    grows the norm `excess` too much (a radial leak)."""
    norms, n = [], traj.norm0
    for t in range(traj.g2.shape[-2]):
        n = np.sqrt(n**2 + (1 + excess) * eta**2 * traj.g2[..., t, :] / n**2)
        norms.append(n)
    return dataclasses.replace(traj, norm=np.stack(norms, axis=-2))


@pytest.mark.parametrize(
    "check, runner",
    [("modified_flow", (exact, "simulate_cached")), ("accumulation", (accumulation, "_run"))],
)
def test_the_exact_identity_catches_a_step_the_accuracy_cannot_see(monkeypatch, check, runner):
    module, name = runner
    real = getattr(module, name)
    for excess, verdict in ((0.0, "holds"), (1e-6, "fails")):
        monkeypatch.setattr(
            module, name, lambda cfg, *a, e=excess, **k: _overgrown(real(cfg, *a, **k), cfg.lr, e)
        )
        approximate, identity = _rows(check, HELD)
        assert approximate.verdict == "holds"  # 1e-6 of the growth is far below 1% ...
        assert identity.verdict == verdict and identity.exact  # ... but not below rounding


def test_a_declared_accuracy_must_be_able_to_fail():
    with pytest.raises(ValueError, match="declared accuracy"):
        within_accuracy(np.zeros(3), 1.0)
    rule, shown = within_accuracy(np.r_[np.zeros(18), np.nan, 1.0], 0.01)
    assert rule.verdict == "fails" and rule.fraction == pytest.approx(0.9)
    assert shown == pytest.approx(0.0)  # the 90th percentile of 18 zeros, inf and 1
