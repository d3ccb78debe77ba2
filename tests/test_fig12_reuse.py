"""Figure 12 keeps a full validation of the same cells by the same code, and nothing else."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "figures" / "fig12_validity_maps.py"


@pytest.fixture(scope="module")
def fig12():
    spec = importlib.util.spec_from_file_location("fig12_validity_maps", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Map:
    def __init__(self, cells):
        self.cells = cells

    def to_json(self):
        return {"law": "x", "cells": self.cells}


def _write(path: Path, validation="full", code="abc", cells=(1.0, math.nan), claims=()):
    record = {
        "validation": validation,
        "code": code,
        "maps": {"m": _Map(list(cells)).to_json()},
        "claims": list(claims),
    }
    path.write_text(json.dumps(record))
    return path


def test_a_full_validation_of_these_cells_by_this_code_is_kept(fig12, tmp_path: Path):
    path = _write(tmp_path / "maps.json")
    assert fig12.reusable(path, {"m": _Map([1.0, math.nan])}, "abc") == []


@pytest.mark.parametrize(
    "change",
    [
        {"validation": "reduced"},
        {"code": "other"},
        {"cells": (1.0, 2.0)},
    ],
)
def test_anything_else_is_validated_again(fig12, tmp_path: Path, change):
    path = _write(tmp_path / "maps.json", **change)
    assert fig12.reusable(path, {"m": _Map([1.0, math.nan])}, "abc") is None


def test_a_missing_or_broken_record_is_validated_again(fig12, tmp_path: Path):
    data = {"m": _Map([1.0])}
    assert fig12.reusable(tmp_path / "none.json", data, "abc") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert fig12.reusable(tmp_path / "bad.json", data, "abc") is None


def test_kept_claims_are_read_back_as_claims(fig12, tmp_path: Path):
    recorded = json.loads((SCRIPT.parent / "maps.json").read_text())["claims"][:2]
    path = _write(tmp_path / "maps.json", claims=recorded)
    kept = fig12.reusable(path, {"m": _Map([1.0, math.nan])}, "abc")
    assert [c.to_json() for c in kept] == recorded
