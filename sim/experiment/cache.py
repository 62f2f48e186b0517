"""A disk cache of simulated worlds: plain files, verified on every load, bounded in size.

A world depends only on ``(scenario config, seed, replication)`` (and the world code), so
that triple is the key.  Settings of a sweep that differ only in policy find the world of
replication ``r`` here instead of simulating it again, which is also what makes their
comparison paired.

Why it looks like this (a sweep folder may be shared by every node of a cluster):

* **No code from disk.**  An entry is a folder of Parquet tables (``.npy`` for any array,
  read with ``allow_pickle=False``) and a JSON manifest: nothing in it can run code, so a
  file planted in the cache is at worst a miss.
* **Verified.**  The manifest records the key, the world-code version, the format and the
  size and blake2b hash of every file, and a hash of itself.  Any mismatch or read error is
  a miss: the entry is moved to ``.quarantine/``, the world is simulated again and a
  :class:`WorldCacheWarning` says so.  A changed world code changes the key, so old entries
  are never served; they age out by the size cap.
* **Concurrent.**  A lock file per key (``fcntl.flock``): the first process simulates while
  the others wait, then load what it wrote.  An entry is written into a temporary folder
  and renamed into place, so a reader never sees half an entry.  Lock files are removed by
  their holder; temporary folders of dead writers are removed when a cache is opened.
* **Bounded.**  ``max_bytes`` caps the folder: least recently used entries (a hit touches
  its folder) are removed first, quarantined ones before any live one.
* **No writes through symlinks.**  The log, lock files and entries are opened with
  ``O_NOFOLLOW``; a symlinked entry is quarantined (the link itself, not its target).

``exsim-cache list DIR`` / ``exsim-cache clear DIR`` show and empty a cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.config import ExsimConfig, ScenarioConfig
    from sim.world import World

_WORLD_CODE = ("world", "feed.py", "observe.py", "rng.py", "config.py", "configbase.py")
FORMAT = 1
MANIFEST = "manifest.json"
LOG = "simulated.log"
QUARANTINE = ".quarantine"
_TMP_PREFIX = ".tmp-"
_HOST = socket.gethostname()
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_KEY_NAME = re.compile(r"[0-9a-f]{24}(\.pkl)?")


class WorldCacheWarning(UserWarning):
    """A cached world failed verification (it was quarantined and simulated again)."""


class CacheEntryError(Exception):
    """Why an entry cannot be served (any of these makes it a miss)."""


@cache
def world_code_version() -> str:
    """A hash of the source that shapes a world: a code change invalidates cached worlds."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.blake2b(digest_size=8)
    for name in _WORLD_CODE:
        p = root / name
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def world_key(scenario: ScenarioConfig, seed: int, replication: int) -> str:
    """Stable identity of a world (same key => same world)."""
    blob = json.dumps({"scenario": asdict(scenario), "seed": int(seed),
                       "replication": int(replication), "code": world_code_version()},
                      sort_keys=True, default=str)  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


# --------------------------------------------------------------------------- files
def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def _read_nofollow(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _append_log(root: Path, line: str) -> None:
    """One line to ``simulated.log`` (who simulated or quarantined what); never follows a
    symlink (a planted link fails with ELOOP and the line is dropped with a warning)."""
    try:
        fd = os.open(root / LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError as err:
        warnings.warn(f"world cache: not writing {root / LOG}: {err}", WorldCacheWarning,
                      stacklevel=3)  # fmt: skip
        return
    with os.fdopen(fd, "a") as fh:
        fh.write(line.rstrip("\n") + "\n")


def _manifest_hash(m: dict) -> str:
    body = {k: v for k, v in m.items() if k != "manifest_hash"}
    return _digest(json.dumps(body, sort_keys=True).encode())


# --------------------------------------------------------------------------- (de)serialise
def _parquet_bytes(df) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=True)
    return buf.getvalue()


def _encode_part(prefix: str, obj: Any, files: dict[str, bytes]) -> dict:
    """A frozen dataclass of tables and scalars -> files + a JSON description of its fields."""
    import numpy as np
    import pandas as pd

    desc: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, pd.DataFrame):
            name = f"{prefix}.{f.name}.parquet"
            files[name] = _parquet_bytes(value)
            desc[f.name] = {"table": name}
        elif isinstance(value, np.ndarray):
            name = f"{prefix}.{f.name}.npy"
            buf = io.BytesIO()
            np.save(buf, value, allow_pickle=False)
            files[name] = buf.getvalue()
            desc[f.name] = {"array": name}
        elif value is None or isinstance(value, bool | int | float | str):
            desc[f.name] = {"value": value}
        else:
            raise TypeError(f"world cache cannot store {prefix}.{f.name} "
                            f"({type(value).__name__})")  # fmt: skip
    return desc


def _decode_part(cls: type, desc: dict, files: dict[str, bytes]) -> Any:
    import numpy as np
    import pandas as pd

    kwargs = {}
    for name, d in desc.items():
        if "table" in d:
            kwargs[name] = pd.read_parquet(io.BytesIO(files[d["table"]]))
        elif "array" in d:
            kwargs[name] = np.load(io.BytesIO(files[d["array"]]), allow_pickle=False)
        else:
            kwargs[name] = d["value"]
    return cls(**kwargs)


def encode_world(world: World, key: str) -> tuple[dict, dict[str, bytes]]:
    """A world -> (manifest, {file name: bytes}).  Plain data only."""
    files: dict[str, bytes] = {}
    parts = {"truth": _encode_part("truth", world.truth, files),
             "observation": _encode_part("observation", world.observation, files)}  # fmt: skip
    m = {"format": FORMAT, "key": key, "code": world_code_version(),
         "seed": int(world.seed), "replication": int(world.replication),
         "scenario": json.loads(json.dumps(asdict(world.scenario), default=str)),
         "calendar": {"start_date": world.calendar.start.isoformat(),
                      "n_days": int(world.calendar.n_days)},
         "parts": parts,
         "files": {n: {"bytes": len(b), "blake2b": _digest(b)} for n, b in files.items()},
         "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
    m["manifest_hash"] = _manifest_hash(m)
    return m, files


def decode_world(entry: Path, scenario: ScenarioConfig, key: str) -> World:
    """Read and verify an entry; raise :class:`CacheEntryError` on any mismatch (also for a
    manifest that hashes right but is malformed: the hash detects corruption, it does
    not vouch for whoever wrote the entry)."""
    try:
        return _decode(entry, scenario, key)
    except CacheEntryError:
        raise
    except Exception as err:
        raise CacheEntryError(f"malformed entry: {type(err).__name__}: {err}") from err


def _decode(entry: Path, scenario: ScenarioConfig, key: str) -> World:
    from sim.observe import GroundTruth, Observation
    from sim.world import World
    from sim.world.calendar import Calendar

    if entry.is_symlink() or not entry.is_dir():
        raise CacheEntryError("not a plain folder (symlink or file)")
    try:
        m = json.loads(_read_nofollow(entry / MANIFEST))
    except (OSError, ValueError) as err:
        raise CacheEntryError(f"manifest unreadable: {err}") from err
    if not isinstance(m, dict) or m.get("manifest_hash") != _manifest_hash(m):
        raise CacheEntryError("manifest hash mismatch")
    expected = {"format": FORMAT, "key": key, "code": world_code_version()}
    for k, v in expected.items():
        if m.get(k) != v:
            raise CacheEntryError(f"manifest {k} = {m.get(k)!r}, expected {v!r}")
    if m.get("scenario") != json.loads(json.dumps(asdict(scenario), default=str)):
        raise CacheEntryError("manifest scenario differs from the requested one")
    files = {}
    for name, meta in m["files"].items():
        if not isinstance(name, str) or "/" in name or name.startswith(".") or name == MANIFEST:
            raise CacheEntryError(f"bad file name {name!r}")
        try:
            data = _read_nofollow(entry / name)
        except OSError as err:
            raise CacheEntryError(f"{name}: {err}") from err
        if len(data) != meta["bytes"] or _digest(data) != meta["blake2b"]:
            raise CacheEntryError(f"{name}: content hash mismatch")
        files[name] = data
    try:
        truth = _decode_part(GroundTruth, m["parts"]["truth"], files)
        obs = _decode_part(Observation, m["parts"]["observation"], files)
        cal = Calendar(m["calendar"]["start_date"], m["calendar"]["n_days"])
    except Exception as err:  # verified bytes that still do not parse: a miss, not a crash
        raise CacheEntryError(f"cannot rebuild the world: {type(err).__name__}: {err}") from err
    return World(scenario, int(m["seed"]), int(m["replication"]), truth, obs, cal)


# --------------------------------------------------------------------------- locks
@contextlib.contextmanager
def locked(path: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive flock on ``path``, removed by its holder.  Because the holder unlinks
    the file, a waiter re-checks after acquiring that it locked the file now at ``path``
    (same inode), else it retries.  Yields False if ``blocking=False`` and it is held."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one owned by another user counts);
    used to tell a dead writer's leftovers from a live one's work."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tree_bytes(p: Path) -> int:
    if p.is_symlink() or not p.is_dir():
        return p.lstat().st_size
    return sum(f.lstat().st_size for f in p.rglob("*") if not f.is_dir())


def _remove(p: Path) -> None:
    if p.is_symlink() or not p.is_dir():
        p.unlink(missing_ok=True)
    else:
        shutil.rmtree(p, ignore_errors=True)


# --------------------------------------------------------------------------- the cache
class WorldCache:
    """Worlds on disk under ``root`` (one folder per key), simulated at most once per key.

    ``hits``, ``misses`` and ``quarantined`` count this process's look-ups.  ``memory=k``
    also keeps the last k worlds in this process; ``root=None`` with ``memory=k`` is an
    in-memory cache (one process, e.g. a notebook), with ``memory=0`` no cache at all.
    ``max_bytes``: the size cap of the folder (None: no cap).
    """

    def __init__(self, root: str | os.PathLike | None = None, memory: int = 0,
                 max_bytes: int | None = None):
        self.root = Path(root) if root is not None else None
        if self.root is not None:
            if self.root.is_symlink():
                raise ValueError(f"world cache folder {self.root} is a symlink: refused "
                                 "(give the real path)")  # fmt: skip
            self.root.mkdir(parents=True, exist_ok=True)
            clean_orphans(self.root)
        self.memory = memory
        self.max_bytes = max_bytes
        self._mem: dict[str, World] = {}
        self.hits = 0
        self.misses = 0
        self.quarantined = 0

    def get(self, cfg: ExsimConfig, replication: int, progress=None) -> World:
        key = world_key(cfg.scenario, cfg.seed, replication)
        if key in self._mem:
            self.hits += 1
            return self._mem[key]
        if self.root is None:
            from sim.world import simulate_world

            world = simulate_world(cfg, replication=replication, progress=progress)
            self.misses += 1
        else:
            world = self._get_disk(cfg, replication, key, progress)
        if self.memory > 0:
            if len(self._mem) >= self.memory:
                self._mem.pop(next(iter(self._mem)))
            self._mem[key] = world
        return world

    def _try_load(self, cfg: ExsimConfig, key: str) -> World | None:
        entry = self.root / key
        if not os.path.lexists(entry):
            return None
        try:
            world = decode_world(entry, cfg.scenario, key)
        except CacheEntryError as err:
            if not os.path.lexists(entry):  # evicted by another process while we read
                return None
            self._quarantine(entry, str(err))
            return None
        with contextlib.suppress(OSError):
            os.utime(entry, follow_symlinks=False)  # least recently used = oldest mtime
        self.hits += 1
        return world

    def _quarantine(self, entry: Path, reason: str) -> None:
        q = self.root / QUARANTINE
        q.mkdir(exist_ok=True)
        dest = q / f"{entry.name}.{int(time.time())}.{os.getpid()}"
        try:
            os.rename(entry, dest)
        except FileNotFoundError:
            return
        self.quarantined += 1
        _append_log(self.root, f"{entry.name} quarantined pid={os.getpid()} reason={reason}")
        warnings.warn(f"world cache: entry {entry.name} in {self.root} failed verification "
                      f"({reason}); moved to {dest} and simulated again",
                      WorldCacheWarning, stacklevel=4)  # fmt: skip

    def _get_disk(self, cfg: ExsimConfig, replication: int, key: str, progress) -> World:
        world = self._try_load(cfg, key)  # fast path, no lock: an entry is complete or absent
        if world is not None:
            return world
        with locked(self.root / f".{key}.lock"):
            world = self._try_load(cfg, key)  # another process wrote it while we waited
            if world is not None:
                return world
            from sim.world import simulate_world

            world = simulate_world(cfg, replication=replication, progress=progress)
            self._store(world, key)
            _append_log(self.root, f"{key} seed={cfg.seed} replication={replication} "
                                   f"pid={os.getpid()}")  # fmt: skip
            self.misses += 1
        if self.max_bytes is not None:
            evict(self.root, self.max_bytes, keep=key)
        return world

    def _store(self, world: World, key: str) -> None:
        m, files = encode_world(world, key)
        tmp = self.root / f"{_TMP_PREFIX}{key}-{_HOST}-{os.getpid()}"
        _remove(tmp)
        tmp.mkdir()
        try:
            for name, data in files.items():
                _write_new(tmp / name, data)
            _write_new(tmp / MANIFEST, json.dumps(m, sort_keys=True).encode())
            os.rename(tmp, self.root / key)  # atomic; the key's lock is held, no entry there
        finally:
            _remove(tmp)


def cache_for(root: str | os.PathLike, cfg: ExsimConfig) -> WorldCache:
    """The disk cache at ``root`` with the size cap of ``cfg.experiment``; the last world
    also stays in memory, so that the next setting on it (a sweep's jobs run one after
    another in a worker) skips the load and shares the polled feed and scoring memos."""
    return WorldCache(root, max_bytes=int(cfg.experiment.world_cache_max_gb * 2**30), memory=1)


# --------------------------------------------------------------------------- housekeeping
def entries(root: Path) -> list[dict]:
    """Every entry (live, quarantined, temporary) with its size and last use."""
    root = Path(root)
    out = []
    if not root.is_dir():
        return out
    # only names the cache writes (a key; ``<key>.pkl`` of the old pickle format): anything
    # else in the folder is not ours to list, evict or clear
    candidates = [(p, "live") for p in root.iterdir() if _KEY_NAME.fullmatch(p.name)]
    candidates += [(p, "temporary") for p in root.glob(f"{_TMP_PREFIX}*")]
    if (root / QUARANTINE).is_dir():
        candidates += [(p, "quarantined") for p in (root / QUARANTINE).iterdir()]
    for p, kind in candidates:
        try:
            st = p.lstat()
            size = _tree_bytes(p)
        except FileNotFoundError:
            continue
        seed = rep = None
        if kind == "live":
            try:
                m = json.loads(_read_nofollow(p / MANIFEST))
                seed, rep = m.get("seed"), m.get("replication")
            except (OSError, ValueError, AttributeError):
                kind = "unverified"
        out.append({"key": p.name, "kind": kind, "bytes": size, "seed": seed,
                    "replication": rep, "last_used": st.st_mtime, "path": p})  # fmt: skip
    return out


def clean_orphans(root: Path) -> None:
    """Remove temporary folders of dead writers on this host (or older than a day) and
    lock files no process holds."""
    now = time.time()
    for p in root.glob(f"{_TMP_PREFIX}*"):
        host_pid = p.name.rsplit("-", 2)
        dead_here = (len(host_pid) == 3 and host_pid[1] == _HOST and host_pid[2].isdigit()
                     and not pid_alive(int(host_pid[2])))  # fmt: skip
        with contextlib.suppress(FileNotFoundError):
            if dead_here or now - p.lstat().st_mtime > 86400:
                _remove(p)
    for p in root.glob(".*.lock"):
        if p.is_symlink():
            p.unlink(missing_ok=True)
            continue
        with contextlib.suppress(OSError), locked(p, blocking=False):
            pass  # acquired => nobody holds it; the context manager removed it


def evict(root: Path, max_bytes: int, keep: str | None = None) -> list[str]:
    """Remove quarantined, then least recently used entries until ``root`` fits
    ``max_bytes``.  An entry whose lock is held (being written) is left alone."""
    es = [e for e in entries(root) if e["kind"] != "temporary"]
    total = sum(e["bytes"] for e in es)
    order = sorted(es, key=lambda e: (e["kind"] == "live", e["last_used"]))
    removed = []
    for e in order:
        if total <= max_bytes:
            break
        if e["key"] == keep:
            continue
        if e["kind"] == "quarantined":
            _remove(e["path"])
        else:
            with locked(root / f".{e['key']}.lock", blocking=False) as got:
                if not got:
                    continue
                _remove(e["path"])
        total -= e["bytes"]
        removed.append(e["key"])
    return removed


def clear(root: Path) -> int:
    """Remove every entry, quarantined entry and orphan of a cache; returns bytes freed."""
    root = Path(root)
    freed = 0
    for e in entries(root):
        if e["kind"] == "temporary" and not _stale_tmp(e["path"]):
            continue
        freed += e["bytes"]
        _remove(e["path"])
    clean_orphans(root)
    return freed


def _stale_tmp(p: Path) -> bool:
    parts = p.name.rsplit("-", 2)
    return not (len(parts) == 3 and parts[1] == _HOST and parts[2].isdigit()
                and pid_alive(int(parts[2])))  # fmt: skip


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


def main(argv: list[str] | None = None) -> int:
    """``exsim-cache list DIR`` | ``exsim-cache clear DIR`` (DIR: a cache or a sweep folder,
    whose cache is ``DIR/.worlds``)."""
    import argparse

    ap = argparse.ArgumentParser(prog="exsim-cache", description=main.__doc__)
    ap.add_argument("action", choices=["list", "clear"])
    ap.add_argument("dir", type=Path)
    a = ap.parse_args(argv)
    root = a.dir / ".worlds" if (a.dir / ".worlds").is_dir() else a.dir
    if not root.is_dir():
        print(f"exsim-cache: {a.dir} is not a folder", file=sys.stderr)
        return 2
    if not ((root / LOG).exists() or (root / QUARANTINE).is_dir() or entries(root)):
        print(f"exsim-cache: {a.dir} is not a world cache (no {LOG}, no entries) nor a sweep "
              "folder with one (.worlds/); nothing done", file=sys.stderr)  # fmt: skip
        return 2
    if a.action == "clear":
        print(f"removed {_human(clear(root))} from {root}")
        return 0
    es = sorted(entries(root), key=lambda e: -e["last_used"])
    for e in es:
        when = dt.datetime.fromtimestamp(e["last_used"]).isoformat(timespec="seconds")
        print(f"{e['key']:<40} {e['kind']:<11} {_human(e['bytes']):>9}  last used {when}"
              f"  seed={e['seed']} replication={e['replication']}")  # fmt: skip
    print(f"{len(es)} entries, {_human(sum(e['bytes'] for e in es))} in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
