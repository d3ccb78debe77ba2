"""Bad input over the command line and the Python API: a non-zero exit or a named
exception, one line naming the argument, and nothing written to the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from normtheory import cli
from normtheory.config import ConfigError, SimConfig
from normtheory.engine import simulate
from normtheory.runs import run

SMALL = ["--set", "num_items=10", "--set", "steps=10", "--set", "batch=8", "--quiet"]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--set", "tau=inf"], "tau"),
        (["--set", "lr=inf"], "lr"),
        (["--set", "zipf=inf"], "zipf"),
        (["--set", "view_noise=inf"], "view_noise"),
        (["--set", "init_scale=1e-30"], "init_scale"),
        (["--set", "dim=two"], "dim"),
        (["--set", "lr=0.1", "--set", "lr=0.2"], "lr"),
        (["--grid", "lr=0.1", "--grid", "lr=0.2"], "lr"),
        (["--grid", "lr=0.1", "--merge", "0"], "merge"),
        (["--grid", "lr=0.1", "--merge", "-1"], "merge"),
        (["--merge", "2"], "grid"),
        (["--seeds", "0"], "seeds"),
        (["--chunk", "7"], "chunk"),
        (["--set", "record_divergence=true"], "record_divergence"),
    ],
)
def test_simulate_refuses_with_one_line_naming_the_argument(
    tmp_path, monkeypatch, capsys, argv, named
):
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path / "cache"))
    assert cli.main(["simulate", "frequency", *SMALL, *argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("normtheory simulate: ") and "\n" not in err, err
    assert named in err
    assert "simulating" not in captured.out  # refused before announcing any work
    assert not list((tmp_path / "cache").glob("*.npz"))


def test_merge_with_a_truncated_shard_names_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path))
    grid = ["--grid", "lr=0.1,0.2", "--set", "dtype=float64"]
    for i in (0, 1):
        assert cli.main(["simulate", "frequency", *SMALL, *grid, "--shard", f"{i}/2"]) == 0
    shard = sorted(tmp_path.glob("*.npz"))[0]
    shard.write_bytes(shard.read_bytes()[:100])
    capsys.readouterr()
    assert cli.main(["simulate", "frequency", *SMALL, *grid, "--merge", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(shard) in err


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"lr": "abc"}, "lr"),
        ({"dim": -1}, "dim"),
        ({"seed": 2.5}, "seed"),
        ({"steps": True}, "steps"),
        ({"tau": float("nan")}, "tau"),
        ({"optimizer": "rmsprop"}, "optimizer"),
    ],
)
def test_an_invalid_config_cannot_be_built(kwargs, named):
    with pytest.raises(ConfigError, match=named) as info:
        SimConfig(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda c: simulate(c, grid={"lr": 0.1}, progress=False), "grid"),
        (lambda c: simulate(c, grid={"lr": []}, progress=False), "grid"),
        (lambda c: simulate(c, seeds=2.5, progress=False), "seeds"),
        (lambda c: simulate(c, record_divergence="no", progress=False), "record_divergence"),
        (lambda c: simulate(c, chunk=3, progress=False), "chunk"),
        (lambda c: simulate({"lr": 0.1}, progress=False), "config"),
        (lambda c: simulate(c, trace_budget="off", progress=False), "trace_budget"),
        (lambda c: simulate(c, with_params=1, progress=False), "with_params"),
        (lambda c: simulate(c, progress="no"), "progress"),
        (lambda c: simulate(c, shard=(2, 2), grid={"lr": [0.1, 0.2]}, progress=False), "shard"),
    ],
)
def test_simulate_names_a_bad_argument(call, named):
    config = SimConfig(num_items=10, steps=10, batch=8)
    with pytest.raises(ConfigError, match=named):
        call(config)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"chunk": 3}, "chunk"), ({"record_divergence": "no"}, "record_divergence"),
     ({"progress": None}, "progress")],
)  # fmt: skip
def test_a_cached_run_still_refuses_bad_execution_settings(tmp_path: Path, kwargs, named):
    # Execution settings are not in the key, but they are checked before the cache is read.
    config = SimConfig(num_items=10, dim=4, batch=8, steps=20, stride=5, dtype="float64")
    _, _, cached = run(config, directory=tmp_path, progress=False)
    assert not cached
    with pytest.raises(ConfigError, match=named):
        run(config, directory=tmp_path, **{"progress": False, **kwargs})


def test_a_cached_divergent_run_is_not_served_as_a_finite_one(tmp_path: Path):
    config = SimConfig(num_items=10, dim=4, batch=8, steps=20, stride=5, lr=1e38, init_scale=1e-3)
    traj, _, _ = run(config, directory=tmp_path, progress=False, record_divergence=True)
    assert not np.all(np.isfinite(traj.norm))
    with pytest.raises(FloatingPointError, match="record_divergence=True"):
        run(config, directory=tmp_path, progress=False)


def test_calibrate_refuses_bad_counts_before_training(tmp_path, monkeypatch, capsys):
    from normtheory import calibrate

    monkeypatch.setattr(calibrate, "calibrate", lambda *a, **k: pytest.fail("trained"))
    for flag in ("--boot", "--seeds"):
        assert cli.main(["calibrate", flag, "0", "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert flag in err and "\n" not in err


@pytest.mark.parametrize("value", ["abc", None, [1, "x"]])
def test_a_law_names_a_non_numeric_argument(value):
    from normtheory import laws

    law = laws.get("gd_norm_step")
    with pytest.raises(TypeError, match=r"gd_norm_step: argument 'eta' must be a number"):
        law(N=1.0, eta=value, G2=1.0)


# --- Results served under the wrong label -------------------------------------------

TINY = SimConfig(num_items=10, dim=4, batch=8, steps=20, stride=10, dtype="float64")


def test_the_order_of_grid_axes_is_part_of_the_key(tmp_path):
    import jax

    jax.config.update("jax_enable_x64", True)
    first = {"lr": [0.1, 0.2], "tau": [0.1, 0.2]}
    swapped = {"tau": [0.1, 0.2], "lr": [0.1, 0.2]}
    run(TINY, grid=first, directory=tmp_path, progress=False)
    traj, _, cached = run(TINY, grid=swapped, directory=tmp_path, progress=False)
    fresh = simulate(TINY, grid=swapped, progress=False)
    assert not cached  # the first layout is never served for the second
    np.testing.assert_array_equal(traj.grid["lr"], fresh.grid["lr"])
    np.testing.assert_array_equal(traj.norm, fresh.norm)


@pytest.mark.parametrize(
    ("x", "y", "sets", "named"),
    [
        ("eta_lam=0.001,0.002", "weight_decay=0.1,0.2", [], "weight_decay"),
        ("eta_lam=0.001,0.002", "tau=0.1,0.2", ["weight_decay=0.1"], "weight_decay"),
        ("lr=0.1,0.2", "tau=0.1,0.2", ["lr=0.3"], "lr"),
        ("steps=nan,100", "tau=0.1,0.2", [], "finite"),
        ("steps=inf", "tau=0.1,0.2", [], "finite"),
        ("steps=1500.7", "tau=0.1,0.2", [], "integer"),
        ("lr=0.1,0.1", "tau=0.1,0.2", [], "repeats"),
    ],
)
def test_map_refuses_axes_it_cannot_draw_before_writing_anything(
    tmp_path, monkeypatch, capsys, x, y, sets, named
):
    from normtheory import verify

    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(verify, "run_checks", lambda *a, **k: pytest.fail("a cell ran"))
    argv = ["map", "accumulation", "--x", x, "--y", y, "--out", str(tmp_path / "maps")]
    for item in sets:
        argv += ["--set", item]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("normtheory map: ") and "\n" not in err and named in err, err
    assert not (tmp_path / "maps").exists() and not (tmp_path / "cache").exists()


def test_map_errors_name_the_map_flag_and_refuse_a_negative_row(tmp_path, capsys):
    out = ["--out", str(tmp_path)]
    assert cli.main(["map", "accumulation", "--x", "lr", "--y", "tau=0.1", *out]) == 2
    assert "--x 'lr'" in capsys.readouterr().err
    argv = ["map", "accumulation", "--x", "lr=0.1", "--y", "tau=0.1", "--row", "-1", *out]
    assert cli.main(argv) == 2
    assert "--row -1" in capsys.readouterr().err


def test_map_passes_a_text_field_to_the_check_as_text(monkeypatch):
    from normtheory import verify
    from normtheory.config import parse_assignments
    from normtheory.verify import maps

    seen = []

    def capture(names, assignments):
        seen.append(parse_assignments(assignments))
        raise RuntimeError("captured")

    monkeypatch.setattr(verify, "run_checks", capture)
    with pytest.raises(RuntimeError, match="captured"):
        maps.validity_map(
            "accumulation", ("lr", [0.1]), ("tau", [0.1]), changes={"optimizer": "momentum"}
        )
    assert seen[0]["optimizer"] == "momentum" and seen[0]["lr"] == 0.1


def test_trace_refuses_own_rows_outside_the_tracked_items():
    import optax
    from jax import numpy as jnp

    from normtheory.tracer import Model, trace

    x = jnp.ones((6, 3))
    model = Model(
        init=lambda key: {"w": jnp.eye(3, 4)},
        sample=lambda key: jnp.arange(6),
        embed=lambda p, b: x @ p["w"],
        loss=lambda z, b: jnp.sum(z[:, 0] / jnp.linalg.norm(z, axis=-1)),
        probe=lambda p: x @ p["w"],
        own_rows=lambda b: b + 1,  # 1..6: row 5 names item 6 of 0..5
    )
    with pytest.raises(ConfigError, match=r"own_rows returned 6") as info:
        trace(model, optax.sgd(0.1), steps=10, progress=False)
    assert "\n" not in str(info.value)


# --- Impossible input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"data_seed": -3}, "data_seed"),
    ],
)
def test_seeds_outside_uint32_are_refused_not_aliased(kwargs, named):
    with pytest.raises(ConfigError, match=named):
        SimConfig(**kwargs)


def test_seed_counts_that_run_past_uint32_are_refused():
    with pytest.raises(ConfigError, match="alias"):
        simulate(SimConfig(num_items=10, steps=10, batch=8, seed=2**32 - 1), seeds=2)


@pytest.mark.parametrize(
    ("grid", "named"),
    [
        ({"lr": [0.1, 0.1]}, "repeats"),
        ({"momentum": [0.5, 0.9]}, "no momentum"),
        ({"b1": [0.5, 0.9]}, "no Adam"),
    ],
)
def test_a_grid_whose_points_would_coincide_is_refused(grid, named):
    with pytest.raises(ConfigError, match=named):
        simulate(TINY, grid=grid, progress=False)


def test_shard_beside_merge_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path))
    argv = ["simulate", "frequency", *SMALL, "--grid", "lr=0.1,0.2", "--merge", "2"]
    assert cli.main([*argv, "--shard", "0/2"]) == 2
    assert "--shard and --merge" in capsys.readouterr().err


def _tiny_model():
    from jax import numpy as jnp

    from normtheory.tracer import Model

    x = jnp.ones((6, 3))
    return Model(
        init=lambda key: {"w": jnp.eye(3, 4)},
        sample=lambda key: jnp.arange(6),
        embed=lambda p, b: x @ p["w"],
        loss=lambda z, b: jnp.sum(z[:, 0] / jnp.linalg.norm(z, axis=-1)),
        probe=lambda p: x @ p["w"],
    )


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"record_divergence": "no"}, "record_divergence"),
        ({"chunk": 0}, "chunk"),
        ({"chunk": -10}, "chunk"),
        ({"chunk": 20.0}, "chunk"),
        ({"seed": -1}, "seed"),
        ({"progress": "yes"}, "progress"),
    ],
)
def test_trace_validates_execution_as_simulate_does(kwargs, named):
    import optax

    from normtheory.tracer import trace

    with pytest.raises(ConfigError, match=named) as info:
        trace(_tiny_model(), optax.sgd(0.1), steps=20, **{"progress": False, **kwargs})
    assert "\n" not in str(info.value)


def test_trace_refuses_integer_parameters_and_a_wrong_optimizer_in_one_line():
    import dataclasses

    import optax
    from jax import numpy as jnp

    from normtheory.tracer import trace

    integer = dataclasses.replace(_tiny_model(), init=lambda key: {"w": jnp.ones((3, 4), int)})
    with pytest.raises(ConfigError, match=r"floating-point parameters.*\['w'\]") as info:
        trace(integer, optax.sgd(0.1), steps=10, progress=False)
    assert "\n" not in str(info.value)
    wrong = optax.GradientTransformation(
        optax.sgd(0.1).init, lambda updates, state: (updates, state)
    )
    with pytest.raises(ConfigError, match="update") as info:
        trace(_tiny_model(), wrong, steps=10, progress=False)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("changes", "seeds"),
    [({"num_items": 10**8}, 1), ({}, 10**8), ({"steps": 10**15}, 1)],
)
def test_a_run_that_cannot_fit_is_refused_with_its_estimate(tmp_path, changes, seeds):
    config = SimConfig(batch=8).replace(**changes)
    for call in (
        lambda: simulate(config, seeds, progress=False),
        lambda: run(config, seeds, directory=tmp_path, progress=False),
    ):
        with pytest.raises(ConfigError, match=r"needs at least [\d.]+ [KMGTPE]?i?B of memory"):
            call()
    assert not list(tmp_path.iterdir())


# --- Tracebacks and misleading messages ----------------------------------------------


def test_bridge_takes_a_set_of_a_field_its_optimizers_also_set():
    from normtheory.bridge.run import regimes

    chosen = regimes(20, ["table"], ["sgd", "adamw"], ["coupled"], {"lr": 0.3})
    assert [r.config.lr for r in chosen] == [0.3, 0.3]
    assert [r.config.optimizer for r in chosen] == ["sgd", "adamw"]


def test_an_interrupted_run_without_cache_stops_in_one_line(monkeypatch, capsys):
    from normtheory import runs

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "run", interrupted)
    assert cli.main(["simulate", "frequency", *SMALL, "--no-cache"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("normtheory simulate: stopped") and "\n" not in err


def test_simulate_without_an_experiment_says_how_to_list_them(capsys):
    assert cli.main(["simulate"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--list" in err and "\n" not in err


def test_a_divergence_names_the_command_line_flag():
    config = SimConfig(num_items=10, dim=4, batch=8, steps=20, stride=5, lr=1e38, init_scale=1e-3)
    with pytest.raises(FloatingPointError, match="--keep-divergent"):
        simulate(config, progress=False)
