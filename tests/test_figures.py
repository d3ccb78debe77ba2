"""Smoke tests of the figure scripts in figures/: each draws a tiny PNG, deterministically."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
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
    assert out.stat().st_size > 0


def test_save_is_byte_identical(tmp_path: Path) -> None:
    paths = []
    for name in ("a.png", "b.png"):
        with figures.style():
            fig, ax = plt.subplots()
            ax.plot([0, 1, 2], [1, 3, 2], "o-")
            figures.annotate(ax, "median rel. error 0.4%")
            paths.append(figures.save(fig, tmp_path / name))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_there_are_figure_scripts() -> None:
    assert len(SCRIPTS) >= 4
