"""The figure helpers: deterministic PNG and PDF at a paper's width, fonts of 7 pt or more,
the JSON record beside them, the report's use of it.

Each figure script is run at its tiny size in test_figure_records.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from normtheory import figures


def _small_figure(figsize=(5.0, 3.5)) -> plt.Figure:
    """A figure with a legend, math text, and a title and tick labels set below 7 pt."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.plot([0, 1, 2], [1, 3, 2], "o-", label=r"simulation, $\rho$ = 0.3")
    figures.legend_note(ax, "median rel. error 0.4%")
    ax.legend()
    ax.set_title("a title set at 5 pt", fontsize=5)
    ax.tick_params(labelsize=4)
    return fig


def _pdf_width(pdf: bytes) -> float:
    """The page width of a one-page PDF, in inches (its MediaBox)."""
    box = re.search(rb"/MediaBox \[ *([-\d.]+) +([-\d.]+) +([-\d.]+) +([-\d.]+) *\]", pdf)
    return (float(box[3]) - float(box[1])) / 72


def test_save_writes_png_and_pdf_byte_identical_at_paper_size(tmp_path: Path) -> None:
    drawn, files = [], []
    for run in ("first", "second"):
        with figures.style():
            fig = _small_figure()
            path = figures.save(
                fig, tmp_path / run / "fig.png", caption="c", measured={"x": 0.004}, width="column"
            )
        drawn.append(fig)
        files.append((path.read_bytes(), path.with_suffix(".pdf").read_bytes()))
    (png, pdf), (png_again, pdf_again) = files
    assert png == png_again and pdf == pdf_again  # a rerun writes the same bytes
    assert png.startswith(b"\x89PNG") and pdf.startswith(b"%PDF-")
    for stamp in (b"tIME", b"Software", b"Matplotlib"):  # no date or software tag
        assert stamp not in png
    for stamp in (b"CreationDate", b"ModDate", b"Matplotlib"):
        assert stamp not in pdf
    assert b"/FontFile2" in pdf and b"/Subtype /Type3" not in pdf  # TrueType, not Type 3
    # Drawn 5 in wide and saved at one column (3.3 in): at most that wide, not much less.
    assert 0.85 * figures.WIDTHS["column"] <= _pdf_width(pdf) <= figures.WIDTHS["column"]
    with Image.open(tmp_path / "first" / "fig.png") as image:
        width_px = image.size[0]
    assert width_px == pytest.approx(_pdf_width(pdf) * figures.DPI, abs=2)
    # Every text the figure draws, tick labels included, is at least 7 pt.
    smallest = figures.smallest_font(drawn[0])
    assert smallest >= 7
    assert min(t.get_fontsize() for t in figures.texts(drawn[0])) == smallest
    sizes = {t.get_text(): t.get_fontsize() for t in figures.texts(drawn[0])}
    assert sizes["a title set at 5 pt"] == 7  # raised to the minimum, no further
    assert figures.read_record(tmp_path / "first" / "fig.png")["measured"] == {"x": 0.004}


@pytest.mark.parametrize(("width", "figsize"), [("column", (6.0, 4.0)), ("full", (3.0, 2.0))])
def test_a_named_width_sets_the_printed_width(tmp_path: Path, width, figsize) -> None:
    with figures.style():
        fig = _small_figure(figsize)
        path = figures.save(fig, tmp_path / "fig.png", width=width)
    printed = _pdf_width(path.with_suffix(".pdf").read_bytes())
    assert 0.8 * figures.WIDTHS[width] <= printed <= figures.WIDTHS[width] + 0.01
    assert figures.smallest_font(fig) >= 7


def test_the_style_prints_no_text_below_7_points(tmp_path: Path) -> None:
    with figures.style():
        fig, axes = figures.subplots(2, 2, width="column")
        for ax in axes.flat:
            ax.plot([0, 1], [0, 1], label="a line")
            ax.set(title="title", xlabel="x", ylabel="y")
            ax.legend()
        fig.suptitle("suptitle")
        assert fig.get_figwidth() == figures.WIDTHS["column"]
        assert figures.smallest_font(fig) >= 7  # the style sheet alone, before `save`
        figures.save(fig, tmp_path / "fig.png")


def test_a_bad_width_or_path_is_refused_in_one_line(tmp_path: Path) -> None:
    with figures.style():
        fig, _ = plt.subplots()
        with pytest.raises(ValueError, match="width must be one of 'column', 'full', got 'half'"):
            figures.save(fig, tmp_path / "fig.png", width="half")
        with pytest.raises(ValueError, match=r"must end in \.png"):
            figures.save(fig, tmp_path / "fig.pdf")
        plt.close(fig)
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_blank_figure_fails_the_smoke_check(tmp_path: Path) -> None:
    with figures.style():
        fig, _ = plt.subplots()
        fig.axes[0].axis("off")
        path = figures.save(fig, tmp_path / "blank.png")
    pixels = plt.imread(path)[..., :3]
    assert not (pixels.std() > 0.05 and np.mean(pixels.min(axis=-1) < 0.5) > 0.005)


def test_the_report_quotes_the_figure_record_not_the_image(tmp_path: Path) -> None:
    from normtheory.report import _figures

    with figures.style():
        fig, ax = plt.subplots()
        ax.set_title("SGD: fitted slope 0.25")  # text on the image is not read back
        figures.save(
            fig,
            tmp_path / "fig1_demo.png",
            caption="fitted slope 0.251 (predicted 1/4)",
            measured={"slope": 0.251, "nan": float("nan")},
            summary="\n  Figure 1: a demo of the slope.\n\n  More lines the report does not quote.",
        )
    record = figures.read_record(tmp_path / "fig1_demo.png")
    assert record == {
        "figure": "fig1_demo.png",
        "caption": "fitted slope 0.251 (predicted 1/4)",
        "measured": {"slope": 0.251, "nan": None},
        "summary": "Figure 1: a demo of the slope.",
    }
    with figures.style():
        fig, _ = plt.subplots()
        figures.save(fig, tmp_path / "fig10_plain.png")  # no caption: no record
    assert figures.read_record(tmp_path / "fig10_plain.png") is None
    lines = _figures(tmp_path)
    assert lines[0] == (
        "- [fig1_demo.png](fig1_demo.png): Figure 1: a demo of the slope. "
        "Measured: fitted slope 0.251 (predicted 1/4)."
    )
    assert lines[1].startswith("- [fig10_plain.png]")  # numeric order, not text order
    assert "Measured" not in lines[1]


def _capture(monkeypatch) -> list:
    """Keep each figure `figures.save` writes, for inspection after it is closed."""
    drawn, save = [], figures.save

    def keep(fig, path, *args, **kwargs):
        drawn.append(fig)
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(figures, "save", keep)
    return drawn


def test_probe_figure_shows_the_frames_and_writes_its_record(tmp_path: Path, monkeypatch) -> None:
    from normtheory.probe.figure import draw
    from normtheory.probe.run import ProbeResult

    record = {
        "model": "a model",
        "vocabulary": {"size": 200},
        "skipped": {},
        "correlations": [
            {
                "name": "norm ~ log frequency",
                "controls": [],
                "n": 200,
                "rho": -0.3,
                "lo": -0.4,
                "hi": -0.2,
            },
            {
                "name": "norm ~ depth",
                "controls": ["log frequency"],
                "n": 200,
                "rho": 0.1,
                "lo": 0.02,
                "hi": 0.18,
            },
        ],
        "sign_test": {
            "pairs": 50,
            "frames": [
                {"frame": f, "n": 50, "fraction": 0.6 + 0.01 * i, "p": 0.01}
                for i, f in enumerate(["{w}", "a {w}", "It costs $5, a {w}."])
            ],
        },
        "retrieval": {
            "n_queries": 200,
            "accuracy": 0.4,
            "scores": [
                {
                    "score": s,
                    "auroc": 0.6,
                    "auroc_lo": 0.55,
                    "auroc_hi": 0.65,
                    "bins": {
                        "edges": list(np.linspace(0, 1, 6)),
                        "accuracy": [0.2, None, 0.4, 0.5, 0.6],
                        "score_min": 4.0,
                        "score_max": 9.0,
                    },
                }
                for s in ("norm", "top1_cosine")
            ],
        },
    }
    rng = np.random.default_rng(0)
    norm = rng.normal(7, 1, 200)
    result = ProbeResult(
        record=record,
        words=tuple(f"w{i}" for i in range(200)),
        norm=norm,
        log_frequency=rng.normal(4, 1, 200),
        depth=rng.integers(2, 8, 200),
        scores={"norm": norm, "top1_cosine": rng.normal(size=200)},
        correct=rng.random(200) < 0.4,
    )
    drawn = _capture(monkeypatch)
    path = draw(result, tmp_path)
    (fig,) = drawn
    frames_axis = fig.axes[2]
    labels = [t.get_text() for t in frames_axis.get_xticklabels()]
    assert labels[0] == '"{w}"' and "a {w}" in labels[1]  # braces kept
    assert r"\$5" in labels[2]  # a dollar sign is escaped, not read as math text
    fig.canvas.draw()  # the labels render (a stray $ would raise here)
    assert all(t.get_bbox_patch() is None for ax in fig.axes for t in ax.texts)  # no boxes
    written = figures.read_record(path)
    assert written["measured"]["rho_norm_vs_log_frequency"] == -0.3
    assert "0.60 to 0.62 of 50 pairs" in written["caption"]


def test_one_slope_fitter_least_squares_with_its_standard_error() -> None:
    from normtheory.verify._common import fit_slope

    rng = np.random.default_rng(1)
    x = rng.normal(size=50)
    y = 0.25 * x + 1.0 + 0.1 * rng.normal(size=50)
    slope, se = fit_slope(x, y)
    xc = x - x.mean()
    expected = np.sum(xc * (y - y.mean())) / np.sum(xc**2)
    resid = y - y.mean() - expected * xc
    assert slope == pytest.approx(expected, rel=1e-12)
    assert se == pytest.approx(np.sqrt(np.sum(resid**2) / 48 / np.sum(xc**2)), rel=1e-10)
    assert fit_slope([0.0, 1.0], [0.0, 2.0]) == (2.0, 0.0)  # two points: exact, no error


def test_per_level_averages_items_then_seeds():
    from normtheory.figures import per_level

    values = np.array([[1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0]])  # (seeds, items)
    levels, mean, sd = per_level(values, np.array([1, 0, 0, 1]))
    np.testing.assert_array_equal(levels, [0, 1])
    np.testing.assert_allclose(mean, [3.5, 3.5])  # seed means: (2.5, 2.5) and (4.5, 4.5)
    np.testing.assert_allclose(sd, [1.0, 1.0])


def test_a_figure_without_a_paper_width_keeps_its_own_size(tmp_path: Path) -> None:
    # A wide multi-panel figure is not squeezed to a page (its panels would overlap);
    # it still gets its PDF and the 7 pt floor.
    with figures.style():
        fig = _small_figure((12.0, 4.0))
        path = figures.save(fig, tmp_path / "wide.png")
    assert _pdf_width(path.with_suffix(".pdf").read_bytes()) > figures.WIDTHS["full"] + 1
    assert figures.smallest_font(fig) >= 7
