"""Figure 4 and the verdict are one record: every cell the figure shows carries the rho,
interval, predicted sign and verdict that `normtheory verify specificity` reports, from
the same runs. At a small tree (depth 2, branching 2) and SGD only, to stay fast."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from normtheory import figures, verify
from normtheory.verify import structure

# Each test here runs a whole script or figure (`make test-end-to-end`).
pytestmark = pytest.mark.end_to_end

SCRIPT = Path(__file__).resolve().parents[1] / "figures" / "fig4_specificity.py"
SMALL = {"depth": 2, "branching": 2, "dim": 4, "batch": 16, "steps": 200}


def _load():
    spec = importlib.util.spec_from_file_location(SCRIPT.stem, SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One results cache for this file's tests: the verdict's runs are computed once."""
    return tmp_path_factory.mktemp("fig4-cache")


@pytest.fixture
def small_regime(monkeypatch, cache: Path) -> None:
    """The figure's full-size path (`structure.specificity` at structure.HIERARCHY) on a
    small tree with SGD cells only."""
    monkeypatch.setenv("NORMTHEORY_CACHE", str(cache))
    monkeypatch.setattr(structure, "HIERARCHY", structure.HIERARCHY.replace(**SMALL))
    monkeypatch.setattr(structure, "OPTIMIZERS", {"sgd": structure.OPTIMIZERS["sgd"]})


def test_figure4_plots_the_verdicts_cells(small_regime, tmp_path: Path, monkeypatch) -> None:
    drawn, save = [], figures.save

    def keep(fig, path, *args, **kwargs):
        drawn.append(fig)
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(figures, "save", keep)
    record = _load().main(tmp_path / "out")
    written = figures.read_record(record.path)["measured"]
    # The report's record: the check as `normtheory verify` runs it, moved to the small tree.
    results, crashes = verify.run_checks(["specificity"], [f"{k}={v}" for k, v in SMALL.items()])
    assert not crashes and len(results) == 4  # two models x two frequency modes
    keys = set()
    for r in results:
        key = f"{r.config['model']}_{r.config['frequency_mode']}_{r.config['optimizer']}"
        keys.add(key)
        assert written[f"{key}_rho"] == pytest.approx(r.measured, rel=1e-12, abs=1e-15)
        assert written[f"{key}_rho_lo"] == pytest.approx(r.measured - r.tolerance, rel=1e-12)
        assert written[f"{key}_rho_hi"] == pytest.approx(r.measured + r.tolerance, rel=1e-12)
        assert written[f"{key}_predicted_sign"] == r.predicted
        sign = {-1.0: "-", 0.0: "0", 1.0: "+"}[r.predicted]
        assert (
            f"{r.config['model']} {r.config['frequency_mode']} SGD rho {r.measured:+.2f} "
            f"[{r.measured - r.tolerance:+.2f}, {r.measured + r.tolerance:+.2f}], "
            f"predicted {sign}, {r.verdict}"
        ) in record.caption
        # The points are the judged runs, all of the verdict's seeds.
        assert record.arrays[f"{key}_growth"].shape[0] == structure.SEEDS
    assert {k.removesuffix("_rho") for k in written if k.endswith("_rho")} == keys
    # Each cell's row names item 18's predicted sign and writes the verdict beside it.
    forest = drawn[-1].axes[-1]
    labels = [t.get_text() for t in forest.get_yticklabels()]
    marks = {-1.0: "($-$)", 0.0: "(0)", 1.0: "(+)"}
    assert labels == [f"SGD {marks[r.predicted]}" for r in results]
    shown = [t.get_text() for t in forest.texts]
    assert [v for v in shown if v in {r.verdict for r in results}] == [r.verdict for r in results]


def test_figure4_refuses_runs_other_than_the_verdicts(small_regime, tmp_path, monkeypatch):
    # Drawing the points from runs at another seed count than the verdict judged fails.
    monkeypatch.setattr(structure, "SEEDS", structure.SEEDS - 2)
    with pytest.raises(RuntimeError, match="not the one the verdict judged"):
        _load().main(tmp_path / "out")
