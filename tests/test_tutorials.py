"""The trace tutorial runs, and its printed answer is the one its trajectories give when
recomputed directly (scipy.stats, numpy sums). The other tutorials are run and checked by
tests/test_docs_tutorials.py."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

# Each test here runs a whole script or figure (`make test-end-to-end`).
pytestmark = pytest.mark.end_to_end

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
NUMBER = r"([-+]?\d+\.\d+(?:e[-+]?\d+)?)"


def _run(path: Path, where: Path, monkeypatch) -> dict:
    monkeypatch.chdir(where)
    return runpy.run_path(str(path), run_name="__main__")


def test_the_trace_tutorial_answers_from_its_own_trajectories(tmp_path, monkeypatch, capsys):
    namespace = _run(TUTORIALS / "trace_your_model.py", tmp_path, monkeypatch)
    _check_trace_answer(namespace, capsys.readouterr().out, tmp_path)


def _check_trace_answer(namespace: dict, out: str, tmp_path: Path) -> None:
    """The printed slope, rho, shares and remainder size are those of its trajectories."""
    assert (tmp_path / "trace_your_model.png").read_bytes()[:4] == b"\x89PNG"
    probs = np.asarray(namespace["PROBS"], np.float64)
    for name in ("adamw", "sgd"):
        traj = namespace["answers"][name][0]
        slope_line = re.search(rf"^{name}: slope of log N_T on log probability: (.*)$", out, re.M)
        slope, lo, hi, rho = (float(v) for v in re.findall(NUMBER, slope_line.group(1))[:4])
        x, y = np.log(probs), np.log(traj.norm[:, -1, :]).mean(axis=0)
        assert slope == pytest.approx(stats.linregress(x, y).slope, abs=6e-4)
        assert rho == pytest.approx(stats.spearmanr(x, y).statistic, abs=6e-4)
        assert lo <= slope <= hi
        shares_line = re.search(rf"^{name}: net change of N\^2 (.*)$", out, re.M).group(1)
        printed = dict(re.findall(r"(decay|drift|heat|remainder) " + NUMBER, shares_line))
        net = (traj.norm[:, -1] ** 2 - traj.norm0**2).sum()
        for term, value in printed.items():
            direct = np.asarray(getattr(traj, term)).sum() / net
            assert float(value) == pytest.approx(direct, abs=6e-4), term
        size = float(re.search(r"remainder size " + NUMBER, shares_line).group(1))
        terms = [np.abs(getattr(traj, t)) for t in ("decay", "drift", "heat", "remainder")]
        assert size == pytest.approx(terms[3].sum() / sum(t.sum() for t in terms), rel=2e-3)
    # AdamW's shrink was found and booked as decay; SGD has none.
    assert np.all(namespace["answers"]["adamw"][0].decay < 0)
    assert np.all(namespace["answers"]["sgd"][0].decay == 0)
