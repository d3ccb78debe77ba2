"""The test session's compiler settings give the numbers a user's default settings give.

tests/conftest.py compiles with cheap XLA flags (no LLVM optimisation, the older CPU
emitters). Every other test then checks programs compiled that way; this one runs the
same small simulations in a process with XLA's default flags, as a user's runs are
compiled, and compares every recorded array with this process's.
"""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import normtheory

CONFIGS = {
    # The sparse-row SGD step with weight decay, and optax's dense step under Adam.
    "sparse": dict(data="frequency", num_items=40, dim=8, batch=16, steps=40, stride=10,
                   weight_decay=1e-3, dtype="float64"),
    "dense": dict(data="hierarchy", model="compositional", dim=8, batch=16, steps=40,
                  stride=10, optimizer="adam", lr=0.01, dtype="float64"),
}  # fmt: skip
BUDGET = ("decay", "drift", "heat", "remainder")
FIELDS = ("norm", "g2", *BUDGET, "loss", "uniformity")

RUN = """
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
import numpy as np, normtheory
out = {}
for name, kw in json.loads(sys.argv[1]).items():
    t = normtheory.simulate(normtheory.SimConfig(**kw), seeds=2, progress=False)
    out[name] = {f: np.asarray(getattr(t, f)).tolist() for f in json.loads(sys.argv[2])}
print(json.dumps(out))
"""


def _here() -> dict:
    out = {}
    for name, kw in CONFIGS.items():
        t = normtheory.simulate(normtheory.SimConfig(**kw), seeds=2, progress=False)
        out[name] = {f: np.asarray(getattr(t, f)) for f in FIELDS}
    return out


def test_the_tests_xla_flags_give_the_users_numbers():
    assert jax.config.jax_enable_x64
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    done = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(CONFIGS), json.dumps(FIELDS)],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    default = json.loads(done.stdout)
    here = _here()
    for name in CONFIGS:
        for field in FIELDS:
            a, b = here[name][field], np.asarray(default[name][field])
            assert a.shape == b.shape and np.all(np.isfinite(a))
            # Different code generation may round differently: agreement to float64
            # rounding accumulated over the run, far below any law's accuracy. The budget's
            # terms are changes of squared norms, some zero but for rounding (the free
            # table's drift, the remainder): they are compared on the squared norms' scale.
            of = here[name]["norm"] ** 2 if field in BUDGET else a
            scale = np.max(np.abs(of))
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11 * scale, err_msg=field)


def test_the_comparison_sees_a_different_run():
    # The comparison above can fail: another seed's numbers differ far beyond its tolerance.
    kw = CONFIGS["sparse"]
    a = normtheory.simulate(normtheory.SimConfig(**kw), seeds=1, progress=False).norm
    b = normtheory.simulate(normtheory.SimConfig(**{**kw, "seed": 1}), seeds=1, progress=False)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(a, b.norm, rtol=1e-11, atol=1e-11 * np.max(np.abs(a)))
