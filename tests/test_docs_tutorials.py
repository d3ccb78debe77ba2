"""The documentation's tutorials (docs/tutorials/*.py) run, and what they print agrees
with the same quantities computed here directly from a trajectory or from jax.grad."""

from __future__ import annotations

import html
import importlib.util
import json
import math
import re
import runpy
from pathlib import Path

import jax
import numpy as np
import pytest

import normtheory
from normtheory.config import SimConfig

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
ACCURACY = 0.01  # THEORY.md item 6: the accumulation law claims 1% on N_T^4
SEEDS = 2  # the accumulation check runs two seeds


def _run(name: str, tmp_path: Path, monkeypatch, capsys) -> tuple[dict, str]:
    """Run a tutorial as a script in an empty folder with its own results cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path / "cache"))
    namespace = runpy.run_path(str(TUTORIALS / name), run_name="__main__")
    return namespace, capsys.readouterr().out


def _accumulation(config: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """(law, measured) N_T^4 per seed and item of `config`, computed from its trajectory."""
    traj, _, _ = normtheory.run(config, SEEDS, progress=False)
    law = traj.norm0**4 + 2 * config.lr**2 * traj.g2.sum(axis=-2)
    return law, traj.norm[..., -1, :] ** 4


@pytest.mark.end_to_end
def test_verify_a_law(tmp_path, monkeypatch, capsys):
    ns, out = _run("verify_a_law.py", tmp_path, monkeypatch, capsys)
    row, vmap, regime = ns["row"], ns["vmap"], ns["REGIME"]
    assert row.law == "accumulation"
    assert {k: row.config[k] for k in regime} == regime  # the tutorial's regime was run

    config = SimConfig(**row.config)
    law, measured = _accumulation(config)
    assert row.predicted == pytest.approx(np.median(law), rel=1e-12)
    assert row.measured == pytest.approx(np.median(measured), rel=1e-12)
    assert f"predicted {np.median(law):.6g}, measured {np.median(measured):.6g}" in out
    within = np.mean(np.abs(measured - law) / law <= ACCURACY)
    assert row.fraction_holding == pytest.approx(within)
    assert within >= 0.9 and row.verdict == "holds"
    assert f"lr={config.lr:g}: holds" in out

    # The map: the cell at the tutorial's lr is that run; at lr 20 the law misses.
    j_base = vmap.x_values.index(config.lr)
    assert vmap.verdict[0, j_base] == row.verdict
    assert vmap.rel_error[0, j_base] == pytest.approx(row.rel_error, rel=1e-12)
    j_big = vmap.x_values.index(20.0)
    law20, measured20 = _accumulation(config.replace(lr=20.0))
    err20 = np.abs(measured20 - law20) / law20
    assert np.mean(err20 <= ACCURACY) < 0.5
    assert vmap.verdict[0, j_big] == "fails"
    assert "lr=20: fails" in out
    assert np.min(err20) <= vmap.rel_error[0, j_big] <= np.max(err20)


@pytest.mark.end_to_end
def test_test_your_loss(tmp_path, monkeypatch, capsys):
    ns, out = _run("test_your_loss.py", tmp_path, monkeypatch, capsys)
    loss, grad, buggy = ns["margin_loss"], ns["margin_grad"], ns["margin_grad_buggy"]
    assert "every identity holds" in out
    caught = [line for line in out.splitlines() if line.startswith("margin_grad_buggy: caught")]
    assert len(caught) == 1 and "not tangent" in caught[0]

    # Directly: the hand-derived gradient is jax.grad's; the planted one is not tangent.
    rng = np.random.default_rng(0)
    for _ in range(5):
        z, v = rng.normal(size=3) * 10 ** rng.uniform(-2, 2), rng.normal(size=3)
        g = np.asarray(jax.grad(loss)(z, v))
        np.testing.assert_allclose(np.asarray(grad(z, v)), g, rtol=1e-10, atol=1e-14)
        assert abs(z @ g) <= 1e-10 * np.linalg.norm(z) * np.linalg.norm(g)
        assert abs(z @ np.asarray(buggy(z, v))) > 1e-3 * np.linalg.norm(z) * np.linalg.norm(g)

    # The printed radial part of the bug at the fixed pair: -sigmoid((m - c) / tau) c / tau.
    z0, v0 = ns["z0"], ns["v0"]
    margin, tau = ns["MARGIN"], ns["TAU"]
    c = float(z0 @ v0 / (np.linalg.norm(z0) * np.linalg.norm(v0)))
    radial = -c / tau / (1 + math.exp(-(margin - c) / tau))
    assert f"buggy {radial:.6f}" in out


# ------------------------------------------------ the site's generated pages (docs/hooks)


def _hook():
    """docs/hooks/pages.py as a module (needs the docs extra: `make docs` installs it)."""
    pytest.importorskip("mkdocs")
    path = TUTORIALS.parent / "hooks" / "pages.py"
    spec = importlib.util.spec_from_file_location("docs_hook_pages", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rendered_text(markdown_text: str) -> str:
    """The text a reader sees of a Markdown page: rendered, tags stripped, spaces joined."""
    import markdown

    page = markdown.markdown(markdown_text, extensions=["tables", "admonition"])
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_percent_cells():
    source = (
        "# ---\n# jupyter:\n#   jupytext: {}\n# ---\n\n"
        "# %% [markdown]\n# # Title\n#\n# Some *text*.\n\n"
        "# %%\nx = 1  # a comment stays\n\n# %%\n\n# %% [markdown]\n# More.\n"
    )
    cells = _hook().percent_cells(source)
    assert cells == [
        ("markdown", "# Title\n\nSome *text*."),
        ("code", "x = 1  # a comment stays"),
        ("markdown", "More."),
    ]


def test_gallery_shows_every_figure_with_its_record_and_command():
    hook = _hook()
    figures = sorted((TUTORIALS.parents[1] / "figures").glob("fig*.png"))
    assert figures
    page = hook.gallery_markdown(hook.gallery_figures())
    text = _rendered_text(page)
    for png in figures:
        record = json.loads(png.with_suffix(".json").read_text(encoding="utf-8"))
        assert f"](gallery/{png.name})" in page
        assert " ".join(record["caption"].split()) in text, png.name
        _, items, command = hook._figure_source(png.stem)
        assert items, f"{png.name}: no THEORY.md item found in its docstrings"
        assert command, f"{png.name}: no command redraws it"
        if command.startswith("python "):
            assert (TUTORIALS.parents[1] / command.split()[1]).exists()
        assert f"Redraw: {command}" in text


def test_theory_page_shows_the_formulas_literally():
    text = _rendered_text(
        _hook().theory_markdown("N*^4 - D N*^2 = 0 and <N^2> x1.31; a *specific* word.\n")
    )
    assert text == "N*^4 - D N*^2 = 0 and <N^2> x1.31; a specific word."
