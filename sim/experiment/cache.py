"""A disk cache of simulated worlds, shared safely by several processes.

A world depends only on ``(scenario config, seed, replication)`` (and the world code), so
that triple is the key.  Settings of a sweep that differ only in policy find the world of
replication ``r`` here instead of simulating it again, which is also what makes their
comparison paired.

Safety with concurrent processes (joblib, submitit, Ray workers on one file system):

* a lock file per key (``fcntl.flock``, exclusive): the first process simulates while the
  others wait on the lock, then load what it wrote -- no world is simulated twice;
* the pickle is written to a temporary file in the same folder and ``os.replace``-d into
  place, so a reader never sees half a file and a killed writer leaves no corrupt entry.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
from dataclasses import asdict
from functools import cache
from pathlib import Path

from sim.config import ExsimConfig, ScenarioConfig
from sim.world import World, simulate_world

_WORLD_CODE = ("world", "feed.py", "observe.py", "rng.py", "config.py")


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


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class WorldCache:
    """Worlds on disk under ``root`` (``<key>.pkl``), simulated at most once per key.

    ``hits`` and ``misses`` count this process's look-ups.  ``memory=k`` also keeps the
    last k worlds in this process; ``root=None`` with ``memory=k`` is an in-memory cache
    (one process, e.g. a notebook), with ``memory=0`` no cache at all.
    """

    def __init__(self, root: str | os.PathLike | None = None, memory: int = 0):
        self.root = Path(root) if root is not None else None
        if self.root is not None:
            self.root.mkdir(parents=True, exist_ok=True)
        self.memory = memory
        self._mem: dict[str, World] = {}
        self.hits = 0
        self.misses = 0

    def get(self, cfg: ExsimConfig, replication: int, progress=None) -> World:
        key = world_key(cfg.scenario, cfg.seed, replication)
        if key in self._mem:
            self.hits += 1
            return self._mem[key]
        if self.root is None:
            world = simulate_world(cfg, replication=replication, progress=progress)
            self.misses += 1
        else:
            world = self._get_disk(cfg, replication, key, progress)
        if self.memory > 0:
            if len(self._mem) >= self.memory:
                self._mem.pop(next(iter(self._mem)))
            self._mem[key] = world
        return world

    def _get_disk(self, cfg: ExsimConfig, replication: int, key: str, progress) -> World:
        path = self.root / f"{key}.pkl"
        if path.exists():  # fast path, no lock: the file is complete once it exists
            with contextlib.suppress(OSError, EOFError, pickle.UnpicklingError):
                world = _load(path)
                self.hits += 1
                return world
        with _locked(self.root / f"{key}.lock"):
            if path.exists():  # another process simulated it while we waited
                with contextlib.suppress(OSError, EOFError, pickle.UnpicklingError):
                    world = _load(path)
                    self.hits += 1
                    return world
            world = simulate_world(cfg, replication=replication, progress=progress)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                pickle.dump(world, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
            with open(self.root / "simulated.log", "a") as log:  # who simulated what
                log.write(f"{key} seed={cfg.seed} replication={replication} pid={os.getpid()}\n")
            self.misses += 1
            return world


def _load(path: Path) -> World:
    with open(path, "rb") as fh:
        return pickle.load(fh)
