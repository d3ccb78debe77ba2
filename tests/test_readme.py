"""Every Python block of README.md runs as written (the tracer's block is run, with its
numbers checked, by tests/test_tracer.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[tuple[str, str]]:
    """(section heading, code) of every ```python block, in order."""
    out, heading = [], ""
    for part in re.split(r"(^## .*$)", README.read_text(), flags=re.M):
        if part.startswith("## "):
            heading = part[3:].strip()
            continue
        out += [(heading, code) for code in re.findall(r"```python\n(.*?)```", part, re.S)]
    return out


BLOCKS = [b for b in _blocks() if b[0] != "Tracing your own model"]


@pytest.mark.end_to_end
@pytest.mark.parametrize(("heading", "code"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_a_readme_block_runs_as_written(heading, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path / "results"))
    namespace: dict = {"__name__": "readme"}
    exec(compile(code, f"README.md ({heading})", "exec"), namespace)


def test_every_section_with_code_is_covered():
    headings = {h for h, _ in _blocks()}
    assert {"The laws in code", "Testing your own loss", "Simulations"} <= headings
