"""The results cache: round trips, stable keys, deterministic sidecars, and refusing bad entries."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from normtheory import cache, provenance
from normtheory.cache import CorruptCacheError


@dataclass(frozen=True)
class Optim:
    lr: float
    betas: tuple[float, float]


CONFIG = {"n": 8, "tau": 0.1, "seeds": (0, 1, 2), "optim": Optim(lr=1e-3, betas=(0.9, 0.999))}


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "norms": rng.standard_normal((5, 3)),
        "steps": np.arange(7, dtype=np.int32),
        "nan": np.array([np.nan, -0.0, np.inf]),
    }


def _meta() -> dict:
    return {"config": CONFIG, "note": "toy run", "scores": (1.5, 2.5)}


def _saved(tmp_path: Path) -> tuple[str, Path, Path]:
    key = cache.config_key(CONFIG, "0.0-test")
    npz = cache.save(tmp_path, key, _arrays(), _meta())
    return key, npz, tmp_path / f"{key}.json"


def test_round_trip_is_bitwise(tmp_path: Path) -> None:
    key, npz, _ = _saved(tmp_path)
    entry = cache.load(tmp_path, key, expected_config=CONFIG)
    assert entry is not None and entry.from_cache and entry.path == npz
    expected = _arrays()
    assert entry.arrays.keys() == expected.keys()
    for name, a in expected.items():
        b = entry.arrays[name]
        assert type(b) is np.ndarray and b.dtype == a.dtype and b.shape == a.shape
        assert a.tobytes() == b.tobytes()
    assert entry.meta["config"] == {
        "n": 8,
        "tau": 0.1,
        "seeds": [0, 1, 2],
        "optim": {"lr": 1e-3, "betas": [0.9, 0.999]},
    }
    assert entry.meta["note"] == "toy run" and entry.meta["scores"] == [1.5, 2.5]
    assert entry.meta["arrays"]["steps"] == {"shape": [7], "dtype": "<i4"}
    assert entry.meta["versions"]["numpy"] == np.__version__


def test_config_key_is_stable_and_sensitive() -> None:
    a = {"x": 1.0, "y": {"p": (1, 2), "q": "s"}}
    b = {"y": {"q": "s", "p": [1, 2]}, "x": 1.0}
    key = cache.config_key(a, "1")
    assert key == cache.config_key(b, "1")
    assert len(key) == 16 and int(key, 16) >= 0
    assert key != cache.config_key({**a, "x": 1.0000000000000002}, "1")
    assert key != cache.config_key({**a, "x": 1}, "1")
    assert key != cache.config_key(a, "2")
    assert cache.config_key({"o": Optim(0.1, (0.9, 0.99))}, "1") == cache.config_key(
        {"o": {"betas": [0.9, 0.99], "lr": 0.1}}, "1"
    )


def test_wordfreq_keys_only_results_of_the_wordnet_family(monkeypatch) -> None:
    """wordfreq's version changes the key of a spec that runs the WordNet family (nested
    anywhere) and nothing else: not another family's key, not the code identity."""
    from normtheory import SimConfig

    words = {"config": SimConfig(data="wordnet"), "seeds": 2}
    other = {"config": SimConfig(data="hierarchy"), "seeds": 2}
    installed = {"jax": "1", "jaxlib": "1", "optax": "1"}

    def keys(wordfreq):
        versions = {**installed, "wordfreq": wordfreq}
        monkeypatch.setattr(cache, "version_of", versions.get)
        cache.code_identity.cache_clear()
        try:
            return cache.code_identity(), cache.config_key(words), cache.config_key(other)
        finally:
            cache.code_identity.cache_clear()

    (code_a, words_a, other_a), (code_b, words_b, other_b) = keys("3.1.1"), keys(None)
    assert code_a == code_b and other_a == other_b
    assert words_a != words_b
    # Another library in the identity still changes every key.
    installed["jax"] = "2"
    code_c, words_c, other_c = keys(None)
    assert code_c != code_b and other_c != other_b and words_c != words_b


def test_config_key_names_unserialisable_field() -> None:
    with pytest.raises(TypeError, match=r"config\.y\.p\[1\]"):
        cache.config_key({"y": {"p": [1, object()]}}, "1")
    with pytest.raises(TypeError, match=r"config\.w"):
        cache.config_key({"w": np.zeros(2)}, "1")


def test_sidecar_bytes_identical_on_rerun(tmp_path: Path) -> None:
    key, npz, sidecar = _saved(tmp_path)
    first = (npz.read_bytes(), sidecar.read_bytes())
    cache.save(tmp_path, key, _arrays(), _meta())
    assert (npz.read_bytes(), sidecar.read_bytes()) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([npz.name, sidecar.name])


def test_cache_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert cache.cache_dir() == tmp_path / "results"
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "elsewhere"))
    assert cache.cache_dir() == tmp_path / "elsewhere"


def test_git_revision_never_raises() -> None:
    rev = provenance.git_revision()
    assert rev is None or (isinstance(rev, str) and len(rev.removesuffix("-dirty")) >= 40)


def test_git_revision_without_git(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    provenance.git_revision.cache_clear()
    try:
        assert provenance.git_revision() is None
    finally:
        monkeypatch.undo()
        provenance.git_revision.cache_clear()


def test_missing_entry_and_sidecar_copy(tmp_path: Path) -> None:
    assert cache.load(tmp_path, "absent") is None
    key, npz, sidecar = _saved(tmp_path)
    assert json.loads(sidecar.read_text()) == cache.load(tmp_path, key).meta
    sidecar.unlink()  # the .json is a copy for people; the npz alone is the entry
    assert cache.load(tmp_path, key) is not None
    npz.unlink()
    assert cache.load(tmp_path, key) is None


def _truncate(npz: Path, sidecar: Path) -> None:
    data = npz.read_bytes()
    npz.write_bytes(data[: len(data) // 2])


def _flip_byte(npz: Path, sidecar: Path) -> None:
    data = bytearray(npz.read_bytes())
    data[len(data) // 3] ^= 0x01
    npz.write_bytes(bytes(data))


def _rewrite(npz: Path, arrays: dict, sidecar_text: str) -> None:
    packed = np.frombuffer(sidecar_text.encode(), dtype=np.uint8)
    with npz.open("wb") as f:
        np.savez(f, **{cache.SIDECAR: packed}, **arrays)


def _garbage_sidecar(npz: Path, sidecar: Path) -> None:
    _rewrite(npz, _arrays(), '{"config": {"n": 8}, "arr')


def _missing_array(npz: Path, sidecar: Path) -> None:
    text = sidecar.read_text()
    _rewrite(npz, {k: v for k, v in _arrays().items() if k != "steps"}, text)


def _no_sidecar(npz: Path, sidecar: Path) -> None:
    with npz.open("wb") as f:
        np.savez(f, **_arrays())


@pytest.mark.parametrize(
    ("damage", "which", "what"),
    [
        (_truncate, "npz", "unreadable npz"),
        (_flip_byte, "npz", "unreadable npz"),
        (_garbage_sidecar, "npz", "unreadable sidecar"),
        (_missing_array, "npz", r"missing array\(s\) \['steps'\]"),
        (_no_sidecar, "npz", "no sidecar inside the npz"),
    ],
)
def test_corruption_is_reported(tmp_path: Path, damage, which: str, what: str) -> None:
    key, npz, sidecar = _saved(tmp_path)
    damage(npz, sidecar)
    named = npz if which == "npz" else sidecar
    with pytest.raises(CorruptCacheError, match=what) as info:
        cache.load(tmp_path, key)
    assert str(info.value).startswith(f"{named}: ")
    assert isinstance(info.value, RuntimeError)


def test_stale_config_is_refused(tmp_path: Path) -> None:
    key, npz, _ = _saved(tmp_path)
    with pytest.raises(CorruptCacheError, match=str(npz)):
        cache.load(tmp_path, key, expected_config={**CONFIG, "n": 9})


def test_load_or_compute_recomputes_once_after_corruption(tmp_path: Path) -> None:
    key, npz, sidecar = _saved(tmp_path)
    _flip_byte(npz, sidecar)
    calls: list[int] = []
    logged: list[str] = []

    def compute():
        calls.append(1)
        return _arrays(), _meta()

    entry = cache.load_or_compute(tmp_path, key, compute, log=logged.append)
    assert len(calls) == 1 and not entry.from_cache
    assert len(logged) == 1 and str(npz) in logged[0] and "corrupt" in logged[0]
    np.testing.assert_array_equal(entry.arrays["norms"], _arrays()["norms"])

    again = cache.load_or_compute(tmp_path, key, compute, log=logged.append)
    assert len(calls) == 1 and again.from_cache and len(logged) == 1
    assert again.meta == entry.meta


def test_load_or_compute_miss(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute():
        calls.append(1)
        return _arrays(), _meta()

    entry = cache.load_or_compute(tmp_path / "new", "k1", compute, log=pytest.fail)
    assert len(calls) == 1 and not entry.from_cache
    assert cache.load(tmp_path / "new", "k1") is not None


def test_crash_during_the_write_leaves_no_entry_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def crashing_replace(src, dst):
        if str(dst).endswith(".npz"):
            raise OSError("simulated crash")
        real_replace(src, dst)

    key = cache.config_key(CONFIG, "0.0-test")
    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(OSError, match="simulated crash"):
        cache.save(tmp_path, key, _arrays(), _meta())
    monkeypatch.undo()
    assert cache.load(tmp_path, key) is None
    assert list(tmp_path.iterdir()) == []


def test_crash_while_overwriting_keeps_the_old_entry_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _, _ = _saved(tmp_path)
    real_replace = os.replace

    def crashing_replace(src, dst):
        if str(dst).endswith(".npz"):
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    changed = {**_arrays(), "norms": np.zeros((5, 3))}
    with pytest.raises(OSError, match="simulated crash"):
        cache.save(tmp_path, key, changed, _meta())
    monkeypatch.undo()
    entry = cache.load(tmp_path, key)
    np.testing.assert_array_equal(entry.arrays["norms"], _arrays()["norms"])


def test_rejects_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid cache key"):
        cache.save(tmp_path, "../escape", _arrays(), _meta())
    with pytest.raises(ValueError, match="reserved"):
        cache.save(tmp_path, "k", _arrays(), {**_meta(), "arrays": 1})
    with pytest.raises(ValueError, match="config"):
        cache.save(tmp_path, "k", _arrays(), {"note": "no config"})
    with pytest.raises(ValueError, match="object dtype"):
        cache.save(tmp_path, "k", {"o": np.array([None])}, _meta())
    assert list(tmp_path.iterdir()) == []


def test_cached_arrays_computes_once_and_records_the_spec(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3.0)}

    spec = {"computation": "test", "config": {"a": 1}}
    first = cache.cached_arrays(spec, compute)
    again = cache.cached_arrays(spec, compute)
    other = cache.cached_arrays({**spec, "config": {"a": 2}}, compute)
    assert len(calls) == 2
    np.testing.assert_array_equal(first["x"], again["x"])
    np.testing.assert_array_equal(other["x"], np.arange(3.0))
    sidecars = [json.loads(p.read_text()) for p in tmp_path.rglob("*.json")]
    [sidecar] = [meta for meta in sidecars if meta.get("config") == spec]
    assert sidecar["code"] == cache.code_identity()
