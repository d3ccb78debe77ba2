"""A killed run resumes from its checkpoint and ends bit-identical to an unkilled one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from normtheory.config import SimConfig
from normtheory.runs import run

SETTINGS = {
    "num_items": 30,
    "dim": 4,
    "batch": 8,
    "steps": 400,
    "stride": 10,
    "dtype": "float64",
    "optimizer": "momentum",
    "weight_decay": 0.01,
}
CHUNK = 40  # ten chunks

SCRIPT = (
    textwrap.dedent(
        """
    import os, signal, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    from normtheory import checkpoint
    from normtheory.config import SimConfig
    from normtheory.runs import run

    mode, at, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    calls = {"n": 0}
    if mode == "kill":  # SIGKILL right after the at-th checkpoint reached the disk
        real_save = checkpoint.save

        def save(*args, **kwargs):
            real_save(*args, **kwargs)
            calls["n"] += 1
            if calls["n"] == at:
                os.kill(os.getpid(), signal.SIGKILL)

        checkpoint.save = save
    else:  # SIGTERM while chunk `at` runs, as a scheduler's time limit would send it
        real_due = checkpoint.Clock.due

        def due(self):
            calls["n"] += 1
            if calls["n"] == at:
                os.kill(os.getpid(), signal.SIGTERM)
            return False

        checkpoint.Clock.due = due
    try:
        run(SimConfig(**{settings}), seeds=2, directory=folder, progress=False, chunk={chunk},
            checkpoint_seconds=0.0)
    except checkpoint.RunInterrupted as stopped:
        print(stopped, file=sys.stderr)
        sys.exit(3)
    """
    )
    .replace("{settings}", repr(SETTINGS))
    .replace("{chunk}", str(CHUNK))
)


def _uninterrupted(folder: Path):
    jax.config.update("jax_enable_x64", True)
    traj, _, _ = run(SimConfig(**SETTINGS), seeds=2, directory=folder, progress=False)
    return traj


def _child(tmp_path: Path, mode: str, at: int) -> subprocess.CompletedProcess:
    script = tmp_path / "child.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), mode, str(at), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _compare_after_resume(tmp_path: Path) -> None:
    [checkpoint] = list((tmp_path / "cache").glob("*.checkpoint.npz"))
    resumed, _, cached = run(
        SimConfig(**SETTINGS), seeds=2, directory=tmp_path / "cache", progress=False
    )
    assert not cached and not checkpoint.exists()
    reference = _uninterrupted(tmp_path / "reference")
    for name, expected in reference.arrays().items():
        got = resumed.arrays()[name]
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        assert np.array_equal(got, expected, equal_nan=True), name


def test_sigkill_at_a_random_chunk_then_resume_is_bit_identical(tmp_path):
    at = random.Random(os.getpid()).randint(1, 8)
    done = _child(tmp_path, "kill", at)
    assert done.returncode == -signal.SIGKILL, done.stderr
    _compare_after_resume(tmp_path)


def test_sigterm_stops_cleanly_saying_what_was_saved_and_resumes(tmp_path):
    done = _child(tmp_path, "term", 4)
    assert done.returncode == 3, done.stderr
    [message] = [line for line in done.stderr.splitlines() if line.startswith("stopped at")]
    assert (
        "stopped at step 200 of 400" in message
    )  # the chunk in flight finishes and "checkpoint.npz" in message
    assert not list((tmp_path / "cache").glob(".*.tmp"))
    _compare_after_resume(tmp_path)


def test_a_checkpoint_of_another_run_is_ignored(tmp_path):
    from normtheory import checkpoint as ckpt
    from normtheory.engine import Checkpoint, simulate

    jax.config.update("jax_enable_x64", True)
    config = SimConfig(**SETTINGS)
    path = tmp_path / "x.checkpoint.npz"
    path.write_bytes(b"not a checkpoint")
    first = simulate(config, progress=False, checkpoint=Checkpoint(path, "tag-a", 0.0))
    assert ckpt.load(path, "tag-b", None) is None  # wrong tag: not resumed
    again = simulate(config, progress=False, checkpoint=Checkpoint(path, "tag-b", 0.0))
    np.testing.assert_array_equal(first.norm, again.norm)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
