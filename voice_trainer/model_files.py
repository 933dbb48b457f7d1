"""Trust the weights we load: a manifest of every model file, checked before the first load in a process.

``data/model_manifest.json`` lists each model voice-trainer loads from a package (or builds into its cache) with
the size and sha256 of every file. :func:`verify` checks a model's files before a loader opens them:

1. every file's size (one ``stat`` each);
2. every file's sha256, computed once and remembered in ``$XDG_CACHE_HOME/voice-trainer/model-hashes.json``
   keyed by the file's absolute path, size, mtime and ctime, so a warm start only stats the files;
3. the result is remembered for the rest of the process.

A mismatch raises :class:`ModelFileError` (a :class:`UserError`: one line, exit 2 from the CLI) naming the file
and the command that reinstalls its package; the caller loads nothing. A model the user gives (a folder or a
faster-whisper name) is not in the manifest and is not checked, but :func:`user_model` hashes its weights so
results still say which file produced them.

Results record the models that produced them with :func:`used`: one :class:`ModelRef` per model (its weights
file and a short sha256). To add a model: add one entry to the manifest, pin its package in ``pyproject.toml``,
and call ``verify("its-id")`` in its loader. An entry whose package is not installed is listed as
``not installed``; only loading it fails.

Limit: a warm start trusts a file whose path, size, mtime and ctime are unchanged since it was hashed. Changing
a file's contents while keeping all four needs root and a changed clock; delete the hash cache to re-hash all.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .atomic import write_json_atomic
from .config import cache_dir
from .errors import UserError

SHORT_HASH = 12
"""Hex digits of a sha256 that results record (48 bits: enough to tell model files apart)."""
MANIFEST_NAME = "model_manifest.json"
HASH_CACHE_NAME = "model-hashes.json"
HASH_CACHE_VERSION = 1
ROLE_ORDER = ("speech-to-text", "voice activity detection", "pitch tracker")
"""Order of the roles in recorded results (others follow, by name)."""


class ModelFileError(UserError):
    """A model file is missing, or its size or sha256 differs from the manifest. Nothing was loaded."""


@dataclass(frozen=True)
class FileSpec:
    """One file of a model as the manifest expects it."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest (see ``data/model_manifest.json``)."""

    id: str
    role: str
    description: str
    licence: str
    packages: dict[str, str]
    """Distribution name -> the exact version pinned in pyproject.toml."""
    root: dict[str, Any]
    """``{"module": m, "path": p}``: folder ``p`` inside the installed package ``m``; or ``{"cache": p,
    "built_from": [ids]}``: folder ``p`` under the voice-trainer cache, built from other entries."""
    weights: str
    """The file that holds the network's weights (the one results name)."""
    files: tuple[FileSpec, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def reinstall(self) -> str:
        """The command that puts this model's files back as the manifest expects them."""
        pins = " ".join(f"{p}=={v}" for p, v in self.packages.items())
        if "cache" in self.root:
            return (f"delete the folder {cache_dir() / self.root['cache']} and run again to rebuild it "
                    f"(or reinstall: pip install --force-reinstall {pins})")
        return f"reinstall it: pip install --force-reinstall {pins}"


@dataclass(frozen=True)
class ModelRef:
    """Which model file produced a result: recorded as ``{"model", "file", "sha256", "verified"}``."""

    model: str
    """The manifest id (``whisper-tiny.en``), or what the user gave (a folder or a model name)."""
    file: str
    """The weights file's name inside the model's folder."""
    sha256: str | None
    """Full sha256 of the weights file (None: the file could not be found, e.g. a name not yet downloaded)."""
    verified: bool
    """True: checked against the manifest. False: a user-given model, hashed but not checked."""
    role: str = field(default="speech-to-text", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "file": self.file,
            "sha256": self.sha256[:SHORT_HASH] if self.sha256 else None,
            "verified": self.verified,
        }


# ---------------------------------------------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------------------------------------------


def _parse_manifest(data: dict) -> dict[str, ModelEntry]:
    out: dict[str, ModelEntry] = {}
    for m in data["models"]:
        files = tuple(FileSpec(n, int(f["size"]), str(f["sha256"]).lower()) for n, f in m["files"].items())
        if m["weights"] not in {f.name for f in files}:
            raise ValueError(f"model manifest: {m['id']}: weights file {m['weights']!r} is not among its files")
        out[m["id"]] = ModelEntry(m["id"], m["role"], m.get("description", ""), m["licence"], dict(m["packages"]),
                                  dict(m["root"]), m["weights"], files)
    return out


@lru_cache(maxsize=1)
def manifest() -> dict[str, ModelEntry]:
    """The shipped manifest, by model id (read once per process)."""
    text = (Path(__file__).parent / "data" / MANIFEST_NAME).read_text(encoding="utf-8")
    return _parse_manifest(json.loads(text))


def entry(model_id: str) -> ModelEntry:
    try:
        return manifest()[model_id]
    except KeyError:
        raise ValueError(f"model {model_id!r} is not in the model manifest") from None


def _module_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, without importing it (None: not installed)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed(e: ModelEntry) -> bool:
    """Whether the packages that hold (or build) this model are installed."""
    if "cache" in e.root:
        return all(installed(entry(b)) for b in e.root.get("built_from", []))
    return _module_dir(e.root["module"]) is not None


def locate(e: ModelEntry) -> Path | None:
    """The folder that holds the model's files (None: its package is not installed)."""
    if "cache" in e.root:
        return cache_dir() / e.root["cache"]
    d = _module_dir(e.root["module"])
    return None if d is None else d / e.root.get("path", "")


# ---------------------------------------------------------------------------------------------------------------
# Hashing, with a cache keyed by path, size, mtime and ctime
# ---------------------------------------------------------------------------------------------------------------


class HashCache:
    """sha256 of files, remembered on disk while a file's path, size, mtime and ctime stay the same."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / HASH_CACHE_NAME
        self._entries: dict[str, list] | None = None
        self._lock = threading.Lock()
        self.hashed = 0
        """Files hashed (cache misses) by this object: what a warm start should keep at 0."""

    def _load(self) -> dict[str, list]:
        if self._entries is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                ok = isinstance(data, dict) and data.get("version") == HASH_CACHE_VERSION
                self._entries = dict(data["files"]) if ok else {}
            except (OSError, ValueError, KeyError, TypeError):
                self._entries = {}  # missing or damaged: re-hash
        return self._entries

    def sha256(self, path: str | os.PathLike, st: os.stat_result | None = None) -> str:
        """sha256 (hex) of ``path``; hashed only when not remembered for this exact size, mtime and ctime."""
        key = os.path.abspath(path)
        st = st or os.stat(key)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        with self._lock:
            hit = self._load().get(key)
            if isinstance(hit, list) and len(hit) == 4 and hit[:3] == stamp:
                return str(hit[3])
        with open(key, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        with self._lock:
            self.hashed += 1
            entries = self._load()
            for gone in [k for k in entries if not os.path.exists(k)]:  # files deleted since: forget them
                del entries[gone]
            entries[key] = [*stamp, digest]
            with contextlib.suppress(OSError):  # a read-only cache costs a re-hash next time, nothing else
                write_json_atomic(self.path, {"version": HASH_CACHE_VERSION, "files": entries})
        return digest


_CACHE: HashCache | None = None
_LOCK = threading.RLock()
_VERIFIED: dict[tuple[str, str], ModelRef] = {}
_USED: dict[str, ModelRef] = {}


def hash_cache() -> HashCache:
    """The process's hash cache (in ``$XDG_CACHE_HOME/voice-trainer``, read on first use)."""
    global _CACHE
    if _CACHE is None or _CACHE.path != cache_dir() / HASH_CACHE_NAME:
        _CACHE = HashCache()
    return _CACHE


def forget() -> None:
    """Forget which folders were verified and the loaded hash cache, as a new process would start.

    The models in use stay recorded: what a loader already loaded is still what produces results.
    """
    global _CACHE
    with _LOCK:
        _VERIFIED.clear()
        _CACHE = None


# ---------------------------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------------------------


def problems(model_id: str, root: str | os.PathLike | None = None, *, hashes: bool = True) -> list[str]:
    """What is wrong with a model's files, one line each (empty: all match the manifest).

    Sizes are checked for every file before any hash is computed, so a truncated or swapped file is found
    without reading gigabytes.
    """
    e = entry(model_id)
    folder = Path(root) if root is not None else locate(e)
    if folder is None:
        pins = " ".join(f"{p}=={v}" for p, v in e.packages.items())
        return [f"model {e.id} is not installed; run: pip install {pins}"]
    out, stats = [], {}
    for f in e.files:
        p = folder / f.name
        try:
            st = os.stat(p)
        except OSError:
            out.append(f"{p}: model file missing; {e.reinstall}")
            continue
        if st.st_size != f.size:
            out.append(f"{p}: model file has {st.st_size} bytes, the manifest says {f.size} (damaged or replaced); "
                       f"{e.reinstall}")
        stats[f] = st
    if out or not hashes:
        return out
    cache = hash_cache()
    for f, st in stats.items():
        p = folder / f.name
        try:
            digest = cache.sha256(p, st)
        except OSError as exc:
            out.append(f"{p}: cannot read model file ({exc.strerror}); {e.reinstall}")
            continue
        if digest != f.sha256:
            out.append(f"{p}: model file sha256 {digest[:SHORT_HASH]} does not match the manifest's "
                       f"{f.sha256[:SHORT_HASH]} (damaged or replaced); {e.reinstall}")
    return out


def verify(model_id: str, root: str | os.PathLike | None = None, *, in_use: bool = True) -> ModelRef:
    """Check a model's files against the manifest before loading it; once per process and folder.

    Parameters
    ----------
    model_id : str
        A manifest id (``whisper-tiny.en``, ``swift-f0``, ...).
    root : path-like, optional
        The folder the loader will read (default: where the manifest says the model is installed).
    in_use : bool
        Remember it as the model in use for its role (False for files that are only built from, not run).

    Returns
    -------
    ModelRef
        The verified weights file; also remembered as the model in use for its role (see :func:`used`).

    Raises
    ------
    ModelFileError
        A file is missing, or its size or sha256 differs; the message names the file and how to reinstall.
    """
    e = entry(model_id)
    folder = Path(root) if root is not None else locate(e)
    key = (model_id, str(folder))
    with _LOCK:
        ref = _VERIFIED.get(key)
        if ref is None:
            bad = problems(model_id, folder)
            if bad:
                raise ModelFileError(bad[0] if len(bad) == 1 else f"{bad[0]} (and {len(bad) - 1} more)")
            w = next(f for f in e.files if f.name == e.weights)
            ref = ModelRef(e.id, w.name, w.sha256, True, e.role)
            _VERIFIED[key] = ref
        if in_use:
            _USED[e.role] = ref
        return ref


def user_model(name: str, folder: str | os.PathLike | None, weights: str = "model.bin",
               role: str = "speech-to-text") -> ModelRef:
    """A model the user chose (not in the manifest): not checked, but its weights file is hashed (cached).

    ``folder`` None (a model name whose files are not on this machine) records no hash.
    """
    digest = None
    if folder is not None:
        with contextlib.suppress(OSError):
            digest = hash_cache().sha256(Path(folder) / weights)
    ref = ModelRef(name, weights, digest, False, role)
    with _LOCK:
        _USED[role] = ref
    return ref


def used(*refs: ModelRef) -> list[dict[str, Any]]:
    """The models that produced a result, for its ``model_files`` field.

    The models verified (or recorded) in this process, one per role, the most recent winning; ``refs`` (e.g. a
    transcriber's own model) replace the entry of their role.
    """
    with _LOCK:
        by_role = dict(_USED)
    for r in refs:
        by_role[r.role] = r
    order = {r: i for i, r in enumerate(ROLE_ORDER)}
    roles = sorted(by_role, key=lambda r: (order.get(r, len(order)), r))
    return [by_role[r].to_dict() for r in roles]


# ---------------------------------------------------------------------------------------------------------------
# The listing (`voice-trainer models`)
# ---------------------------------------------------------------------------------------------------------------


def _installed_version(dist: str) -> str | None:
    from importlib import metadata  # only the listing needs it (15 ms to import)

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def status(model_id: str) -> dict[str, Any]:
    """One model's listing: id, role, source packages (pinned and installed), licence, size, status, folder.

    ``status`` is ``verified``, ``not installed``, ``not built`` (a cache model not joined yet: it is built on
    first use) or ``mismatch`` (``problem`` then says which file and what to do).
    """
    e = entry(model_id)
    folder = locate(e) if installed(e) else None
    out: dict[str, Any] = {
        "id": e.id,
        "role": e.role,
        "description": e.description,
        "packages": [{"name": p, "pinned": v, "installed": _installed_version(p)} for p, v in e.packages.items()],
        "licence": e.licence,
        "size_bytes": e.size,
        "weights": e.weights,
        "sha256": next(f.sha256 for f in e.files if f.name == e.weights)[:SHORT_HASH],
        "folder": None if folder is None else str(folder),
        "problem": None,
    }
    if folder is None:
        out["status"] = "not installed"
    elif "cache" in e.root and not (folder / e.weights).exists():
        out["status"] = "not built"
    else:
        bad = problems(model_id, folder)
        out["status"] = "mismatch" if bad else "verified"
        out["problem"] = bad[0] if bad else None
    return out


def statuses() -> list[dict[str, Any]]:
    """:func:`status` of every model in the manifest, in manifest order."""
    return [status(i) for i in manifest()]


def describe(records: list[dict]) -> str:
    """``model_files`` on one line for people: ``whisper-tiny.en model.bin 1a5afae06a4d, ...``."""
    out = []
    for r in records:
        tag = "" if r.get("verified") else " (user's, unchecked)"
        out.append(f"{r.get('model')} {r.get('file')} {r.get('sha256') or 'unhashed'}{tag}")
    return ", ".join(out)
