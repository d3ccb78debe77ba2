"""The figures' style sheet is package data: found through the installed package, declared
for the wheel, and in effect inside `figures.style()`."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import resources
from pathlib import Path

import matplotlib.pyplot as plt

from normtheory import figures

ROOT = Path(__file__).resolve().parents[1]
SHEET = "normtheory.mplstyle"


def test_the_style_sheet_is_found_through_the_package_not_the_checkout():
    sheet = resources.files("normtheory").joinpath(SHEET)
    assert sheet.is_file()
    assert figures.STYLE == sheet
    assert "svg.hashsalt: normtheory" in sheet.read_text(encoding="utf-8")
    assert not (ROOT / "figures" / SHEET).exists()  # one copy, inside the package


def test_the_wheel_declares_the_style_sheet_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["normtheory"]
    assert any(fnmatch.fnmatch(SHEET, p) for p in patterns)


def test_the_style_changes_rc_params_only_inside_its_context():
    with plt.style.context("default"):
        default_size = plt.rcParams["font.size"]
        assert plt.rcParams["axes.spines.top"] is True
        assert plt.rcParams["svg.hashsalt"] is None
        with figures.style():
            assert plt.rcParams["axes.spines.top"] is False
            assert plt.rcParams["svg.hashsalt"] == "normtheory"
            # The sheet sets its own text size, never below the printed minimum.
            assert plt.rcParams["font.size"] != default_size
            assert plt.rcParams["font.size"] >= figures.MIN_FONT
        assert plt.rcParams["axes.spines.top"] is True
        assert plt.rcParams["font.size"] == default_size
