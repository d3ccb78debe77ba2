"""Provenance of what the package writes: the git revision and library versions.

Provenance only: nothing here changes a computed number, so the results cache's key
uses `normtheory.cache.code_identity`, never these.
"""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
from pathlib import Path

__all__ = ["git_revision", "version_of"]

_PACKAGE = Path(__file__).resolve().parent


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=_PACKAGE,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.cache
def git_revision() -> str | None:
    """HEAD of the repository holding this source, with "-dirty" for a modified tree.

    None when git or the repository is unavailable; never raises. Computed once per
    process. Provenance only: the cache key uses `code_identity`.
    """
    head = _git("rev-parse", "HEAD")
    if not head or not head.strip():
        return None
    status = _git("status", "--porcelain")
    return head.strip() + ("-dirty" if status and status.strip() else "")


def version_of(distribution: str) -> str | None:
    """The installed version of `distribution`, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
