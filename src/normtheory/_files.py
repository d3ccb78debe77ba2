"""Atomic file writes: a reader sees the old file or the new one, never half of one.

`atomic_write` writes into a temporary file beside the target, fsyncs it and renames it
into place. The temporary file's name says who wrote it (host, boot and PID namespace,
PID), so `remove_stale_temporaries` deletes only those of writers that are gone: of this
host, boot and PID namespace whose process no longer exists (a PID says nothing about a
writer in another container), and any left for over a day. Files get the permissions
the umask allows, like any other file. Used by the results cache, the figures, the
checkpoints and every record and report the package writes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

__all__ = [
    "STALE_SECONDS",
    "atomic_write",
    "remove_stale_temporaries",
    "write_text",
    "writer_tag",
]

_T = TypeVar("_T")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@functools.cache
def _umask() -> int:
    """The process umask (read once: os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# A temporary file older than this belongs to a writer that is gone, whoever it was.
STALE_SECONDS = 24 * 3600.0


def _host() -> str:
    return re.sub(r"[^0-9A-Za-z_-]", "_", socket.gethostname()) or "host"


@functools.cache
def _pid_space() -> str:
    """8 hex digits naming this boot and PID namespace: PIDs are comparable only within it.

    "unknown" where the system does not say (then no PID is trusted).
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        space = os.readlink("/proc/self/ns/pid")
    except OSError:
        return "unknown"
    return hashlib.sha256(f"{boot}/{space}".encode()).hexdigest()[:8]


def writer_tag() -> str:
    """host~space~pid~random: names a temporary file so a later writer in the same PID
    namespace can tell whether its owner died."""
    return f"{_host()}~{_pid_space()}~{os.getpid()}~{secrets.token_hex(4)}"


def _is_stale(path: Path, host: str, space: str, now: float) -> bool:
    try:
        if now - path.stat().st_mtime > STALE_SECONDS:
            return True
    except OSError:
        return False
    parts = path.name[: -len(".tmp")].rsplit(".", 1)[-1].split("~")
    if len(parts) != 4 or parts[:2] != [host, space] or space == "unknown":
        return False  # another host, boot or PID namespace: its PIDs mean nothing here
    if not parts[2].isdigit():
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary files of writers that are gone (see the module docstring)."""
    host, space, now = _host(), _pid_space(), time.time()
    try:
        candidates = list(directory.glob(".*.tmp"))
    except OSError:
        return
    for path in candidates:
        if _is_stale(path, host, space, now):
            path.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically: a reader sees the old file or the new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path


def atomic_write(path: Path, write: Callable[[BinaryIO], _T]) -> _T:
    """Run `write` on a temporary file beside `path`, fsync it, then rename it into place.

    The file gets the permissions the umask allows (0666 & ~umask), not mkstemp's 0600.
    """
    tmp = path.parent / f".{path.name}.{writer_tag()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, "w+b") as f:
            result = write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return result
