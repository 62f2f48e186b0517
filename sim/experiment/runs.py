"""One run = one setting x N replications, written into its own folder.  Nothing lost.

A run folder holds (every file written atomically: temporary file + ``os.replace``)::

    status.json         status (running | ok | failed), setting, params, overrides, seed,
                        host, pid, started_at / finished_at, n, elapsed_s, kpis, world_cache
                        and for a failure the error and its traceback -- written first
                        as "running" and last as "ok": a run is finished iff it says ok
    .run.lock           flock-ed by the writer while it runs: "running" with no lock
                        held means crashed (``sim.experiment.folder.run_state``)
    replications.parquet one row per replication: replication, seed, world_key, KPIs
                        (what the collector pairs across runs: same world_key = same world)
    kpis.json           per KPI: mean, sd, ci_low, ci_high, half_width, n
    summary.json        the world summary of replication 0
    config.json         the full resolved config
    <table>.parquet     replication 0's result tables (``write_tables``)

A run that raises is recorded as failed (``status.json`` with the traceback) and the caller
goes on; ``resume`` skips a folder whose status is ok for the same overrides.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config import ExsimConfig
from sim.experiment.cache import WorldCache
from sim.experiment.core import Replications, replicate
from sim.experiment.folder import run_lock
from sim.summary import jsonable, world_summary

# Overrides that change how a run is executed, not what is evaluated: not part of a setting.
NON_SETTING = ("replications", "resume", "progress", "overwrite", "write_tables", "experiment.",
               "hydra.", "hydra/")  # fmt: skip
HEADLINE = ("cost_per_order", "stars_mean", "on_time_share", "orders")


def write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """Write through a temporary file and rename, so no reader sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, lambda p: p.write_text(json.dumps(jsonable(obj), indent=2, default=str)))


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def setting_of(overrides: Iterable[str]) -> tuple[str, dict[str, str]]:
    """The setting a run evaluates: its label and ``{key: value}`` of the overrides that
    change results (execution overrides such as ``replications`` are left out)."""
    params = {}
    for o in overrides:
        k = _key(o)
        if "=" not in o or o.startswith("~") or k.startswith(NON_SETTING) or k in NON_SETTING:
            continue
        params[k] = o.split("=", 1)[1]
    label = " ".join(f"{k}={v}" for k, v in params.items()) or "default"
    return label, params


def read_status(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / "status.json").read_text())
    except (OSError, ValueError):
        return None


@dataclass
class RunRecord:
    folder: Path
    status: str  # ok | failed | skipped
    setting: str
    n: int = 0
    elapsed_s: float = 0.0
    error: str = ""
    replications: Replications | None = None
    kpis: pd.DataFrame = field(default_factory=pd.DataFrame)

    def line(self) -> str:
        """One line for the console: status, setting, N, time and a headline KPI."""
        head = ""
        for k in HEADLINE:
            if k in self.kpis.index:
                s = self.kpis.loc[k]
                head = f"  {k} {s['mean']:.4g} ± {s['half_width']:.2g}"
                break
        if self.status == "failed":
            head = f"  {self.error}"
        return f"[exsim] {self.status:<7} {self.setting}  N={self.n}  {self.elapsed_s:.1f}s{head}"


def _same_run(done: list[str] | None, now: list[str]) -> bool:
    """The finished run was launched with the same overrides (``resume``/``progress`` aside)."""
    def strip(os_: list[str]) -> list[str]:
        return [o for o in os_ if _key(o) not in ("resume", "progress", "overwrite")]

    return done is not None and strip(done) == strip(now)


def _load_finished(folder: Path, st: dict) -> RunRecord:
    try:
        kpis = pd.DataFrame.from_dict(json.loads((folder / "kpis.json").read_text()),
                                      orient="index")  # fmt: skip
    except (OSError, ValueError):
        kpis = pd.DataFrame()
    return RunRecord(folder, "skipped", st.get("setting", ""), st.get("n", 0),
                     0.0, kpis=kpis)  # fmt: skip


def run_setting(cfg: ExsimConfig, folder: str | os.PathLike, overrides: Iterable[str] = (), *,
                cache: WorldCache | None = None, resume: bool = False,
                progress: bool | None = None, keep_world0: bool = False,
                world_tables: bool = False) -> RunRecord:
    """Run ``cfg`` (N replications) into ``folder``; never raises for a failing run.

    ``world_tables``: also write replication 0's world tables (orders, tracking, contacts,
    truth) -- a single run does, a sweep does not (its worlds are in the cache).  The folder
    is locked while it is written (:func:`sim.experiment.folder.run_lock`): a second writer
    waits, then sees the first one's result (and skips it with ``resume``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with run_lock(folder, note=lambda m: print(m, file=sys.stderr, flush=True)):
        return _run_locked(cfg, folder, list(overrides), cache, resume, progress, keep_world0,
                           world_tables)  # fmt: skip


def _run_locked(cfg: ExsimConfig, folder: Path, overrides: list[str], cache: WorldCache | None,
                resume: bool, progress: bool | None, keep_world0: bool,
                world_tables: bool) -> RunRecord:
    label, params = setting_of(overrides)
    for tmp in folder.glob(".*.tmp*"):  # left by a killed writer (we hold the run's lock)
        tmp.unlink(missing_ok=True)
    st = read_status(folder)
    if resume and st and st.get("status") == "ok" and _same_run(st.get("overrides"), overrides):
        return _load_finished(folder, st)
    status = {"status": "running", "setting": label, "params": params, "overrides": overrides,
              "seed": cfg.seed, "replications_requested": cfg.replications,
              "host": socket.gethostname(), "pid": os.getpid(),
              "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
    write_json(folder / "status.json", status)
    write_json(folder / "config.json", asdict(cfg))
    t0 = time.perf_counter()
    try:
        reps = replicate(cfg, cache=cache, progress=progress, keep_world0=True)
        summary = reps.summary()
        write_atomic(folder / "replications.parquet",
                     lambda p: reps.reps.to_parquet(p, index=False))  # fmt: skip
        write_json(folder / "kpis.json", summary.to_dict(orient="index"))
        if reps.world0 is not None:
            write_json(folder / "summary.json", world_summary(reps.world0))
            if world_tables and cfg.write_tables:
                for name, df in reps.world0.tables().items():
                    write_atomic(folder / f"{name}.parquet",
                                 lambda p, df=df: df.to_parquet(p, index=False))  # fmt: skip
        if cfg.write_tables and reps.first is not None:
            for name, df in reps.first.tables.items():
                write_atomic(folder / f"{name}.parquet",
                             lambda p, df=df: df.to_parquet(p, index=False))  # fmt: skip
        if not keep_world0:
            reps.world0 = None
        elapsed = time.perf_counter() - t0
        status.update(status="ok", n=reps.n, elapsed_s=elapsed, kpis=list(summary.index),
                      finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))  # fmt: skip
        if cache is not None:
            status["world_cache"] = {"hits": cache.hits, "misses": cache.misses,
                                     "quarantined": cache.quarantined}
        write_json(folder / "status.json", status)
        return RunRecord(folder, "ok", label, reps.n, elapsed, replications=reps, kpis=summary)
    except Exception as err:  # recorded, not raised: the sweep goes on
        elapsed = time.perf_counter() - t0
        status.update(status="failed", elapsed_s=elapsed,
                      error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc(),
                      finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))  # fmt: skip
        write_json(folder / "status.json", status)
        return RunRecord(folder, "failed", label, 0, elapsed, error=status["error"])
