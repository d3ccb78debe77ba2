"""The command line and the derivation scripts, smoke-run as a user runs them."""

import importlib.util
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from normtheory import __version__, cli, laws

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "derivations").glob("*.py"))


def _script_laws(path: Path) -> list[str]:
    """The LAWS list of a derivation script, imported as a module (its main does not run)."""
    spec = importlib.util.spec_from_file_location(f"_derivation_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert hasattr(module, "LAWS"), f"{path.name} defines no LAWS list"
    return list(module.LAWS)


def test_every_law_has_a_derivation_script_exactly_once():
    listed = [name for path in SCRIPTS for name in _script_laws(path)]
    assert sorted(listed) == sorted(laws.names())


@pytest.mark.end_to_end
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_derivation_script_runs_and_reports_every_law(script, capsys):
    # In-process, as `python script` would run it; derived laws are cached across tests.
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert stop.value.code == 0, out
    for name in _script_laws(script):
        assert f"[ok] {name} " in out


def test_derive_writes_markdown_and_latex(tmp_path, capsys):
    status = cli.main(["derive", "gd_norm_step", "sgd_decay_equilibrium", "--out", str(tmp_path)])
    assert status == 0
    page = (tmp_path / "DERIVATIONS.md").read_text()
    assert "### `sgd_decay_equilibrium`" in page and "0 (passes)" in page
    assert "FAILS" not in page
    tex = (tmp_path / "laws.tex").read_text()
    assert r"\label{eq:gd_norm_step}" in tex
    # Deterministic output: a rerun writes the same bytes.
    cli.main(["derive", "gd_norm_step", "sgd_decay_equilibrium", "--out", str(tmp_path)])
    assert (tmp_path / "DERIVATIONS.md").read_text() == page
    assert "wrote" in capsys.readouterr().out


def test_derive_rejects_unknown_law(capsys):
    assert cli.main(["derive", "no_such_law", "--no-write"]) == 2
    assert "no_such_law" in capsys.readouterr().err


def test_console_script_version_and_help():
    exe = Path(sys.executable).with_name("normtheory")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"normtheory {__version__}"
    helptext = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    assert "derive" in helptext.stdout
    derive_help = subprocess.run(
        [exe, "derive", "--help"], capture_output=True, text=True, check=True
    )
    assert "--out" in derive_help.stdout


@pytest.mark.end_to_end
def test_simulation_runner_script_runs_every_experiment_at_a_tiny_size(tmp_path):
    from normtheory.regimes import EXPERIMENTS

    script = ROOT / "simulations" / "run_experiments.py"
    tiny = ["--set", "steps=10", "--set", "batch=8", "--set", "dim=4"]
    env = {"NORMTHEORY_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin", **_fast_compile()}
    names = ["frequency", "hierarchy_compositional", "ambiguity_mlp", "imbalance"]
    result = subprocess.run(
        [sys.executable, str(script), *names, "--seeds", "1", "--quiet", *tiny],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    for name in names:
        assert name in EXPERIMENTS and f"{name}: computed" in result.stdout


def test_sign_maps_script_refuses_a_missing_out_folder_before_computing(tmp_path):
    script = ROOT / "simulations" / "sign_maps.py"
    missing = tmp_path / "nowhere"
    result = subprocess.run(
        [sys.executable, str(script), "--out", str(missing)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"--out {missing}: not a directory" in result.stderr.splitlines()[-1]
    assert "map at" not in result.stderr and not missing.exists()


def test_homogeneity_diagnostic_names_an_unknown_row_before_computing():
    script = ROOT / "simulations" / "drift_heat_homogeneity.py"
    result = subprocess.run(
        [sys.executable, str(script), "no such row"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown row(s) ['no such row']" in result.stderr.splitlines()[-1]


def _fast_compile() -> dict[str, str]:
    """The test session's XLA flags (cheap compilation), for a subprocess's environment."""
    return {"XLA_FLAGS": os.environ["XLA_FLAGS"]} if "XLA_FLAGS" in os.environ else {}


SUBCOMMANDS = ("derive", "simulate", "verify", "map", "probe", "bridge", "calibrate")


def test_help_list_and_the_wordnet_reader_load_no_numeric_library():
    """`normtheory --help`, every subcommand's --help and `simulate --list` answer
    without importing jax, sympy, optax, matplotlib or scipy."""
    answers = [["--help"], *[[name, "--help"] for name in SUBCOMMANDS], ["simulate", "--list"]]
    code = (
        "import sys\n"
        "import normtheory, normtheory.cli as cli, normtheory.lexicon.wordnet\n"
        f"for argv in {answers!r}:\n"
        "    try:\n"
        "        status = cli.main(argv)\n"
        "    except SystemExit as stop:\n"
        "        status = stop.code\n"
        "    assert status == 0, (argv, status)\n"
        "heavy = ('jax', 'sympy', 'optax', 'matplotlib', 'scipy')\n"
        "print(','.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.count("usage: normtheory") == len(answers) - 1
    for name in SUBCOMMANDS:
        assert f"usage: normtheory {name}" in done.stdout
    assert done.stderr.strip() == ""
    # And the lazy names resolve to the real objects on first use.
    import normtheory
    from normtheory.config import SimConfig

    assert normtheory.SimConfig is SimConfig and "simulate" in dir(normtheory)


def test_simulate_list_prints_every_experiment_with_its_summary(capsys):
    from normtheory.regimes import EXPERIMENTS

    assert cli.main(["simulate", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(EXPERIMENTS)
    for line, (name, entry) in zip(lines, EXPERIMENTS.items(), strict=True):
        assert line.split(maxsplit=1) == [name, entry.summary]


class _Captured(Exception):
    """Raised by a stand-in for a command's computation once it has seen its input."""


def _capture(seen, extract):
    def stand_in(*args, **kwargs):
        seen.extend(extract(*args, **kwargs))
        raise _Captured

    return stand_in


def _overridden(names, overrides, *args, **kwargs):
    """What run_checks makes of its overrides: the config each named check runs."""
    from normtheory.config import parse_assignments
    from normtheory.verify import CHECKS

    changes = parse_assignments(overrides)
    return [CHECKS[name][1].replace(**changes) for name in names]


# subcommand -> (arguments besides --set, (module, function) that computes, configs it got)
SET_TAKERS = {
    "simulate": (
        ["simulate", "frequency", "--quiet"],
        ("normtheory.runs", "run"),
        lambda config, *a, **k: [config],
    ),
    "verify": (["verify", "accumulation"], ("normtheory.verify", "run_checks"), _overridden),
    "map": (
        ["map", "accumulation", "--x", "lr=0.1,0.2", "--y", "zipf=1.1,1.2"],
        ("normtheory.verify", "run_checks"),
        _overridden,
    ),
    "calibrate": (
        ["calibrate", "--data", "hierarchy", "--optimizers", "sgd"],
        ("normtheory.calibrate", "calibrate"),
        lambda selected, *a, **k: [r.config for r in selected],
    ),
    "bridge": (
        ["bridge", "--words", "30", "--models", "table", "--optimizers", "sgd"],
        ("normtheory.bridge.run", "run_bridge"),
        lambda selected, *a, signs=None, **k: [r.config for r in [*selected, *(signs or [])]],
    ),
}


@pytest.mark.parametrize("name", sorted(SET_TAKERS))
def test_set_changes_the_config_every_subcommand_computes_with(name, tmp_path, monkeypatch):
    import importlib

    argv, (module, function), extract = SET_TAKERS[name]
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path))
    seen = []
    monkeypatch.setattr(importlib.import_module(module), function, _capture(seen, extract))
    with pytest.raises(_Captured):
        cli.main([*argv, "--set", "tau=0.137", "--set", "seed=5"])
    assert seen and all(c.tau == 0.137 and c.seed == 5 for c in seen), seen


@pytest.mark.parametrize("name", sorted(SET_TAKERS))
def test_a_bad_set_is_refused_in_one_line_before_computing(name, tmp_path, monkeypatch, capsys):
    import importlib

    argv, (module, function), _ = SET_TAKERS[name]
    monkeypatch.setenv("NORMTHEORY_CACHE", str(tmp_path))
    if name != "verify":  # verify's run_checks is what refuses; it runs no check first
        monkeypatch.setattr(importlib.import_module(module), function, pytest.fail)
    assert cli.main([*argv, "--set", "no_such_field=1"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith(f"normtheory {name}: ") and "\n" not in err, err
    assert "no_such_field" in err and "verifying" not in captured.out
    assert not list(tmp_path.rglob("*.npz"))
