"""MkDocs hook: the pages of the site that are generated from the repository's own files.

- `theory.md` from THEORY.md (the single source of the theory statement);
- `tutorials/NAME.md` from each jupytext "percent" script docs/tutorials/NAME.py (markdown
  cells as text, code cells as fenced Python blocks; nothing is executed here, the test
  suite runs the scripts), listed under "Tutorials" in the navigation;
- `gallery.md` from the figure records figures/fig*.json beside figures/fig*.png: each
  figure with its caption, the docstring of the script or module that draws it, the
  THEORY.md items it tests, its record and the command that redraws it; the images
  and records are copied into the site;
- `api/analysis.md` when the package has a `normtheory.analysis` module.

Registered in mkdocs.yml under `hooks:`; `make docs` runs `mkdocs build --strict`.
"""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"
FIGURES = ROOT / "figures"
PACKAGE = ROOT / "src" / "normtheory"

# Tutorials in reading order; any other script in docs/tutorials/ follows, by name.
TUTORIAL_ORDER = ("verify_a_law", "trace_your_model", "test_your_loss")

# Figures drawn by a command of the package rather than by a figures/figN_*.py script:
# figure number -> (the module that draws it, relative to src/, and the command).
COMMAND_FIGURES = {
    9: ("normtheory/calibrate/figure.py", "normtheory calibrate --out figures"),
    10: ("normtheory/probe/figure.py", "make probe"),
    13: ("normtheory/bridge/figure.py", "make bridge"),
}

_ITEMS = re.compile(
    r"THEORY\.md[^.]*?\b(items?\s+[0-9][0-9a-z]*(?:\s*(?:-|,|and)\s*[0-9][0-9a-z]*)*)"
)
_EMPHASIS = re.compile(r"(?<![\w*])\*\w(?:[^*\n]*?\w)?\*(?!\w)")
_CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?\1")


# ----------------------------------------------------------------------------- helpers


def _docstring(path: Path) -> str:
    """The module docstring of the Python file `path` ("" if it has none)."""
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def _plain(text: str) -> str:
    """Plain text (a docstring, a caption) as Markdown that renders it literally."""
    text = html.escape(text, quote=False)
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", text)


def _paragraphs(text: str) -> str:
    """A docstring's paragraphs, each as literal Markdown text."""
    blocks = [" ".join(b.split()) for b in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(_plain(b) for b in blocks if b)


def _literal_formulas(text: str) -> str:
    """`text` (no code spans) with `<` and every `*` that is not emphasis made literal."""
    kept, emphasis = _EMPHASIS.split(text), _EMPHASIS.findall(text)
    fixed = [p.replace("<", "&lt;").replace("*", r"\*") for p in kept]
    return fixed[0] + "".join(e + f for e, f in zip(emphasis, fixed[1:], strict=True))


def theory_markdown(text: str) -> str:
    """THEORY.md as a page: as written, with the two characters it uses in formulas made
    literal (`<N^2>` would read as an HTML tag and `N*^4 ... N*^2` as emphasis); words
    in `*emphasis*` and code spans are left alone."""
    out, last = [], 0
    for span in _CODE_SPAN.finditer(text):
        out += [_literal_formulas(text[last : span.start()]), span.group(0)]
        last = span.end()
    out.append(_literal_formulas(text[last:]))
    return "".join(out)


def _figure_number(stem: str) -> int | None:
    match = re.match(r"fig(\d+)_", stem)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- tutorials


def tutorial_scripts() -> list[Path]:
    """The tutorial scripts docs/tutorials/*.py in reading order."""
    found = {p.stem: p for p in TUTORIALS.glob("*.py") if not p.name.startswith("_")}
    ordered = [found.pop(s) for s in TUTORIAL_ORDER if s in found]
    return ordered + [found[s] for s in sorted(found)]


def percent_cells(source: str) -> list[tuple[str, str]]:
    """The cells of a jupytext "percent" script as (kind, text), kind "markdown" or "code".

    A cell starts at a line `# %%` (code) or `# %% [markdown]` (markdown; its lines lose
    their leading `# ` or `#`). Lines before the first marker form a code cell, except a
    jupytext header (a comment block between `# ---` lines), which is dropped. Empty cells
    are left out.
    """
    lines = source.splitlines()
    if lines and lines[0].strip() == "# ---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "# ---"), None)
        if end is not None:
            lines = lines[end + 1 :]
    cells: list[tuple[str, list[str]]] = [("code", [])]
    for line in lines:
        marker = re.match(r"#\s*%%(.*)$", line)
        if marker:
            kind = "markdown" if "[markdown]" in marker.group(1) else "code"
            cells.append((kind, []))
            continue
        if cells[-1][0] == "markdown":
            line = re.sub(r"^#( |$)", "", line)
        cells[-1][1].append(line)
    out = []
    for kind, body in cells:
        text = "\n".join(body).strip("\n")
        if text.strip():
            out.append((kind, text))
    return out


def tutorial_markdown(path: Path) -> str:
    """The page of one tutorial script: its cells, then a link to the script itself."""
    parts = []
    for kind, text in percent_cells(path.read_text(encoding="utf-8")):
        parts.append(text if kind == "markdown" else f"```python\n{text}\n```")
    parts.append(
        f"This page is the script [`docs/tutorials/{path.name}`]({path.name}) "
        f"(jupytext percent format; the test suite runs it). Run it with "
        f"`python docs/tutorials/{path.name}`, or open it as a notebook with jupytext."
    )
    return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- gallery


def _figure_source(stem: str) -> tuple[str, str, str]:
    """(docstring of what draws the figure, THEORY.md items, command that redraws it)."""
    script = FIGURES / f"{stem}.py"
    number = _figure_number(stem)
    if script.exists():
        doc = _docstring(script)
        command = f"python figures/{stem}.py"
        sources = [doc]
    elif number in COMMAND_FIGURES:
        module, command = COMMAND_FIGURES[number]
        module_path = ROOT / "src" / module
        doc = _docstring(module_path)
        sources = [doc, _docstring(module_path.parent / "__init__.py")]
    else:
        return "", "", ""
    items = next((m.group(1) for s in sources if (m := _ITEMS.search(s))), "")
    return doc, items, command


def gallery_markdown(figures: list[Path]) -> str:
    """The gallery page for the PNGs `figures` (each with its record beside it)."""
    lines = [
        "# Figure gallery",
        "",
        "Every figure of `figures/`, drawn from its record: the caption and the measured "
        "numbers below are read from the JSON record written beside the image when the "
        "figure was drawn (`normtheory.figures.finish`), and the description from the "
        "docstring of the script or module that draws it. `make reproduce` redraws the "
        "theory figures and figure 9; `make probe` and `make bridge` redraw figures 10 "
        "and 13.",
        "",
    ]
    for png in figures:
        stem = png.stem
        record_path = png.with_suffix(".json")
        record: dict[str, Any] = {}
        if record_path.exists():
            record = json.loads(record_path.read_text(encoding="utf-8"))
        doc, items, command = _figure_source(stem)
        title = doc.splitlines()[0] if doc else stem
        lines += [f"## {_plain(title)}", "", f"![{stem}](gallery/{png.name})", ""]
        if record.get("caption"):
            lines += [f"**Measured.** {_plain(record['caption'])}", ""]
        body = doc.split("\n", 1)[1] if "\n" in doc else ""
        if body.strip():
            lines += [_paragraphs(body), ""]
        facts = []
        if items:
            facts.append(f"Tests THEORY.md {_plain(items)} ([Theory](theory.md)).")
        if record_path.exists():
            facts.append(f"Record: [`figures/{record_path.name}`](gallery/{record_path.name}).")
        else:
            facts.append("Record: none beside the image (`figures/` lacks its JSON).")
        pdf = png.with_suffix(".pdf")
        if pdf.exists():
            facts.append(f"Vector version: [`figures/{pdf.name}`](gallery/{pdf.name}).")
        if command:
            facts.append(f"Redraw: `{command}`.")
        lines += ["- " + f for f in facts] + [""]
        measured = record.get("measured") or {}
        if measured:
            lines += [
                '??? note "Measured numbers in the record"',
                "",
                "    | name | value |",
                "    |---|---|",
            ]
            for name, value in measured.items():
                shown = "null" if value is None else f"{value:.6g}"
                lines.append(f"    | `{name}` | {shown} |")
            lines.append("")
    return "\n".join(lines) + "\n"


def gallery_figures() -> list[Path]:
    """figures/fig*.png in figure order (fig1, fig2, ..., fig14; variants by name)."""
    return sorted(FIGURES.glob("fig*.png"), key=lambda p: (_figure_number(p.stem) or 0, p.stem))


# ------------------------------------------------------------------------------- hooks


def _has_analysis() -> bool:
    return (PACKAGE / "analysis.py").exists() or (PACKAGE / "analysis" / "__init__.py").exists()


def _section(nav: list, title: str) -> list | None:
    for entry in nav:
        if isinstance(entry, dict) and title in entry:
            if entry[title] is None:
                entry[title] = []
            return entry[title]
    return None


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Fill the "Tutorials" section of the navigation; add the analysis API page."""
    nav = config.nav or []
    tutorials = _section(nav, "Tutorials")
    if tutorials is not None:
        tutorials[:] = [f"tutorials/{p.stem}.md" for p in tutorial_scripts()]
    api = _section(nav, "API reference")
    if api is not None and _has_analysis() and "api/analysis.md" not in api:
        api.append("api/analysis.md")
    return config


ANALYSIS_ROW = (
    "| `normtheory.analysis` | what a run's norms encode: imprint slopes, budget shares, "
    "a law check and plots, on named experiments and traced runs alike "
    "| [Analysis](analysis.md) |"
)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """On the API index, the analysis row of the table where the module exists."""
    if page.file.src_uri != "api/index.md":
        return markdown
    row = ANALYSIS_ROW if _has_analysis() else ""
    return re.sub(r"^<!-- analysis row:.*-->$", row, markdown, flags=re.M)


def _add(files: Files, config: MkDocsConfig, uri: str, **source: Any) -> None:
    old = files.get_file_from_path(uri)
    if old is not None:
        files.remove(old)
    files.append(File.generated(config, uri, **source))


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages and copy the figures and their records into the site."""
    theory = (ROOT / "THEORY.md").read_text(encoding="utf-8")
    _add(files, config, "theory.md", content=theory_markdown(theory))
    for script in tutorial_scripts():
        _add(files, config, f"tutorials/{script.stem}.md", content=tutorial_markdown(script))
    figures = gallery_figures()
    _add(files, config, "gallery.md", content=gallery_markdown(figures))
    for png in figures:
        for path in (png, png.with_suffix(".json"), png.with_suffix(".pdf")):
            if path.exists():
                _add(files, config, f"gallery/{path.name}", abs_src_path=str(path))
    if _has_analysis():
        _add(
            files,
            config,
            "api/analysis.md",
            content="# Analysis\n\n::: normtheory.analysis\n",
        )
    return files
