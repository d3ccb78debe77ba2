"""The public tracer: the README's bring-your-own-model example runs and closes the budget."""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from normtheory.config import ConfigError
from normtheory.tracer import Model, trace

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_example() -> str:
    text = README.read_text()
    section = text[text.index("## Tracing your own model") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_and_closes_the_budget_in_float64(capsys):
    code = _readme_example()
    assert len(code.strip().splitlines()) <= 32
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    traj = namespace["traj"]
    assert traj.norm.shape == (2, 20, 50) and traj.norm.dtype == np.float64
    n2 = np.concatenate([traj.norm0[:, None] ** 2, traj.norm**2], axis=1)
    budget = traj.heat + traj.drift + traj.decay + traj.remainder
    np.testing.assert_allclose(np.diff(n2, axis=1), budget, rtol=0, atol=1e-10 * n2.max())
    # Adam's radial updates move the norms at first order: drift is not negligible.
    assert np.max(np.abs(traj.drift)) > 1e-3 * np.max(np.abs(traj.heat))
    assert np.all(np.isfinite(traj.g2)) and np.all(traj.g2 >= 0)
    assert float(capsys.readouterr().out.strip().splitlines()[-1]) < 1e-10


def _model(**changes) -> Model:
    x = jnp.ones((6, 3))

    def embed(p, b):
        return x @ p["w"]

    base = {
        "init": lambda key: {"w": jax.random.normal(key, (3, 4))},
        "sample": lambda key: jnp.arange(6),
        "embed": embed,
        "loss": lambda z, b: jnp.sum(z[:, 0] / jnp.linalg.norm(z, axis=-1)),
        "probe": lambda p: x @ p["w"],
    }
    return Model(**{**base, **changes})


@pytest.mark.parametrize(
    ("model", "optimizer", "message"),
    [
        (lambda: _model(), lambda: "sgd", "optimizer: expected an optax.GradientTransformation"),
        (lambda: _model(embed=lambda p, b: p["w"][0]), lambda: optax.sgd(0.1), "Model.embed"),
        (lambda: _model(probe=lambda p: p["w"][:, :2]), lambda: optax.sgd(0.1), "Model.probe"),
        (lambda: _model(loss=lambda z, b: z), lambda: optax.sgd(0.1), "Model.loss"),
        (
            lambda: _model(own_rows=lambda b: jnp.zeros(3, jnp.int32)),
            lambda: optax.sgd(0.1),
            "Model.own_rows",
        ),
    ],
)
def test_wrong_inputs_get_one_line_naming_the_function(model, optimizer, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        trace(model(), optimizer(), steps=10)
    assert "\n" not in str(info.value)


def test_a_model_needs_functions():
    with pytest.raises(ConfigError, match=r"Model\.init: expected a function"):
        _model(init=3)
