"""The cache never serves older code's results, never loses or deletes work, and
respects the umask; its location is checked before anything is computed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from normtheory import _files, cache, runs
from normtheory.cache import CacheLocationError
from normtheory.config import SimConfig

TINY = SimConfig(num_items=20, dim=4, batch=8, steps=20, stride=5, dtype="float64")
ARRAYS = {"x": np.arange(6.0).reshape(2, 3)}
META = {"config": {"n": 1}}


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the package sources that code_identity hashes instead of the real one."""
    copy = tmp_path / "normtheory"
    shutil.copytree(cache._PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "_PACKAGE", copy)
    cache.code_identity.cache_clear()
    yield copy
    monkeypatch.undo()
    cache.code_identity.cache_clear()


def _touch(path: Path) -> None:
    with path.open("a") as f:
        f.write("\n# an edit\n")
    cache.code_identity.cache_clear()


def test_the_identity_follows_what_a_simulation_imports_and_nothing_else(package_copy):
    engine = cache.code_identity()
    verify = cache.code_identity("verify", "laws")
    # Presentation, the command line, a figure's helper: no simulation imports them.
    for name in ("report.py", "cli/simulate.py", "calibrate/figure.py", "bridge/figure.py"):
        _touch(package_copy / name)
    assert (cache.code_identity(), cache.code_identity("verify", "laws")) == (engine, verify)
    # A law the engine never imports changes verify's identity only.
    _touch(package_copy / "laws" / "adamw.py")
    assert cache.code_identity() == engine
    assert cache.code_identity("verify", "laws") != verify
    # So does a new law module, registered and imported by name.
    (package_copy / "laws" / "brand_new.py").write_text("X = 1\n")
    cache.code_identity.cache_clear()
    assert cache.code_identity() == engine
    # A module the engine imports only inside a function counts as much as one at the top.
    _touch(package_copy / "_step.py")
    assert cache.code_identity() != engine
    engine = cache.code_identity()
    _touch(package_copy / "laws" / "budget.py")  # the engine's trace imports this law
    assert cache.code_identity() != engine
    # A verify edit changes verify's identity and not the simulation's.
    engine, verify = cache.code_identity(), cache.code_identity("verify", "laws")
    _touch(package_copy / "verify" / "exact.py")
    assert cache.code_identity() == engine
    assert cache.code_identity("verify", "laws") != verify
    assert cache.config_key({"a": 1}) == cache.config_key({"a": 1}, engine)


def test_a_function_level_import_is_followed_and_a_type_checking_one_is_not(package_copy):
    before = cache.code_identity()
    (package_copy / "extra_lazy.py").write_text("Y = 2\n")
    (package_copy / "extra_typing.py").write_text("Z = 3\n")
    with (package_copy / "engine.py").open("a") as f:
        f.write(
            "\nif TYPE_CHECKING:\n    from normtheory import extra_typing\n"
            "\ndef _late():\n    from normtheory import extra_lazy\n    return extra_lazy\n"
        )
    cache.code_identity.cache_clear()
    with_lazy = cache.code_identity()
    assert with_lazy != before
    _touch(package_copy / "extra_lazy.py")
    assert cache.code_identity() != with_lazy
    with_lazy = cache.code_identity()
    _touch(package_copy / "extra_typing.py")
    assert cache.code_identity() == with_lazy


def test_an_unknown_root_is_refused(package_copy):
    with pytest.raises(ValueError, match="no module or folder 'nowhere'"):
        cache.code_identity("nowhere")


def test_the_calibration_keys_on_its_retrieval_code_and_not_on_its_presentation(package_copy):
    from normtheory.calibrate import run as calibration

    # The module keys its arrays on its own file (CODE is computed when it is imported).
    source = Path(calibration.__file__)
    assert source.relative_to(source.parents[1]).as_posix() == "calibrate/run.py"
    engine, calibrate = cache.code_identity(), cache.code_identity("calibrate/run.py")
    assert calibrate != engine
    for name in ("figure.py", "table.py"):
        _touch(package_copy / "calibrate" / name)
    assert (cache.code_identity(), cache.code_identity("calibrate/run.py")) == (engine, calibrate)
    _touch(package_copy / "calibrate" / "run.py")
    assert cache.code_identity() == engine
    assert cache.code_identity("calibrate/run.py") != calibrate
    _touch(package_copy / "engine.py")
    assert cache.code_identity() != engine


def test_a_run_recomputes_after_an_engine_change_and_not_after_a_chunk_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    first, path, cached = runs.run(TINY, directory=tmp_path, progress=False, chunk=20)
    assert not cached
    again, path2, cached = runs.run(TINY, directory=tmp_path, progress=False, chunk=5)
    assert cached and path2 == path
    np.testing.assert_array_equal(again.norm, first.norm)
    monkeypatch.setattr(cache, "code_identity", lambda *extra: "0123456789abcdef")
    _, path3, cached = runs.run(TINY, directory=tmp_path, progress=False)
    assert not cached and path3 != path


def _refuses_before_computing(directory: Path, monkeypatch: pytest.MonkeyPatch, match: str):
    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated although the cache location is unusable")

    monkeypatch.setattr(runs, "execute", no_simulation)
    with pytest.raises(CacheLocationError, match=match) as info:
        runs.run(TINY, directory=directory, progress=False)
    message = str(info.value)
    assert "\n" not in message and cache.ENV_VAR in message and str(directory) in message


def test_a_file_as_cache_location_is_refused_before_computing(tmp_path, monkeypatch):
    target = tmp_path / "file"
    target.write_text("not a folder")
    _refuses_before_computing(target, monkeypatch, "is not a folder")


def test_an_impossible_cache_location_is_refused_before_computing(tmp_path, monkeypatch):
    _refuses_before_computing(Path("/proc/normtheory"), monkeypatch, "cannot create")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_is_refused_before_computing(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        _refuses_before_computing(folder, monkeypatch, "not writable")
    finally:
        folder.chmod(0o755)


def test_the_cache_location_is_checked_by_the_command_line(tmp_path, capsys, monkeypatch):
    from normtheory import cli

    target = tmp_path / "file"
    target.write_text("")
    monkeypatch.setenv(cache.ENV_VAR, str(target))
    argv = ["simulate", "frequency", "--set", "steps=10", "--set", "num_items=10", "--quiet"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and cache.ENV_VAR in err and "not a folder" in err


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
def test_written_files_respect_the_umask(tmp_path, mask):
    old = os.umask(mask)
    _files._umask.cache_clear()
    try:
        npz = cache.save(tmp_path, "k", ARRAYS, META)
        text = _files.write_text(tmp_path / "report.md", "hello\n")
    finally:
        os.umask(old)
        _files._umask.cache_clear()
    for path in (npz, npz.with_suffix(".json"), text):
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path


def test_an_unreadable_entry_stops_the_run_and_is_not_deleted(tmp_path, monkeypatch):
    npz = cache.save(tmp_path, "k", ARRAYS, META)
    real = Path.read_bytes

    def denied(self):
        if self == npz:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(CacheLocationError, match="cannot read cache entry"):
        cache.load_or_compute(tmp_path, "k", lambda: pytest.fail("recomputed"))
    monkeypatch.undo()
    assert cache.load(tmp_path, "k") is not None


def test_a_corrupt_entry_is_reported_on_stderr_and_replaced(tmp_path, capsys):
    npz = cache.save(tmp_path, "k", ARRAYS, META)
    npz.write_bytes(npz.read_bytes()[:50])
    entry = cache.load_or_compute(tmp_path, "k", lambda: (ARRAYS, META))
    captured = capsys.readouterr()
    assert "corrupt cache entry" in captured.err and captured.out == ""
    assert not entry.from_cache and cache.load(tmp_path, "k") is not None


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    pid = _dead_pid()
    host, space = _files.writer_tag().split("~")[:2]
    stale = tmp_path / f".k.npz.{host}~{space}~{pid}~0000.tmp"
    live = tmp_path / f".k.npz.{host}~{space}~{os.getpid()}~0000.tmp"
    stale.write_bytes(b"partial")
    live.write_bytes(b"partial")
    cache.save(tmp_path, "other", ARRAYS, META)
    assert not stale.exists() and live.exists()


def test_temporaries_of_a_writer_in_another_pid_namespace_are_kept(tmp_path):
    # Same host name, another PID namespace (a container with host networking): its
    # PID means nothing here, so a dead-looking PID must not get its file deleted.
    pid = _dead_pid()
    host, space = _files.writer_tag().split("~")[:2]
    other = "0" * 8 if space != "0" * 8 else "1" * 8
    foreign = tmp_path / f".k.npz.{host}~{other}~{pid}~0000.tmp"
    legacy = tmp_path / f".j.npz.{host}~{pid}~0000.tmp"
    foreign.write_bytes(b"partial")
    legacy.write_bytes(b"partial")
    cache.save(tmp_path, "other", ARRAYS, META)
    assert foreign.exists() and legacy.exists()


def test_temporaries_older_than_a_day_are_removed_whoever_wrote_them(tmp_path):
    host, space = _files.writer_tag().split("~")[:2]
    old = tmp_path / f".k.npz.{host}~{space}~{os.getpid()}~0000.tmp"
    foreign = tmp_path / ".j.npz.elsewhere~00000000~1~0000.tmp"
    for path in (old, foreign):
        path.write_bytes(b"partial")
        two_days = time.time() - 2 * 24 * 3600
        os.utime(path, (two_days, two_days))
    cache.save(tmp_path, "other", ARRAYS, META)
    assert not old.exists() and not foreign.exists()


HAMMER = textwrap.dedent(
    """
    import sys, pathlib
    import numpy as np
    from normtheory import cache
    role, folder, rounds = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
    arrays = {"x": np.arange(200_000, dtype=np.float64)}
    if role.startswith("writer"):
        for i in range(rounds):
            cache.save(folder, "shared", arrays, {"config": {"n": 1}})
        (folder / f"{role}.done").write_text("")
    else:  # read until both writers are done, and a few rounds more
        seen = extra = 0
        while extra < 20:
            entry = cache.load(folder, "shared")
            if entry is not None:
                assert np.array_equal(entry.arrays["x"], arrays["x"])
                seen += 1
            if len(list(folder.glob("*.done"))) == 2:
                extra += 1
        print(seen)
    """
)


def test_two_processes_hammering_one_key_never_break_or_delete_it(tmp_path):
    script = tmp_path / "hammer.py"
    script.write_text(HAMMER)
    folder = tmp_path / "cache"
    folder.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), role, str(folder), rounds],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role, rounds in (("writer1", "40"), ("reader", "0"), ("writer2", "40"))
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    assert int(outputs[1][0]) > 0  # the reader did see complete entries
    entry = cache.load(folder, "shared")
    assert entry is not None and entry.arrays["x"].shape == (200_000,)
    assert not list(folder.glob(".*.tmp"))
