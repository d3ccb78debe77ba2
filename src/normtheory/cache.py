"""Results cache: one `<key>.npz` per entry, its provenance inside it and beside it.

An entry is keyed by a hash of what changes its numbers: the config (science only,
never execution settings such as chunking) and the identity of the code that computes
it (`code_identity`: the package's numeric source files and the versions of jax,
jaxlib and optax; a config of the WordNet data family adds wordfreq's version,
`config_key`). Editing the engine, a model, a loss or a law therefore never
reuses a result computed by the older code.

Atomic for readers: an entry is one file. The arrays and the sidecar (config, user
metadata, library versions, git revision, array listing) are written together into a
temporary npz that is fsynced and renamed into place, so a reader sees the old entry,
the new one, or none; never half of one. A human-readable copy of the sidecar is then
written to `<key>.json`; readers never rely on it. A reader never deletes anything: a
corrupt entry is reported and replaced by the next complete write (rename), and an
entry it cannot read (another user's, say) stops the run with a one-line error
instead of being overwritten. Temporary files left by dead writers are removed: only
those of this host, boot and PID namespace whose process is gone (a PID says nothing
about a writer in another container), and any left for over a day. Files are created
with the permissions the umask allows, like any other file.

An entry already present is read without writing anything, so a read-only archive of
results serves them. On a miss the cache location is checked (exists or can be
created, is a folder, is writable, and has room for the expected result) before any
computation. A computed result is never lost to a failed write: if the cache folder
cannot take it (a disk that filled during the run, say), it is written to
`fallback_dir()` and the warning says where; if that fails too, it is still returned,
and the warning says it was not saved.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from normtheory._files import atomic_write as _atomic_write
from normtheory._files import remove_stale_temporaries, writer_tag
from normtheory._version import __version__
from normtheory.provenance import git_revision, version_of

__all__ = [
    "CacheEntry",
    "CacheLocationError",
    "CorruptCacheError",
    "cache_dir",
    "cached_arrays",
    "check_location",
    "code_identity",
    "config_key",
    "fallback_dir",
    "format_bytes",
    "load",
    "load_or_compute",
    "save",
    "store",
]

ENV_VAR = "NORMTHEORY_CACHE"
FORMAT = 2
SIDECAR = "__sidecar__"
_RESERVED = frozenset({"format", "key", "versions", "git_revision", "code", "arrays"})
_REQUIRED = ("format", "key", "config", "versions", "git_revision", "code", "arrays")
_KEY_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]*")

_PACKAGE = Path(__file__).resolve().parent
_PACKAGE_NAME = __name__.partition(".")[0]
# The computation whose closure every identity includes: a simulation (`normtheory.runs`).
_SIMULATION = "runs.py"
# Sources in an import closure that never change a computed number: the package's lazy
# public surface and version string, and this store with its file writing and provenance
# (they make the key and write the files, not the numbers).
_STORE_ONLY = ("__init__.py", "_version.py", "cache.py", "_files.py", "provenance.py")
_LIBRARIES = ("jax", "jaxlib", "optax")
# wordfreq chooses the words of the "wordnet" data family and nothing else: its version
# keys only a result whose spec runs that family (`config_key`), so that a machine without
# the probe's extra (no wordfreq, no WordNet family) shares every other key, and the
# records' code identities, with one that has it.
_WORD_FREQUENCIES = "wordfreq"
_WORD_FAMILY = "wordnet"


class CorruptCacheError(RuntimeError):
    """A cache entry exists but cannot be trusted; the message names the file and the fault."""


class CacheLocationError(OSError):
    """The cache folder cannot hold results; the message names it and NORMTHEORY_CACHE."""


@dataclass(frozen=True, eq=False)
class CacheEntry:
    """A loaded (or freshly computed and saved) entry.

    `arrays` are fully in memory; `meta` is the parsed sidecar: the caller's metadata
    (including `config`) plus provenance (`versions`, `git_revision`, `code`, `arrays`).
    `path` is the npz file (in `fallback_dir()` when the cache folder could not take a
    new entry; None when no folder could).
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    path: Path | None
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


def _module_file(name: str) -> Path | None:
    """The source of package module `name` (dotted), or None outside the package."""
    parts = name.split(".")
    if parts[0] != _PACKAGE_NAME:
        return None
    base = _PACKAGE.joinpath(*parts[1:])
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(_PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((_PACKAGE_NAME, *parts))


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_modules(path: Path) -> set[str]:
    """Dotted names of the modules `path` imports anywhere (functions included), with
    the packages they live in; imports under `if TYPE_CHECKING:` are skipped."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_bytes(), filename=str(path)))
    modules = set()
    for module in found:
        parts = module.split(".")
        modules.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return modules


def _closure(roots: tuple[str, ...]) -> list[Path]:
    """The package sources that the modules at `roots` import, transitively.

    Args:
        roots: paths relative to the package: a module ("runs.py") or a folder
            ("verify": every module in it).

    Returns:
        Sorted source paths: the roots, every package module they import (at module
        level or inside functions; a module imported by a string through importlib, as
        the lazy public surfaces do, is not followed), and the packages containing them.
        The modules of `_STORE_ONLY` are left out.
    """
    pending: list[Path] = []
    for root in roots:
        path = _PACKAGE / root
        if path.is_dir():
            pending.extend(sorted(path.rglob("*.py")))
        elif path.is_file():
            pending.append(path)
        else:
            raise ValueError(f"code identity: no module or folder {root!r} in the package")
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imported_modules(path):
            source = _module_file(module)
            if source is not None and source not in seen:
                pending.append(source)
    skipped = {_PACKAGE / name for name in _STORE_ONLY}
    return sorted(seen - skipped)


@functools.cache
def code_identity(*roots: str) -> str:
    """A 16-hex-digit hash of the code that computes a cached result.

    Covers the bytes of the sources in the import closure (`_closure`) of a simulation
    (`runs.py`) and of `roots`, the package paths of the computation's own modules (a
    folder such as "verify", or a module such as "calibrate/run.py"), and the installed
    versions of jax, jaxlib and optax (wordfreq's keys only the results that read it:
    `config_key`). A module outside the closure (a figure,
    the report, the command line, a law no computation imports) never changes it.
    Computed once per process.
    """
    digest = hashlib.sha256()
    for path in _closure((_SIMULATION, *roots)):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in _LIBRARIES:
        digest.update(f"{name}={version_of(name)}\0".encode())
    return digest.hexdigest()[:16]


def config_key(config: Mapping[str, Any], code: str | None = None) -> str:
    """Stable 16-hex-digit key for `config` computed by code of identity `code`.

    `code` defaults to `code_identity()`. Independent of mapping order; tuples and
    lists hash alike, as do a dataclass and the dict of its fields. Floats are encoded
    with repr, so 1 and 1.0 differ. A config that runs the "wordnet" data family anywhere
    (a mapping with data = "wordnet") is also keyed by the installed wordfreq's version,
    which chooses that family's words.
    """
    code = code_identity() if code is None else code
    canonical = _canonical(config, "config")
    payload = {"config": canonical, "code": code}
    if _reads_word_frequencies(canonical):
        payload[_WORD_FREQUENCIES] = version_of(_WORD_FREQUENCIES)
    return hashlib.sha256(_dumps(payload).encode()).hexdigest()[:16]


def _reads_word_frequencies(spec: Any) -> bool:
    """Whether a canonical spec runs the "wordnet" data family somewhere in it."""
    if isinstance(spec, Mapping):
        return spec.get("data") == _WORD_FAMILY or any(
            _reads_word_frequencies(v) for v in spec.values()
        )
    if isinstance(spec, list | tuple):
        return any(_reads_word_frequencies(v) for v in spec)
    return False


def cache_dir() -> Path:
    """The cache directory: `$NORMTHEORY_CACHE` if set and non-empty, else `./results`."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path.cwd() / "results"


def fallback_dir() -> Path:
    """Where a computed result goes when its cache folder cannot take it."""
    return Path(tempfile.gettempdir()) / "normtheory-unsaved"


def check_location(
    directory: str | os.PathLike[str],
    *,
    what: str = "cache folder",
    hint: str = f"set {ENV_VAR} to a writable folder",
    need_bytes: float = 0,
) -> Path:
    """Make sure `directory` can hold files (create it if needed); return it.

    Raises CacheLocationError with one line naming the folder (as `what`) and how to
    fix it (`hint`; by default, NORMTHEORY_CACHE) when it is not a folder, cannot be
    created, is not writable, or has less than `need_bytes` free.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CacheLocationError(f"{what} {directory} is not a folder; {hint}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CacheLocationError(
            f"cannot create {what} {directory} ({err.strerror or err}); {hint}"
        ) from None
    probe = directory / f".write-test.{writer_tag()}.tmp"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        probe.unlink(missing_ok=True)
        raise CacheLocationError(
            f"{what} {directory} is not writable ({err.strerror or err}); {hint}"
        ) from None
    if need_bytes > 0:
        try:
            free = shutil.disk_usage(directory).free
        except OSError:
            free = None
        if free is not None and free < need_bytes:
            raise CacheLocationError(
                f"{what} {directory} has {format_bytes(free)} free but the result needs about "
                f"{format_bytes(need_bytes)}; free some space or {hint}"
            )
    return directory


def format_bytes(n: float) -> str:
    """`n` bytes in the largest binary unit that keeps the number >= 1 (B ... EiB)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"


def _paths(directory: str | os.PathLike[str], key: str) -> tuple[Path, Path]:
    if not _KEY_PATTERN.fullmatch(key):
        raise ValueError(f"invalid cache key {key!r}: use letters, digits, '_', '.', '-'")
    directory = Path(directory)
    return directory / f"{key}.npz", directory / f"{key}.json"


def _check_meta(meta: Mapping[str, Any], arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    if "config" not in meta:
        raise ValueError("meta must contain 'config'")
    clash = _RESERVED.intersection(meta)
    if clash:
        raise ValueError(f"meta uses reserved sidecar field(s) {sorted(clash)}")
    arrays = {name: np.asarray(a) for name, a in arrays.items()}
    for name, a in arrays.items():
        if not isinstance(name, str) or not name or name == SIDECAR:
            raise ValueError(f"array name {name!r} must be a non-empty string, not {SIDECAR!r}")
        if a.dtype.hasobject:
            raise ValueError(f"array {name!r} has object dtype, which the cache does not store")
    return arrays


def _write(
    directory: str | os.PathLike[str],
    key: str,
    arrays: Mapping[str, Any],
    meta: Mapping[str, Any],
    code: str | None = None,
) -> tuple[Path, dict[str, np.ndarray], dict[str, Any]]:
    npz_path, json_path = _paths(directory, key)
    arrays = _check_meta(meta, arrays)
    user_meta = _canonical(dict(meta), "meta")
    sidecar = {
        **user_meta,
        "format": FORMAT,
        "key": key,
        "code": code_identity() if code is None else code,
        "versions": {
            "normtheory": __version__,
            "jax": version_of("jax"),
            "jaxlib": version_of("jaxlib"),
            "optax": version_of("optax"),
            "numpy": np.__version__,
        },
        "git_revision": git_revision(),
        "arrays": {
            name: {"shape": list(a.shape), "dtype": a.dtype.str} for name, a in arrays.items()
        },
    }
    text = json.dumps(sidecar, sort_keys=True, indent=2, ensure_ascii=True) + "\n"
    packed = np.frombuffer(text.encode(), dtype=np.uint8)

    npz_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(npz_path.parent)
    _atomic_write(npz_path, lambda f: np.savez(f, **{SIDECAR: packed}, **arrays))
    try:  # a copy for people; the npz holds the sidecar that readers use
        _atomic_write(json_path, lambda f: f.write(text.encode()))
    except OSError:
        pass
    return npz_path, arrays, sidecar


def save(
    directory: str | os.PathLike[str],
    key: str,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    *,
    code: str | None = None,
) -> Path:
    """Store `arrays` under `key` in one atomic write; return the npz path.

    `meta` must hold `config` and may hold other JSON-able fields, which are kept in the
    sidecar next to the provenance (reserved names are rejected). `code` is the code
    identity recorded (default `code_identity()`). An existing entry for `key` is
    replaced by the rename; a reader sees the old entry or the new one. A failed write
    raises CacheLocationError naming the file (use `store` to fall back instead).
    """
    try:
        return _write(directory, key, arrays, meta, code)[0]
    except OSError as err:
        raise CacheLocationError(
            f"cannot write {_paths(directory, key)[0]} ({err.strerror or err})"
        ) from None


def _warn(message: str) -> None:
    import sys

    print(message, file=sys.stderr)


def store(
    directory: str | os.PathLike[str],
    key: str,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    *,
    code: str | None = None,
    log: Callable[[str], object] | None = None,
) -> CacheEntry:
    """`save` that never loses the arrays: if `directory` cannot take the entry, write
    it to `fallback_dir()`; if that fails too, return it unsaved (path None). Each
    fallback is reported through `log` (default: standard error) in one line.
    """
    log = log or _warn
    try:
        path, stored, sidecar = _write(directory, key, arrays, meta, code)
        return CacheEntry(arrays=stored, meta=sidecar, path=path, from_cache=False)
    except OSError as err:
        failed = f"could not write {_paths(directory, key)[0]} ({err.strerror or err})"
    spare = fallback_dir()
    try:
        if spare.resolve() == Path(directory).resolve():
            raise OSError("it is the cache folder itself")
        spare.mkdir(parents=True, exist_ok=True)
        path, stored, sidecar = _write(spare, key, arrays, meta, code)
    except OSError as err:
        log(
            f"warning: {failed}, nor to {spare} ({err.strerror or err}); the result is "
            "returned but not saved"
        )
        return CacheEntry(arrays=_check_meta(meta, arrays), meta={}, path=None, from_cache=False)
    log(f"warning: {failed}; saved it to {path} instead (move it into {directory} to reuse it)")
    return CacheEntry(arrays=stored, meta=sidecar, path=path, from_cache=False)


def _corrupt(path: Path, what: str) -> CorruptCacheError:
    return CorruptCacheError(f"{path}: {what}; delete it or rerun to recompute")


def _parse_sidecar(npz_path: Path, raw: np.ndarray, key: str) -> dict[str, Any]:
    try:
        sidecar = json.loads(np.asarray(raw, dtype=np.uint8).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as err:
        raise _corrupt(npz_path, f"unreadable sidecar ({err})") from err
    if not isinstance(sidecar, dict):
        raise _corrupt(npz_path, "sidecar is not a JSON object")
    missing = [name for name in _REQUIRED if name not in sidecar]
    if missing:
        raise _corrupt(npz_path, f"sidecar lacks field(s) {missing}")
    if sidecar["format"] != FORMAT:
        raise _corrupt(npz_path, f"unknown sidecar format {sidecar['format']!r}")
    if sidecar["key"] != key:
        raise _corrupt(npz_path, f"sidecar belongs to key {sidecar['key']!r}, not {key!r}")
    listed = sidecar["arrays"]
    well_formed = isinstance(listed, dict) and all(
        isinstance(spec, dict)
        and isinstance(spec.get("dtype"), str)
        and isinstance(spec.get("shape"), list)
        and all(isinstance(n, int) for n in spec["shape"])
        for spec in listed.values()
    )
    if not well_formed:
        raise _corrupt(npz_path, "malformed 'arrays' field in sidecar")
    return sidecar


def _read(npz_path: Path, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """Arrays and sidecar of the entry at `npz_path`; None when there is no entry."""
    try:
        data = npz_path.read_bytes()
    except FileNotFoundError:
        return None
    except PermissionError as err:
        raise CacheLocationError(
            f"cannot read cache entry {npz_path} ({err.strerror}); it belongs to another "
            f"user or process: ask its owner to make it readable, or set {ENV_VAR} to "
            "another folder"
        ) from None
    except OSError as err:
        raise _corrupt(npz_path, f"unreadable ({err})") from err
    try:
        # Reading every member to its end makes zipfile check each member's CRC-32.
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        raise _corrupt(npz_path, f"unreadable npz ({type(err).__name__}: {err})") from err
    if SIDECAR not in arrays:
        raise _corrupt(npz_path, "no sidecar inside the npz")
    sidecar = _parse_sidecar(npz_path, arrays.pop(SIDECAR), key)
    listed = sidecar["arrays"]
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
    return arrays, sidecar


def load(
    directory: str | os.PathLike[str],
    key: str,
    *,
    expected_config: Mapping[str, Any] | None = None,
) -> CacheEntry | None:
    """The verified entry for `key`, or None if there is none.

    Anything that does not check out (the zip's CRCs, sidecar fields, array names,
    shapes, dtypes, or a config differing from `expected_config`) raises
    `CorruptCacheError`; an entry this process may not read raises
    `CacheLocationError`. Nothing is ever deleted here.
    """
    npz_path, _ = _paths(directory, key)
    found = _read(npz_path, key)
    if found is None:
        return None
    arrays, sidecar = found
    if expected_config is not None:
        wanted = _dumps(_canonical(expected_config, "expected_config"))
        if _dumps(sidecar["config"]) != wanted:
            raise _corrupt(
                npz_path, "stored config differs from the requested one (hash collision or edit)"
            )
    return CacheEntry(arrays=arrays, meta=sidecar, path=npz_path, from_cache=True)


def load_or_compute(
    directory: str | os.PathLike[str],
    key: str,
    compute: Callable[[], tuple[Mapping[str, np.ndarray], Mapping[str, Any]]],
    *,
    log: Callable[[str], object] | None = None,
    expected_config: Mapping[str, Any] | None = None,
    code: str | None = None,
    need_bytes: float = 0,
) -> CacheEntry:
    """The cached entry for `key`, computing and saving it on a miss.

    A present entry is read without any write (a read-only folder serves it). On a miss
    the folder is checked (`check_location`, with `need_bytes` of room) before computing,
    and the result is saved with `store`, so it is never lost to a failed write. A
    corrupt entry is reported through `log` (default: standard error) and replaced by
    the recomputed one.

    Args:
        directory: the cache folder (created if missing; refused with
            CacheLocationError if it cannot hold results).
        key: the entry's key (`config_key` of what the entry depends on).
        compute: returns `(arrays, meta)` as `save` takes them (a dict of numpy arrays
            and a JSON-able dict).
        log: where corrupt-entry messages go (default: standard error).
        expected_config: the config the entry must record (guards a key collision).
        code: the code identity recorded with a new entry (`code_identity()`).
        need_bytes: room the new entry needs (an estimate; 0 skips the check).

    Returns:
        The CacheEntry (arrays and sidecar), loaded or just computed and saved.
    """
    log = log or _warn
    if Path(directory).exists() and not Path(directory).is_dir():
        check_location(directory)  # raises, naming the folder
    try:
        entry = load(directory, key, expected_config=expected_config)
    except CorruptCacheError as err:
        log(f"warning: corrupt cache entry {key!r}, recomputing it: {err}")
        entry = None
    if entry is not None:
        return entry
    check_location(directory, need_bytes=need_bytes)
    arrays, meta = compute()
    return store(directory, key, arrays, meta, code=code, log=log)


def cached_arrays(
    spec: Mapping[str, Any],
    compute: Callable[[], Mapping[str, np.ndarray]],
    *extra: str,
    log: Callable[[str], object] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of a computation described by `spec`, through the results cache.

    The key is `config_key(spec, code_identity(*extra))` in `cache_dir()`; the entry
    records `spec` as its config (checked on load) and the code identity.

    Args:
        spec: JSON-able description of everything the arrays depend on besides the code
            (the computation's name, its config, seeds, inputs).
        compute: returns the arrays on a miss.
        extra: paths `code_identity` adds (a package folder whose own computations
            are cached, e.g. "verify").
        log: where corrupt-entry messages go (default: standard error).

    Returns:
        The arrays, loaded or just computed and saved.
    """
    code = code_identity(*extra)
    entry = load_or_compute(
        cache_dir(),
        config_key(spec, code),
        lambda: (compute(), {"config": spec}),
        log=log,
        expected_config=spec,
        code=code,
    )
    return entry.arrays
