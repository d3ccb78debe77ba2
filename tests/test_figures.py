"""Smoke tests of the figure scripts in figures/: each draws a tiny PNG, deterministically."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from normtheory import figures

FIGURES = Path(__file__).resolve().parents[1] / "figures"
SCRIPTS = sorted(FIGURES.glob("fig*.py"))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_figure_script_draws_a_png(script: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path / "cache"))
    out = _load(script).main(tmp_path / "out", tiny=True)
    assert out.exists() and out.suffix == ".png"
    pixels = plt.imread(out)[..., :3]
    # Not blank: a figure with axes, text and data has many distinct dark pixels.
    assert pixels.std() > 0.05 and np.mean(pixels.min(axis=-1) < 0.5) > 0.005


def test_save_is_byte_identical(tmp_path: Path) -> None:
    paths = []
    for name in ("a.png", "b.png"):
        with figures.style():
            fig, ax = plt.subplots()
            ax.plot([0, 1, 2], [1, 3, 2], "o-")
            figures.annotate(ax, "median rel. error 0.4%")
            paths.append(figures.save(fig, tmp_path / name))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_a_blank_figure_fails_the_smoke_check(tmp_path: Path) -> None:
    with figures.style():
        fig, _ = plt.subplots()
        fig.axes[0].axis("off")
        path = figures.save(fig, tmp_path / "blank.png")
    pixels = plt.imread(path)[..., :3]
    assert not (pixels.std() > 0.05 and np.mean(pixels.min(axis=-1) < 0.5) > 0.005)


def test_annotations_are_stored_in_the_png_and_listed_in_the_report(tmp_path: Path) -> None:
    from normtheory.report import _figures

    with figures.style():
        fig, (left, right) = plt.subplots(1, 2)
        left.set_title("SGD")
        figures.annotate(left, "fit:\nslope 0.25\n(predicted 1/4)")
        right.text(0.5, 0.5, "a label that is not an annotation")
        figures.save(fig, tmp_path / "fig1_demo.png")
    summary = figures.measured_summary(tmp_path / "fig1_demo.png")
    assert summary == "SGD: fit: slope 0.25, (predicted 1/4)"
    with figures.style():
        fig, _ = plt.subplots()
        figures.save(fig, tmp_path / "fig10_plain.png")
    assert figures.measured_summary(tmp_path / "fig10_plain.png") == ""
    lines = _figures(tmp_path)
    assert lines[0].startswith("- [fig1_demo.png]") and "Measured: SGD: fit: slope 0.25" in lines[0]
    assert lines[1].startswith("- [fig10_plain.png]")  # numeric order, not text order
