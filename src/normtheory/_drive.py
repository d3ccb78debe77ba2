"""Executing compiled runs: chunks, progress, finiteness checks, checkpoints, devices.

`drive` initialises a batch of runs and calls the compiled window runner `chunk` steps at
a time, so a progress bar advances between calls and a checkpoint can be written between
them; chunking never changes the numbers (bit for bit in float64).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from normtheory import checkpoint as _checkpoint
from normtheory.checkpoint import Checkpoint
from normtheory.problems import Problem


def drive(
    init,
    runner,
    problem: Problem,
    keys: jax.Array,
    hp: Mapping[str, jax.Array],
    *,
    n_runs: int,
    steps: int,
    stride: int,
    chunk: int,
    progress: bool = True,
    record_divergence: bool = False,
    checkpoint: Checkpoint | None = None,
    undefined: tuple[str, ...] = (),
) -> tuple[Any, np.ndarray, dict[str, np.ndarray]]:
    """Initialise and run `steps` steps in calls of `chunk` steps; return the state,
    the initial norms (R, I) and the records (R, W, ...) of the first `n_runs` runs.

    Checks finiteness after every call (unless `record_divergence`; `undefined` names
    records that are NaN by construction and are not checked), advances the
    progress bar, and checkpoints / resumes / stops on request as `simulate` documents.
    """
    state = init(keys, hp)
    norm0 = np.asarray(jnp.linalg.norm(jax.vmap(problem.probe)(state.params), axis=-1))[:n_runs]

    per_chunk = chunk // stride
    total = steps // stride
    chunks, done = [], 0
    if checkpoint is not None:
        resumed = _checkpoint.load(checkpoint.path, checkpoint.tag, state)
        if resumed is not None:
            state, norm0, so_far, done = resumed
            chunks = [so_far] if done else []
    bar = tqdm(total=steps, desc="simulate", unit="step", disable=not progress)
    bar.update(done * stride)
    with _checkpoint.stop_requests() as stop:
        clock = _checkpoint.Clock(checkpoint.every if checkpoint is not None else 0.0)
        while done < total:
            n = min(per_chunk, total - done)
            state, records = runner(state, hp, n)
            records = jax.tree.map(lambda x: np.asarray(x)[:n_runs], records)
            if not record_divergence:
                check_finite({k: v for k, v in records.items() if k not in undefined}, done, stride)
            chunks.append(records)
            done += n
            bar.update(n * stride)
            if checkpoint is not None and done < total and (stop.is_set() or clock.due()):
                failed = _checkpoint.try_save(
                    checkpoint.path, checkpoint.tag, state, norm0, chunks, done
                )
                if stop.is_set():
                    bar.close()
                    where = (
                        f"the state could not be saved ({failed}); the work is lost"
                        if failed
                        else f"state saved to {checkpoint.path}; rerun the same command to resume"
                    )
                    raise _checkpoint.RunInterrupted(
                        f"stopped at step {done * stride} of {steps}; {where}"
                    )
                if failed:
                    tqdm.write(f"warning: checkpoint skipped ({failed}); the run goes on")
            elif checkpoint is None and stop.is_set():
                raise KeyboardInterrupt
    bar.close()

    records = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]}
    return state, norm0, records


def pad_to_devices(hp_rows: list, seed_ids: np.ndarray) -> tuple[list, np.ndarray]:
    """Repeat the last run so the run axis divides evenly over the local devices."""
    pad = -len(hp_rows) % jax.local_device_count()
    return hp_rows + hp_rows[-1:] * pad, np.concatenate([seed_ids, seed_ids[-1:].repeat(pad)])


def shard_runs(tree):
    """Place the leading (run) axis of every array across the local devices."""
    devices = jax.local_devices()
    if len(devices) == 1:
        return tree
    mesh = jax.sharding.Mesh(np.asarray(devices), ("runs",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
    return jax.device_put(tree, sharding)


def check_finite(records: Mapping[str, np.ndarray], windows_done: int, stride: int) -> None:
    for name, values in records.items():
        bad = ~np.isfinite(values)
        if bad.any():
            run, window = np.argwhere(bad)[0][:2]
            step = (windows_done + window + 1) * stride
            raise FloatingPointError(
                f"non-finite {name} by step {step} (run {run} of the vmapped batch): the "
                "run diverged (a step too large for this regime: learning rate, "
                "temperature, scale) or received non-finite input; to keep such a run, "
                "use record_divergence=True (on the command line: --keep-divergent)"
            )
