"""Each figure script at its tiny size: the PNG is not blank, the record beside it holds the
caption and the numbers, the arrays it plotted are finite and of the right shape, and,
where the figure claims agreement with a law, they agree within the law's tolerance."""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from normtheory import figures

FIGURES = Path(__file__).resolve().parents[1] / "figures"
SCRIPTS = sorted(FIGURES.glob("fig*.py"))
EPS = np.finfo(np.float64).eps


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _accumulation(record: figures.FigureRecord) -> None:
    a = record.arrays
    assert (
        a["measured"].shape == (5, len(a["step"]), 40)
        and a["predicted"].shape == a["measured"].shape
    )
    # A lower bound short by exactly the dropped eta^4 sum G^4 / N^4 (to 0.1% + rounding).
    gap = (a["measured"] - a["predicted"]) / a["measured"]
    assert np.all(np.abs(gap - a["neglected"]) <= 1e-3 * a["neglected"] + 1e-12)
    assert np.all(a["neglected"] >= 0) and a["neglected"].max() > 1e-9  # not vacuous


def _frequency_imprint(record: figures.FigureRecord) -> None:
    a = record.arrays
    for panel in ("sgd", "sgd_l2", "adamw"):
        bins = len(a[f"{panel}_rate"])
        assert 2 <= bins <= 12 and a[f"{panel}_measured"].shape == (5, bins)
        assert np.all(np.diff(a[f"{panel}_rate"]) > 0)  # bins in rate order
    assert a["sgd_law"].shape == (len(a["sgd_rate"]),)
    # Plain SGD: the accumulation law, per item, to the neglected O(eta^4) term.
    assert record.measured["sgd_median_rel_error"] < 1e-3
    np.testing.assert_allclose(a["sgd_law"], a["sgd_measured"].mean(axis=0), rtol=1e-2)


def _equilibria(record: figures.FigureRecord) -> None:
    a = record.arrays
    assert a["n4"].shape == a["n4_law"].shape == a["angle"].shape == (len(a["lr"]), 5)
    # The law's angle is sqrt(2 eta lam) to first order in eta lam (here <= 0.05).
    np.testing.assert_allclose(a["angle_law"], np.sqrt(2 * a["lr"] * 0.05), rtol=0.01)
    assert np.all(a["angle"] > 0) and np.all(a["n4"] > 0)


def _specificity(record: figures.FigureRecord) -> None:
    a = record.arrays
    for key in ("table_decoupled_sgd", "compositional_decoupled_sgd"):
        assert a[f"{key}_growth"].shape == (2, len(a[f"{key}_levels"]))
    # The free-table law (item 6) on the free table: a lower bound (it drops
    # eta^4 sum G^4 / N^4 >= 0), close at this size (dim 4, large angles: a few percent).
    table = a["table_decoupled_sgd_growth"].mean(axis=0) - a["table_decoupled_sgd_law"]
    assert np.all(table >= -1e-9) and np.all(table < 0.05)
    # ... and far off on the compositional encoder, whose nodes share features.
    shared = (
        a["compositional_decoupled_sgd_growth"].mean(axis=0) - a["compositional_decoupled_sgd_law"]
    )
    assert np.max(np.abs(shared)) > 3 * np.max(table)


def _li_arora(record: figures.FigureRecord) -> None:
    a = record.arrays
    assert a["plain"].shape == a["rescaled"].shape == (len(a["step"]), 40)
    assert np.max(np.abs(a["rescaled"] / a["plain"] - 1)) < 1e-9  # float64 rounding


def _effective_lr(record: figures.FigureRecord) -> None:
    a = record.arrays
    x = a["small_angle"]
    assert a["angle"].shape == x.shape == a["norm"].shape and len(x) > 10
    # The exact law atan(eta G / N^2), within the rounding of the measured angle.
    tol = 100 * EPS * (1 + 1 / x)
    assert np.all(np.abs(a["angle"] / a["exact"] - 1) <= tol)
    np.testing.assert_allclose(a["offset"], 1 - np.arctan(x) / x, atol=float(np.max(tol)))
    np.testing.assert_allclose(a["curve"], 1 - np.arctan(a["fine"]) / a["fine"], atol=1e-12)


def _imbalance(record: figures.FigureRecord) -> None:
    a = record.arrays
    assert a["final"].shape == a["free_table"].shape == a["heat"].shape == (5, 4)
    np.testing.assert_allclose(a["frequency"], [1, 2, 4, 8] / np.float64(15))
    # The budget (item 12) closes: heat + drift + decay + remainder = N_T^2 - N_0^2.
    total = a["heat"] + a["drift"] + a["decay"] + a["remainder"]
    np.testing.assert_allclose(total, a["growth"], rtol=1e-3)


def _kernel_split(record: figures.FigureRecord) -> None:
    a = record.arrays
    names = ("SGD", "heavy ball", "Adam", "Adam, b1 = 0")
    for name in names:
        assert list(a[f"{name}/levels"]) == [0, 1, 2]
        assert a[f"{name}/heat_self"].shape == (3,)
    for name in ("SGD", "heavy ball"):  # the g-linear self kick is -eta (depth + 1) g_i
        np.testing.assert_allclose(a[f"{name}/heat_self"], a[f"{name}/sgd_self_law"], rtol=1e-10)
    for name in names:  # item 16's mean-field lines, one value per depth, heats positive
        for key in ("mf_heat_self", "mf_heat_cross", "mf_growth_kernel", "mf_growth_self"):
            assert a[f"{name}/{key}"].shape == (3,) and np.all(np.isfinite(a[f"{name}/{key}"]))
        assert np.all(a[f"{name}/mf_heat_self"] > 0) and np.all(a[f"{name}/mf_heat_cross"] >= 0)
    for name in ("SGD", "heavy ball"):  # Euler: K_ii proportional to I
        scale = np.max(np.abs(a[f"{name}/drift_cross"]))
        assert np.max(np.abs(a[f"{name}/drift_self"])) < 1e-10 * scale
    assert np.all(a["SGD/heat_rest"] == 0) and np.all(a["SGD/drift_rest"] == 0)
    assert np.max(np.abs(a["Adam, b1 = 0/drift_rest"])) <= 1e-10 * np.max(
        np.abs(a["Adam, b1 = 0/drift_cross"])
    )
    assert np.max(np.abs(a["Adam/drift_self"])) > 1e-3 * np.max(np.abs(a["Adam/drift_rest"]))


def _path_features(record: figures.FigureRecord) -> None:
    a = record.arrays
    for name in ("SGD", "Adam"):
        assert list(a[f"{name}/levels"]) == [0, 1, 2]
        # The split is exact, and the root is its one feature: no alignment part.
        np.testing.assert_allclose(
            a[f"{name}/growth"], a[f"{name}/feature"] + a[f"{name}/alignment"], atol=1e-12
        )
        assert abs(a[f"{name}/alignment"][0]) < 1e-12
    # Item 17 under SGD without decay: the features' drifts sum to zero over the tree
    # (1, 2 and 4 features per depth); Adam's do not.
    count = np.array([1, 2, 4])
    heat = count @ a["SGD/heat"]
    assert abs(count @ a["SGD/drift"]) < 1e-9 * heat
    assert abs(count @ a["Adam/drift"]) > 1e-3 * (count @ a["Adam/heat"])


CLAIMS: dict[str, Callable[[figures.FigureRecord], None]] = {
    "fig1_accumulation": _accumulation,
    "fig2_frequency_imprint": _frequency_imprint,
    "fig3_equilibria": _equilibria,
    "fig4_specificity": _specificity,
    "fig6_li_arora": _li_arora,
    "fig7_effective_lr": _effective_lr,
    "fig8_imbalance": _imbalance,
    "fig11_kernel_split": _kernel_split,
    "fig14_path_features": _path_features,
}


@pytest.mark.end_to_end
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_figure_record(script: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path / "cache"))
    drawn, save = [], figures.save

    def keep(fig, path, *args, **kwargs):
        drawn.append(fig)
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(figures, "save", keep)
    record = _load(script).main(tmp_path / "out", tiny=True)
    assert isinstance(record, figures.FigureRecord)
    # No text box drawn over the axes: the numbers go in legends and titles.
    assert all(t.get_bbox_patch() is None for ax in drawn[-1].axes for t in ax.texts)
    out = record.path
    assert out.exists() and out.suffix == ".png"
    pixels = plt.imread(out)[..., :3]
    # Not blank: a figure with axes, text and data has many distinct dark pixels.
    assert pixels.std() > 0.05 and np.mean(pixels.min(axis=-1) < 0.5) > 0.005
    with Image.open(out) as image:
        assert "Description" not in image.info  # numbers never travel through the image
    assert record.arrays, "a figure returns the arrays it plotted"
    for name, values in record.arrays.items():
        assert values.dtype.kind in "fiu" and values.size > 0, name
        assert np.all(np.isfinite(values)), name
    assert record.measured and all(math.isfinite(v) for v in record.measured.values())
    assert record.caption.strip() and "\n" not in record.caption
    written = json.loads(figures.record_path(out).read_text())
    assert written["figure"] == out.name and written["caption"] == record.caption
    assert written["measured"] == pytest.approx(dict(record.measured))
    if script.stem in CLAIMS:
        CLAIMS[script.stem](record)


def test_every_claim_names_a_script() -> None:
    assert set(CLAIMS) <= {p.stem for p in SCRIPTS}
