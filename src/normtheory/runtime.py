"""How a process that computes results sets JAX up, decided here once.

Every command and script that simulates or verifies (`normtheory simulate`, `verify`,
`map`, `calibrate`, `bridge`, the figure scripts, `make signs`) calls `prepare` before
its first JAX computation:

- float64: verification is float64 (THEORY.md); a float32 simulation asks for
  ``float64=False`` and runs in float32 whatever the flag, since its config says so.
- a persistent compilation cache: XLA executables are kept in ``<cache_dir()>/xla`` (the
  results cache's folder, `normtheory.cache.cache_dir`), so a program compiled by one
  process (the figures of `make reproduce`) is loaded, not compiled again, by the next
  (`normtheory verify`'s seed groups run the figures' programs on other seeds). JAX keys
  an entry by the program, the compile options, the JAX version and the device, so an
  edited engine never loads an old executable and the numbers are those of a fresh
  compile. Set ``NORMTHEORY_XLA_CACHE=off`` to compile everything afresh, or to a folder
  to keep the executables elsewhere. A process that configured its own cache (the test
  suite's conftest) keeps it.
"""

from __future__ import annotations

import os
from pathlib import Path

from normtheory.cache import cache_dir

__all__ = ["ENV_VAR", "compilation_cache_dir", "prepare"]

ENV_VAR = "NORMTHEORY_XLA_CACHE"
# Programs that compile faster than this are not worth a file.
MIN_COMPILE_SECONDS = 0.5
# The executables' folder is pruned (least recently used first) beyond this size.
MAX_BYTES = 2 * 2**30


def compilation_cache_dir() -> Path | None:
    """Where compiled executables are kept: ``$NORMTHEORY_XLA_CACHE`` if it names a folder,
    None if it is "off" (or "0", "no", "false"), else ``cache_dir() / "xla"``."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value.lower() in {"off", "0", "no", "false"}:
        return None
    return Path(value).expanduser() if value else cache_dir() / "xla"


def prepare(*, float64: bool = True) -> None:
    """Set JAX up for this process: 64-bit types when `float64`, and the persistent
    compilation cache (`compilation_cache_dir`) unless one is already configured.

    Call it before the first JAX computation; calling it again is harmless.
    """
    import jax

    if float64:
        jax.config.update("jax_enable_x64", True)
    folder = compilation_cache_dir()
    if folder is None or jax.config.jax_compilation_cache_dir:
        return
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
