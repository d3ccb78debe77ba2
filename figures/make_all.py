"""Run every figure script's main at full size into figures/; print each path and wall time."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> list[Path]:
    """The figure scripts figures/fig*.py, in name order."""
    return sorted(HERE.glob("fig*.py"))


def load(path: Path):
    """Import a figure script as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    """Draw every figure, timing each."""
    start = time.perf_counter()
    for path in scripts():
        tic = time.perf_counter()
        record = load(path).main(HERE)
        print(f"{record.path}  ({time.perf_counter() - tic:.1f} s)", flush=True)
    print(f"all figures in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
