"""The arrays the figures plot: finite, the right shape, and within the law they claim."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

FIGURES = Path(__file__).resolve().parents[1] / "figures"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, FIGURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kernel_split_figure_plots_the_law_it_claims(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path))
    fig11 = _load("fig11_kernel_split")
    fig11.figures.enable_x64()
    data = fig11.measure(tiny=True)
    assert set(data) == set(fig11.OPTIMIZERS)
    for name, record in data.items():
        levels = record["levels"]
        assert list(levels) == [0, 1, 2]
        for key, values in record.items():
            assert values.shape == levels.shape and np.all(np.isfinite(values)), (name, key)
    sgd = data["SGD"]
    np.testing.assert_allclose(sgd["heat_self"], sgd["sgd_self_law"], rtol=1e-10)
    for name in ("SGD", "heavy ball"):  # Euler: K_ii proportional to I
        scale = np.max(np.abs(data[name]["drift_cross"]))
        assert np.max(np.abs(data[name]["drift_self"])) < 1e-10 * scale
    assert np.all(sgd["heat_rest"] == 0) and np.all(sgd["drift_rest"] == 0)
    assert np.all(data["Adam, b1 = 0"]["drift_rest"] == 0) or np.max(
        np.abs(data["Adam, b1 = 0"]["drift_rest"])
    ) < 1e-10 * np.max(np.abs(data["Adam, b1 = 0"]["drift_cross"]))
    assert np.max(np.abs(data["Adam"]["drift_self"])) > 1e-3 * np.max(
        np.abs(data["Adam"]["drift_rest"])
    )
