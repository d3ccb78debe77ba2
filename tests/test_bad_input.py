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
    ],
)
def test_simulate_names_a_bad_argument(call, named):
    config = SimConfig(num_items=10, steps=10, batch=8)
    with pytest.raises(ConfigError, match=named):
        call(config)


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
