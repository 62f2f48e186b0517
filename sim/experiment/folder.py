"""A sweep folder belongs to one sweep, and a run folder to one writer at a time.

Why: two different sweeps writing into the same folder overwrite each other's runs
(``0/``, ``1/``, ... are job numbers, not settings), and ``resume=true`` with a changed
grid would skip or replace runs that belong to another grid.  So:

* ``sweep.json`` in the sweep folder records the sweep's *fingerprint*: the overrides that
  define it (the grid and the base overrides, in order -- order fixes the job numbers),
  without those that only change how it runs (``resume``, ``progress``, ``overwrite``,
  ``hydra.*``: a sweep may be resumed on another launcher).  A sweep with another
  fingerprint is refused (:class:`SweepFolderError`, exit 2 on the CLI) unless
  ``overwrite=true``, which removes the old runs first -- and is refused too while a run of
  the folder is being written.
* every run folder is written under an exclusive ``flock`` on ``<run>/.run.lock``; its
  ``status.json`` says ``running`` with ``pid`` and ``host``.  A run whose status says
  running but whose lock nobody holds has crashed (:func:`run_state`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path

from sim.experiment.cache import locked

SWEEP_FILE = "sweep.json"
RUN_LOCK = ".run.lock"
_EXECUTION = ("resume", "progress", "overwrite")


class SweepFolderError(Exception):
    """The folder holds another sweep (or a run being written): refused, nothing written."""


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def fingerprint(overrides: Iterable[str]) -> dict:
    """The overrides that define a sweep (in order) and their hash."""
    defining = [o for o in overrides
                if _key(o) not in _EXECUTION and not _key(o).startswith(("hydra.", "hydra/"))]  # fmt: skip
    digest = hashlib.blake2b(json.dumps(defining).encode(), digest_size=12).hexdigest()
    return {"fingerprint": digest, "overrides": defining}


def run_folders(root: Path) -> list[Path]:
    """The numbered run folders of a sweep folder."""
    return sorted((p for p in Path(root).iterdir() if p.is_dir() and p.name.isdigit()),
                  key=lambda p: int(p.name)) if Path(root).is_dir() else []  # fmt: skip


def lock_held(folder: Path) -> bool:
    """True if a process holds ``folder/.run.lock`` (opened without creating it)."""
    try:
        fd = os.open(Path(folder) / RUN_LOCK, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def run_state(folder: Path, status: dict | None = None) -> str:
    """``ok`` | ``failed`` | ``running`` | ``crashed`` | ``missing`` of a run folder.

    ``running`` only while its writer holds the run lock; a status that says running with
    no lock held is ``crashed`` (killed, out of memory, node lost)."""
    if status is None:
        try:
            status = json.loads((Path(folder) / "status.json").read_text())
        except (OSError, ValueError):
            return "missing"
    s = status.get("status") if isinstance(status, dict) else None
    if s == "running":
        return "running" if lock_held(folder) else "crashed"
    return s if s in ("ok", "failed") else "missing"


@contextlib.contextmanager
def run_lock(folder: Path, note=None) -> Iterator[None]:
    """Hold the run's lock while writing it; if another process holds it, say so and wait."""
    path = Path(folder) / RUN_LOCK
    with locked(path, blocking=False) as got:
        if got:
            yield
            return
    if note is not None:
        try:
            st = json.loads((Path(folder) / "status.json").read_text())
            who = f" (pid {st.get('pid')} on {st.get('host')})"
        except (OSError, ValueError, AttributeError):
            who = ""
        note(f"[exsim] waiting for {folder}: being written by another process{who}")
    with locked(path):
        yield


def claim(root: Path, overrides: Iterable[str], *, overwrite: bool = False,
          tool: str = "exsim -m") -> dict:
    """Record this sweep in ``root/sweep.json``, or refuse if the folder holds another one.

    Same fingerprint: fine (a rerun or a resume).  No ``sweep.json`` yet: recorded.  Another
    fingerprint: :class:`SweepFolderError` -- unless ``overwrite``, which removes the old
    run folders (never while one of them is being written) and records this sweep.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(overrides)
    with locked(root / ".sweep.lock"):
        path = root / SWEEP_FILE
        old = None
        if path.is_symlink():
            raise SweepFolderError(f"{path} is a symlink: refused")
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise SweepFolderError(f"{path} is unreadable ({err}); remove it or choose "
                                       "another hydra.sweep.dir / out_dir") from err  # fmt: skip
        if isinstance(old, dict) and old.get("fingerprint") == fp["fingerprint"]:
            return old
        if old is not None:
            if not overwrite:
                raise SweepFolderError(_refusal(root, old, fp))
            busy = [f.name for f in run_folders(root) if lock_held(f)]
            if busy:
                raise SweepFolderError(f"{root}: runs {busy} are being written by another "
                                       "sweep; overwrite=true refused until it ends")  # fmt: skip
            for f in run_folders(root):
                shutil.rmtree(f)
        record = {**fp, "tool": tool, "host": socket.gethostname(), "pid": os.getpid(),
                  "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
        tmp = root / f".{SWEEP_FILE}.tmp{os.getpid()}"
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, path)
        return record


def _refusal(root: Path, old: dict, new: dict) -> str:
    was = " ".join(old.get("overrides", [])) if isinstance(old, dict) else "?"
    return (f"{root} holds another sweep ({SWEEP_FILE}: {was or '(no overrides)'}); "
            f"this one is: {' '.join(new['overrides']) or '(no overrides)'}.  A sweep folder "
            "belongs to one sweep (its run folders 0, 1, ... are that sweep's jobs), so "
            "resume=true or a rerun with a changed grid or base overrides is refused.  "
            "Choose another hydra.sweep.dir (sweep(out_dir=...)), or pass overwrite=true to "
            "delete the old runs and start this sweep there.")
