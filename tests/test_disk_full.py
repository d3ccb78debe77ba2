"""Finished work is never lost at the last write, and a read-only archive still serves.

A full disk is simulated by making every write into the cache folder fail with ENOSPC
(the error a real full disk raises), so the tests need no privileges.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from normtheory import cache, checkpoint, cli, runs
from normtheory.cache import CacheLocationError
from normtheory.config import SimConfig
from normtheory.engine import simulate

TINY = SimConfig(num_items=10, dim=4, batch=8, steps=40, stride=10, dtype="float64")


@pytest.fixture(autouse=True)
def _x64():
    import jax

    jax.config.update("jax_enable_x64", True)


def _full(monkeypatch, *folders: Path) -> None:
    """Every atomic write into `folders` fails as on a full disk."""
    write = cache._atomic_write

    def full(path, body):
        if any(Path(path).parent == Path(f) for f in folders):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return write(path, body)

    monkeypatch.setattr(cache, "_atomic_write", full)


def test_a_result_the_cache_cannot_take_goes_to_the_fallback_folder(tmp_path, monkeypatch):
    folder, spare = tmp_path / "cache", tmp_path / "spare"
    monkeypatch.setattr(cache, "fallback_dir", lambda: spare)
    _full(monkeypatch, folder)
    said = []
    traj, path, cached = runs.run(TINY, directory=folder, progress=False, log=said.append)
    assert not cached and path is not None and path.parent == spare
    assert len(said) == 1 and "No space left" in said[0] and str(spare) in said[0]
    np.testing.assert_array_equal(traj.norm, simulate(TINY, progress=False).norm)
    # The fallback entry is a complete entry: moved into the cache folder, it is served.
    monkeypatch.undo()
    for name in (path.name, path.with_suffix(".json").name):
        (spare / name).rename(folder / name)
    again, _, cached = runs.run(TINY, directory=folder, progress=False)
    assert cached
    np.testing.assert_array_equal(again.norm, traj.norm)


def test_a_result_no_folder_can_take_is_still_returned(tmp_path, monkeypatch, capsys):
    folder, spare = tmp_path / "cache", tmp_path / "spare"
    spare.mkdir()
    monkeypatch.setattr(cache, "fallback_dir", lambda: spare)
    _full(monkeypatch, folder, spare)
    said = []
    traj, path, _ = runs.run(TINY, directory=folder, progress=False, log=said.append)
    assert path is None and "not saved" in said[0] and "\n" not in said[0]
    np.testing.assert_array_equal(traj.norm, simulate(TINY, progress=False).norm)
    # On the command line: a warning line, the summary, and no traceback.
    monkeypatch.setenv(cache.ENV_VAR, str(folder))
    argv = ["simulate", "frequency", "--set", "num_items=10", "--set", "steps=20",
            "--set", "batch=8", "--set", "dtype=float64", "--quiet"]  # fmt: skip
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "could not be saved" in captured.out and "Traceback" not in captured.err


def test_a_disk_without_room_for_the_result_is_refused_before_computing(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(
        shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**12, 10**12, 100)
    )
    monkeypatch.setattr(runs, "execute", lambda *a, **k: pytest.fail("computed"))
    with pytest.raises(CacheLocationError, match=r"has 100 B free") as info:
        runs.run(TINY, directory=tmp_path, progress=False)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_a_failed_periodic_checkpoint_is_skipped_and_the_run_finishes(tmp_path, monkeypatch):
    tries = []

    def no_room(path, *args):
        tries.append(path)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoint, "save", no_room)
    traj, path, _ = runs.run(
        TINY, directory=tmp_path, progress=False, chunk=10, checkpoint_seconds=0.0
    )
    assert tries and path is not None and path.exists()
    np.testing.assert_array_equal(traj.norm, simulate(TINY, progress=False).norm)


def test_a_read_only_archive_serves_its_entries(tmp_path, monkeypatch):
    runs.run(TINY, directory=tmp_path, progress=False)
    grid = {"lr": [0.1, 0.2]}
    for i in (0, 1):
        runs.run(TINY, grid=grid, shard=(i, 2), directory=tmp_path, progress=False)
    runs.merge(TINY, 1, grid, 2, directory=tmp_path)

    def read_only(directory, **kwargs):
        raise CacheLocationError(f"cache folder {directory} is not writable")

    monkeypatch.setattr(cache, "check_location", read_only)
    monkeypatch.setattr(cache, "_atomic_write", lambda *a: pytest.fail("wrote"))
    _, _, cached = runs.run(TINY, directory=tmp_path, progress=False)
    assert cached
    merged, path = runs.merge(TINY, 1, grid, 2, directory=tmp_path)
    assert path.exists() and merged.norm.shape[0] == 2
    # A miss in a read-only folder is still refused before computing.
    monkeypatch.setattr(runs, "execute", lambda *a, **k: pytest.fail("computed"))
    with pytest.raises(CacheLocationError, match="not writable"):
        runs.run(TINY.replace(seed=7), directory=tmp_path, progress=False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_serves_its_entries(tmp_path):
    runs.run(TINY, directory=tmp_path, progress=False)
    tmp_path.chmod(0o555)
    try:
        _, _, cached = runs.run(TINY, directory=tmp_path, progress=False)
    finally:
        tmp_path.chmod(0o755)
    assert cached
