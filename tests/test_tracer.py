"""The public tracer: the README's bring-your-own-model example runs and closes the budget."""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from normtheory import losses
from normtheory.config import ConfigError
from normtheory.tracer import Model, shrink_per_step, trace

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


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([0.1] * 6, "items: expected a mapping"),
        ({"probability": np.ones(5) / 5}, "items['probability'] has shape (5,)"),
        ({"depth": np.array([1, 2, np.nan, 1, 2, 3])}, "items['depth'] has non-finite"),
        ({"label": np.array(list("abcdef"))}, "items['label']: expected real numbers"),
        ({"probability": np.full(6, 1.5)}, "items['probability'] must lie in [0, 1]"),
    ],
)
def test_bad_item_columns_get_one_line_naming_the_column(items, message):
    model = _model(probe=lambda p: jnp.ones((6, 3)) @ p["w"])
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        trace(model, optax.sgd(0.1), steps=10, items=items)
    assert "\n" not in str(info.value)


X6 = jax.random.normal(jax.random.key(3), (6, 5))


def _linear_model(loss) -> Model:
    """A linear encoder x @ W (z is homogeneous of degree 1 in W: J W = z)."""

    def sample(key):
        k1, k2 = jax.random.split(key)
        ids = jax.random.choice(k1, 6, (4,), replace=False)
        return {"ids": ids, "views": X6[ids] + 0.3 * jax.random.normal(k2, (4, 5))}

    def init(key):
        return {"w": jax.random.normal(key, (5, 3)), "scale": jnp.asarray(np.log(5.0))}

    return Model(
        init=init,
        sample=sample,
        embed=lambda p, b: jnp.concatenate([X6[b["ids"]] @ p["w"], b["views"] @ p["w"]]),
        loss=loss,
        probe=lambda p: X6 @ p["w"],
        own_rows=lambda b: jnp.concatenate([b["ids"], jnp.full(4, -1)]),
    )


def _clip_loss(z, b, p):  # CLIP's learnable logit scale: temperature exp(-scale)
    return losses.symmetric_infonce(z[:4], z[4:], jnp.exp(-p["scale"]))


def _closes(traj) -> float:
    n2 = np.concatenate([traj.norm0[:, None] ** 2, traj.norm**2], axis=1)
    budget = traj.heat + traj.drift + traj.decay + traj.remainder
    np.testing.assert_allclose(np.diff(n2, axis=1), budget, rtol=0, atol=1e-12 * n2.max())
    return float(np.abs(traj.remainder).sum() / np.abs(budget).sum())


def test_a_loss_that_reads_the_parameters_trains_them_as_a_manual_loop_does():
    model = _linear_model(_clip_loss)
    optimizer = optax.adam(0.05)
    probability = np.array([0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
    traj = trace(
        model,
        optimizer,
        steps=20,
        stride=5,
        progress=False,
        items={"probability": probability, "depth": [1, 2, 2, 3, 3, 3]},
    )
    # The same run by hand, with the engine's key sequence: the direct gradient of the
    # loss reaches the logit scale.
    key, k_init = jax.random.split(jax.random.key(0))
    params = model.init(k_init)
    state = optimizer.init(params)
    for _ in range(20):
        key, k_batch = jax.random.split(key)
        batch = model.sample(k_batch)
        grads = jax.grad(lambda p, b=batch: model.loss(model.embed(p, b), b, p))(params)
        with jax.numpy_dtype_promotion("standard"):
            updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    assert abs(float(params["scale"]) - np.log(5.0)) > 0.1  # it was trained
    np.testing.assert_allclose(traj.params["scale"][0], params["scale"], rtol=1e-10)
    np.testing.assert_allclose(traj.params["w"][0], params["w"], rtol=1e-10)
    assert _closes(traj) < 1e-10  # a linear probe: the first-order budget is exact
    np.testing.assert_array_equal(traj.rate, probability)
    np.testing.assert_array_equal(traj.info["depth"], [1.0, 2, 2, 3, 3, 3])


def _plain_loss(z, b):
    return losses.symmetric_infonce(z[:4], z[4:], 0.2)


def test_adamw_decay_is_booked_as_decay_exactly_and_drift_gives_it_back():
    c = 0.01 * 0.5  # eta * lambda of the shrink
    model = _linear_model(_plain_loss)
    optimizer = optax.adamw(0.01, weight_decay=0.5)
    run = dict(steps=12, stride=1, seeds=2, progress=False)
    split = trace(model, optimizer, **run)
    folded = trace(model, optimizer, weight_decay=0, **run)
    np.testing.assert_array_equal(split.norm, folded.norm)  # the same training
    # J(-c W) = -c z for a linear encoder: decay = -(2c - c^2) N^2 at every step.
    n2_before = np.concatenate([split.norm0[:, None], split.norm[:, :-1]], axis=1) ** 2
    np.testing.assert_allclose(split.decay, -(2 * c - c**2) * n2_before, rtol=1e-10)
    assert np.all(folded.decay == 0)
    np.testing.assert_allclose(
        split.decay + split.drift + split.heat, folded.drift + folded.heat, rtol=1e-9, atol=1e-14
    )
    assert np.max(np.abs(split.drift - folded.drift)) > 0.5 * np.max(np.abs(split.decay))
    assert _closes(split) < 1e-10 and _closes(folded) < 1e-10


def test_the_shrink_is_found_where_optax_applies_it():
    params = {"w": jnp.ones((5, 3)), "b": jnp.ones(3)}
    assert shrink_per_step(optax.adamw(0.01, weight_decay=0.5), params, 8).value == (
        pytest.approx(0.005, rel=1e-12)
    )
    chain = optax.chain(optax.add_decayed_weights(0.1), optax.sgd(0.2))
    assert shrink_per_step(chain, params, 8).value == pytest.approx(0.02, rel=1e-12)
    assert shrink_per_step(optax.adam(0.01), params, 8).value == 0.0
    masked = optax.adamw(0.01, weight_decay=0.5, mask={"w": True, "b": False})
    assert shrink_per_step(masked, params, 8).per_leaf


@pytest.mark.parametrize(
    ("optimizer", "weight_decay", "message"),
    [
        (optax.adamw(0.01, weight_decay=0.5, mask={"w": True, "scale": False}), None, "(a mask)"),
        (optax.adamw(optax.linear_schedule(0.01, 0.0, 10), weight_decay=0.5), None, "changes"),
        (optax.adamw(0.01, weight_decay=0.5), 0.5, "shrinks the parameters by 0.005"),
        (optax.adam(0.01), 0.01, "shrinks the parameters by 0"),
        (optax.adamw(0.01, weight_decay=0.5), -1.0, "weight_decay=-1.0 must be"),
        (optax.adamw(0.01, weight_decay=0.5, mask={"w": True, "scale": False}), 0.005, "mask"),
    ],
)
def test_a_decay_that_cannot_be_separated_is_refused(optimizer, weight_decay, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        trace(_linear_model(_plain_loss), optimizer, steps=10, weight_decay=weight_decay)
    assert "\n" not in str(info.value)
