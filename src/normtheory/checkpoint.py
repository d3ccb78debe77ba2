"""Checkpoints inside a run: resume after a kill, stop cleanly on Ctrl-C or SIGTERM.

`simulate(..., checkpoint=path)` saves the engine state (parameters, optimizer state,
random keys), the initial norms, the records so far and the number of windows done
into one npz, atomically, at most every `every` seconds (and whenever a stop is
requested). Rerunning the same computation with the same path resumes from it, and the
result is the one an uninterrupted run gives: the chunking of a run never changes its
numbers (bit for bit in float64). A checkpoint carries a tag (the cache key of the
run); one with another tag is ignored and overwritten.

SIGINT and SIGTERM (a Slurm time limit, say) set a flag while the run holds the
checkpoint; the run finishes the chunk in flight, saves, and raises `RunInterrupted`
with one line saying where the state went.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np

from normtheory._files import atomic_write


class RunInterrupted(KeyboardInterrupt):
    """A run stopped on request after saving its checkpoint; the message says where."""


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def save(
    path: Path,
    tag: str,
    state: Any,
    norm0: np.ndarray,
    chunks: list[dict[str, np.ndarray]],
    done: int,
) -> None:
    """Write the checkpoint (atomic: a reader sees the previous checkpoint or this one)."""
    leaves = jax.tree.leaves(state)
    arrays = {
        f"leaf_{i}": np.asarray(jax.random.key_data(x) if _is_key(x) else x)
        for i, x in enumerate(leaves)
    }
    if chunks:
        for name in chunks[0]:
            arrays[f"rec_{name}"] = np.concatenate([c[name] for c in chunks], axis=1)
    arrays["norm0"] = np.asarray(norm0)
    arrays["done"] = np.asarray(done)
    arrays["tag"] = np.frombuffer(tag.encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def try_save(
    path: Path,
    tag: str,
    state: Any,
    norm0: np.ndarray,
    chunks: list[dict[str, np.ndarray]],
    done: int,
) -> str | None:
    """`save`, returning None on success or one line saying why it failed (a full disk,
    say); the previous checkpoint, if any, is left as it was."""
    try:
        save(path, tag, state, norm0, chunks, done)
    except OSError as err:
        return f"cannot write {path}: {err.strerror or err}"
    return None


def load(path: Path, tag: str, fresh_state: Any) -> tuple[Any, np.ndarray, dict, int] | None:
    """(state, norm0, records so far, windows done) of a matching checkpoint, else None.

    `fresh_state` is a freshly initialised state of the same run: it gives the tree
    structure, the key types and the device placement of every leaf.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        return None
    except Exception:  # a damaged checkpoint is only a lost shortcut: start over
        return None
    if data.get("tag") is None or data["tag"].tobytes().decode(errors="replace") != tag:
        return None
    leaves, treedef = jax.tree.flatten(fresh_state)
    restored = []
    for i, fresh in enumerate(leaves):
        saved = data[f"leaf_{i}"]
        value = (
            jax.random.wrap_key_data(saved, impl=jax.random.key_impl(fresh))
            if _is_key(fresh)
            else saved
        )
        restored.append(jax.device_put(value, fresh.sharding))
    records = {name[4:]: data[name] for name in data if name.startswith("rec_")}
    return jax.tree.unflatten(treedef, restored), data["norm0"], records, int(data["done"])


@contextlib.contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """While open, SIGINT and SIGTERM set the yielded event instead of killing the run.

    Outside the main thread (where handlers cannot be installed) the event never fires.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def request(signum, frame):
        if event.is_set():  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        event.set()

    for sig in previous:
        signal.signal(sig, request)
    try:
        yield event
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Clock:
    """Says when the next periodic checkpoint is due."""

    def __init__(self, every: float) -> None:
        self.every, self.last = every, time.monotonic()

    def due(self) -> bool:
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            return True
        return False


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """Where a run checkpoints: the file, the run's tag (its cache key), the period (s)."""

    path: Path
    tag: str
    every: float = 60.0
