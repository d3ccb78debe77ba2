"""Results cache for simulations: one `<key>.npz` of arrays plus a `<key>.json` sidecar.

An entry is keyed by a hash of the full config and the package version, so changing
either never reuses a stale result. Both files are written atomically (temporary file,
fsync, rename) and the sidecar is written last: its presence marks a complete entry.
The sidecar records the config, user metadata, library versions, the git revision and
the npz's sha256; `load` checks all of it and raises `CorruptCacheError` rather than
return anything it cannot vouch for. Sidecars hold no timestamps, so a rerun of the
same computation reproduces them byte for byte.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np

from normtheory._version import __version__

__all__ = [
    "CacheEntry",
    "CorruptCacheError",
    "cache_dir",
    "config_key",
    "git_revision",
    "load",
    "load_or_compute",
    "save",
]

ENV_VAR = "NORMTHEORY_CACHE"
FORMAT = 1
_RESERVED = frozenset({"format", "key", "versions", "git_revision", "npz_sha256", "arrays"})
_REQUIRED = ("format", "key", "config", "versions", "git_revision", "npz_sha256", "arrays")
_KEY_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]*")
_T = TypeVar("_T")


class CorruptCacheError(RuntimeError):
    """A cache entry exists but cannot be trusted; the message names the file and the fault."""


@dataclass(frozen=True, eq=False)
class CacheEntry:
    """A loaded (or freshly computed and saved) entry.

    `arrays` are fully in memory; `meta` is the parsed sidecar: the caller's metadata
    (including `config`) plus provenance (`versions`, `git_revision`, `npz_sha256`,
    `arrays`). `path` is the npz file.
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    path: Path
    from_cache: bool


def _canonical(value: Any, field: str) -> Any:
    """Reduce `value` to JSON types, deterministically; TypeError names the offending field."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _canonical(dataclasses.asdict(value), field)
    if isinstance(value, np.generic) and not isinstance(value, np.void | np.object_):
        return _canonical(value.item(), field)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{field}: mapping key {k!r} is not a string")
            out[k] = _canonical(v, f"{field}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_canonical(v, f"{field}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"{field}: value of type {type(value).__name__} is not JSON-serialisable "
        "(use None, bool, int, float, str, lists, tuples, mappings or dataclasses)"
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def config_key(config: Mapping[str, Any], version: str = __version__) -> str:
    """Stable 16-hex-digit key for `config` under package `version`.

    Independent of mapping order; tuples and lists hash alike, as do a dataclass and
    the dict of its fields. Floats are encoded with repr, so 1 and 1.0 differ.
    """
    payload = _dumps({"config": _canonical(config, "config"), "version": version})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    """The cache directory: `$NORMTHEORY_CACHE` if set and non-empty, else `./results`."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path.cwd() / "results"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.cache
def git_revision() -> str | None:
    """HEAD of the repository holding this source, with "-dirty" for a modified tree.

    None when git or the repository is unavailable; never raises. Computed once per
    process.
    """
    head = _git("rev-parse", "HEAD")
    if not head or not head.strip():
        return None
    status = _git("status", "--porcelain")
    return head.strip() + ("-dirty" if status and status.strip() else "")


def _version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _paths(directory: str | os.PathLike[str], key: str) -> tuple[Path, Path]:
    if not _KEY_PATTERN.fullmatch(key):
        raise ValueError(f"invalid cache key {key!r}: use letters, digits, '_', '.', '-'")
    directory = Path(directory)
    return directory / f"{key}.npz", directory / f"{key}.json"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically: a reader sees the old file or the new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path


def _atomic_write(path: Path, write: Callable[[BinaryIO], _T]) -> _T:
    """Run `write` on a temporary file beside `path`, fsync it, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w+b") as f:
            result = write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return result


def _sha256(f: BinaryIO) -> str:
    f.seek(0)
    return hashlib.file_digest(f, "sha256").hexdigest()


def _write(
    directory: str | os.PathLike[str],
    key: str,
    arrays: Mapping[str, Any],
    meta: Mapping[str, Any],
) -> tuple[Path, dict[str, np.ndarray], dict[str, Any]]:
    npz_path, json_path = _paths(directory, key)
    if "config" not in meta:
        raise ValueError("meta must contain 'config'")
    clash = _RESERVED.intersection(meta)
    if clash:
        raise ValueError(f"meta uses reserved sidecar field(s) {sorted(clash)}")
    user_meta = _canonical(dict(meta), "meta")
    arrays = {name: np.asarray(a) for name, a in arrays.items()}
    for name, a in arrays.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"array name {name!r} must be a non-empty string")
        if a.dtype.hasobject:
            raise ValueError(f"array {name!r} has object dtype, which the cache does not store")

    npz_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.unlink(missing_ok=True)

    def write_npz(f: BinaryIO) -> str:
        np.savez(f, **arrays)
        f.flush()
        return _sha256(f)

    sidecar = {
        **user_meta,
        "format": FORMAT,
        "key": key,
        "versions": {
            "normtheory": __version__,
            "jax": _version_of("jax"),
            "jaxlib": _version_of("jaxlib"),
            "numpy": np.__version__,
        },
        "git_revision": git_revision(),
        "npz_sha256": _atomic_write(npz_path, write_npz),
        "arrays": {
            name: {"shape": list(a.shape), "dtype": a.dtype.str} for name, a in arrays.items()
        },
    }
    text = json.dumps(sidecar, sort_keys=True, indent=2, ensure_ascii=True) + "\n"
    _atomic_write(json_path, lambda f: f.write(text.encode()))
    return npz_path, arrays, sidecar


def save(
    directory: str | os.PathLike[str],
    key: str,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
) -> Path:
    """Store `arrays` under `key`; return the npz path.

    `meta` must hold `config` and may hold other JSON-able fields, which are kept in the
    sidecar next to the provenance (reserved names are rejected). An existing entry for
    `key` is replaced; its old sidecar is removed first, so a crash mid-save leaves the
    entry missing rather than pairing an old sidecar with a new npz.
    """
    return _write(directory, key, arrays, meta)[0]


def _corrupt(path: Path, what: str) -> CorruptCacheError:
    return CorruptCacheError(f"{path}: {what}; delete it or rerun to recompute")


def _read_sidecar(json_path: Path, key: str) -> dict[str, Any]:
    try:
        sidecar = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _corrupt(json_path, f"unreadable sidecar ({err})") from err
    if not isinstance(sidecar, dict):
        raise _corrupt(json_path, "sidecar is not a JSON object")
    missing = [name for name in _REQUIRED if name not in sidecar]
    if missing:
        raise _corrupt(json_path, f"sidecar lacks field(s) {missing}")
    if sidecar["format"] != FORMAT:
        raise _corrupt(json_path, f"unknown sidecar format {sidecar['format']!r}")
    if sidecar["key"] != key:
        raise _corrupt(json_path, f"sidecar belongs to key {sidecar['key']!r}, not {key!r}")
    listed = sidecar["arrays"]
    well_formed = (
        isinstance(sidecar["npz_sha256"], str)
        and isinstance(listed, dict)
        and all(
            isinstance(spec, dict)
            and isinstance(spec.get("dtype"), str)
            and isinstance(spec.get("shape"), list)
            and all(isinstance(n, int) for n in spec["shape"])
            for spec in listed.values()
        )
    )
    if not well_formed:
        raise _corrupt(json_path, "malformed 'npz_sha256' or 'arrays' field in sidecar")
    return sidecar


def _read_arrays(npz_path: Path, listed: Mapping[str, Any]) -> dict[str, np.ndarray]:
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except Exception as err:
        raise _corrupt(npz_path, f"unreadable npz ({type(err).__name__}: {err})") from err
    absent = sorted(set(listed) - set(arrays))
    if absent:
        raise _corrupt(npz_path, f"missing array(s) {absent}")
    extra = sorted(set(arrays) - set(listed))
    if extra:
        raise _corrupt(npz_path, f"array(s) {extra} not listed in the sidecar")
    for name, spec in listed.items():
        a = arrays[name]
        if list(a.shape) != spec["shape"] or a.dtype.str != spec["dtype"]:
            raise _corrupt(
                npz_path,
                f"array {name!r} is {a.dtype.str}{list(a.shape)}, "
                f"sidecar says {spec['dtype']}{spec['shape']}",
            )
    return arrays


def load(
    directory: str | os.PathLike[str],
    key: str,
    *,
    expected_config: Mapping[str, Any] | None = None,
) -> CacheEntry | None:
    """The verified entry for `key`, or None if there is none.

    An npz without a sidecar is an interrupted write: it is removed and reported as
    missing. Anything else that does not check out (sidecar fields, checksum, array
    names, shapes, dtypes, or a config differing from `expected_config`) raises
    `CorruptCacheError`.
    """
    npz_path, json_path = _paths(directory, key)
    if not json_path.exists():
        npz_path.unlink(missing_ok=True)
        return None
    sidecar = _read_sidecar(json_path, key)
    if expected_config is not None:
        wanted = _dumps(_canonical(expected_config, "expected_config"))
        if _dumps(sidecar["config"]) != wanted:
            raise _corrupt(
                json_path, "stored config differs from the requested one (hash collision or edit)"
            )
    try:
        with npz_path.open("rb") as f:
            digest = _sha256(f)
    except FileNotFoundError as err:
        raise _corrupt(npz_path, "missing although its sidecar exists") from err
    except OSError as err:
        raise _corrupt(npz_path, f"unreadable ({err})") from err
    if digest != sidecar["npz_sha256"]:
        raise _corrupt(npz_path, "checksum mismatch (truncated or modified)")
    arrays = _read_arrays(npz_path, sidecar["arrays"])
    return CacheEntry(arrays=arrays, meta=sidecar, path=npz_path, from_cache=True)


def _remove(directory: str | os.PathLike[str], key: str) -> None:
    npz_path, json_path = _paths(directory, key)
    json_path.unlink(missing_ok=True)
    npz_path.unlink(missing_ok=True)


def load_or_compute(
    directory: str | os.PathLike[str],
    key: str,
    compute: Callable[[], tuple[Mapping[str, np.ndarray], Mapping[str, Any]]],
    *,
    log: Callable[[str], object] = print,
    expected_config: Mapping[str, Any] | None = None,
) -> CacheEntry:
    """The cached entry for `key`, computing and saving it on a miss.

    A corrupt entry is reported through `log`, deleted and recomputed. `compute`
    returns `(arrays, meta)` as `save` takes them.
    """
    try:
        entry = load(directory, key, expected_config=expected_config)
    except CorruptCacheError as err:
        log(f"warning: discarding corrupt cache entry {key!r} and recomputing: {err}")
        _remove(directory, key)
        entry = None
    if entry is not None:
        return entry
    arrays, meta = compute()
    path, stored, sidecar = _write(directory, key, arrays, meta)
    return CacheEntry(arrays=stored, meta=sidecar, path=path, from_cache=False)
