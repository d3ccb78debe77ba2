"""Test configuration: float64, strict dtype promotion, hypothesis profiles, and a
compiled-program cache shared by the tests (below).

Profiles: "ci" (default, fast) and "thorough" (select with NORMTHEORY_HYPOTHESIS=thorough).
Both set deadline=None because the first example of a test pays for JIT compilation.
"""

import os
import tempfile

# Tests compile many small programs and run each briefly: trade XLA's optimisation of
# the compiled code for compile time (a user's runs keep the default flags). The older CPU
# emitters (fusion emitters off) compile a small program in about 60% of the time, and the
# suite in about two thirds; tests/test_codegen.py checks that these flags give the
# numbers of the default ones.
os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_llvm_disable_expensive_passes=true --xla_backend_optimization_level=0 "
    "--xla_cpu_use_fusion_emitters=false",
)

import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

# Many tests compile the same small programs (the same tiny configs, fresh closures):
# share compiled executables across the tests, the xdist workers and later runs, in one
# folder per user under the temporary directory, at most 1 GiB (least recently used
# entries go first). JAX keys an entry by the program, the XLA flags, the JAX version and
# the device, so a changed engine never reuses an old executable; the size bound also
# turns on JAX's file lock, so two workers never read a half-written entry.
_XLA_CACHE = os.path.join(tempfile.gettempdir(), f"normtheory-test-xla-{os.getuid()}")
jax.config.update("jax_compilation_cache_dir", _XLA_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
jax.config.update("jax_compilation_cache_max_size", 2**30)

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("NORMTHEORY_HYPOTHESIS", "ci"))


@pytest.fixture(autouse=True, scope="session")
def _private_results_cache(tmp_path_factory):
    """Keep the tests' cached runs out of the working tree's results/ folder."""
    os.environ["NORMTHEORY_CACHE"] = str(tmp_path_factory.mktemp("results"))
