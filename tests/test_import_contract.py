"""The import contract in pyproject.toml ([tool.importlinter]) catches what it forbids.

`make test` runs `lint-imports` on the package; here the same contracts run on a copy of
the package with one forbidden import planted per contract, two of them hidden inside
functions (the import graph sees those too), and every contract must report its plant.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import normtheory

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(normtheory.__file__).resolve().parent

# (module file, appended code, the import the report must name)
PLANTS = [
    (
        "laws/_symbols.py",
        "def _planted():\n    from normtheory.data.hierarchy import make_tree\n\n"
        "    return make_tree\n",
        "normtheory.laws._symbols -> normtheory.data.hierarchy",
    ),
    (
        "data/frequency.py",
        "from normtheory.problems import make_problem as _planted\n",
        "normtheory.data.frequency -> normtheory.problems",
    ),
    (
        "engine.py",
        "def _planted():\n    from normtheory import report\n\n    return report\n",
        "normtheory.engine -> normtheory.report",
    ),
    (
        "lexicon/wordnet.py",
        "def _planted():\n    from normtheory.data import hierarchy\n\n    return hierarchy\n",
        "normtheory.lexicon.wordnet -> normtheory.data.hierarchy",
    ),
    (
        "_step.py",
        "from normtheory.engine import simulate as _planted\n",
        "normtheory._step -> normtheory.engine",
    ),
]


def _lint(source_root: Path) -> subprocess.CompletedProcess:
    """lint-imports with the project's contracts on the package found under source_root."""
    env = {**os.environ, "PYTHONPATH": str(source_root), "COLUMNS": "400", "NO_COLOR": "1"}
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo"]
    command.append(str(ROOT / "pyproject.toml"))
    return subprocess.run(
        command, cwd=source_root, env=env, capture_output=True, text=True, timeout=120
    )


def test_every_contract_reports_its_planted_import(tmp_path):
    copy = tmp_path / "normtheory"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    clean = _lint(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    for relative, code, _ in PLANTS:
        with open(copy / relative, "a") as handle:
            handle.write("\n\n" + code)
    planted = _lint(tmp_path)
    report = planted.stdout + planted.stderr
    assert planted.returncode == 1, report
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    names = [contract["name"] for contract in contracts["contracts"]]
    for name in names:
        assert f"{name} BROKEN" in report, (name, report)
    for _, _, edge in PLANTS:
        assert edge in report, (edge, report)
