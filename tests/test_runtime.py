"""`normtheory.runtime.prepare`: float64 and the persistent compilation cache, set once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, jax
from normtheory.runtime import prepare
prepare(float64={float64})
jax.jit(lambda x: x + 1)(1.0)
print(json.dumps({{"x64": jax.config.jax_enable_x64,
                   "dir": jax.config.jax_compilation_cache_dir}}))
"""


def _python(tmp_path: Path, env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python (warnings always shown) with the NORMTHEORY_ variables
    of this process replaced by `env`; it must exit 0."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NORMTHEORY_")}
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def _prepared(tmp_path: Path, env: dict[str, str], float64: bool = True) -> dict:
    done = _python(tmp_path, env, PROBE.format(float64=float64))
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_compiled_programs_go_beside_the_results_cache(tmp_path: Path):
    seen = _prepared(tmp_path, {"NORMTHEORY_CACHE": str(tmp_path / "store")})
    assert seen == {"x64": True, "dir": str(tmp_path / "store" / "xla")}
    # Without NORMTHEORY_CACHE the results cache is ./results, and the programs follow it.
    assert _prepared(tmp_path, {}, float64=False) == {
        "x64": False,
        "dir": str(tmp_path / "results" / "xla"),
    }


@pytest.mark.parametrize("off", ["off", "0", "False"])
def test_the_cache_can_be_turned_off_or_moved(tmp_path: Path, off: str):
    assert _prepared(tmp_path, {"NORMTHEORY_XLA_CACHE": off})["dir"] is None
    elsewhere = tmp_path / "programs"
    assert _prepared(tmp_path, {"NORMTHEORY_XLA_CACHE": str(elsewhere)})["dir"] == str(elsewhere)


def test_a_cache_configured_by_the_process_is_kept(tmp_path: Path):
    import jax

    from normtheory.runtime import prepare

    before = jax.config.jax_compilation_cache_dir  # the suite's own (tests/conftest.py)
    assert before
    prepare()
    assert jax.config.jax_compilation_cache_dir == before
    assert jax.config.jax_enable_x64


CACHED = """
import jax
from normtheory.runtime import prepare
prepare()
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
print(float(jax.jit(lambda x: jax.numpy.sin(x) * 3.0)(1.0)))
"""


def test_a_compiled_program_is_stored_and_read_back_without_a_warning(tmp_path: Path):
    # The cache's size bound (`prepare`) needs a file lock: without one every read and
    # write of the cache fails with a warning and each process compiles everything again.
    for _ in range(2):
        done = _python(tmp_path, {"NORMTHEORY_CACHE": str(tmp_path / "store")}, CACHED)
        assert "compilation cache" not in done.stderr, done.stderr
    stored = [p for p in (tmp_path / "store" / "xla").iterdir() if "lock" not in p.name]
    assert stored
