"""Join the run folders of a sweep into tidy tables.

``collect(sweep_dir)`` reads every run folder (one with a ``status.json``) below the sweep
folder; ``results_table`` makes one row per setting x KPI with mean, sd, CI and N, plus
the paired difference against a baseline setting.  Pairing is across runs: two runs'
replications with the same ``(seed, replication)`` saw the same world when their scenario
is the same (``world_key`` equal), and the same random numbers otherwise.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiment.cache import pid_alive
from sim.experiment.folder import RUN_LOCK, lock_held
from sim.experiment.stats import DIFF_COLUMNS, Family, family_tests, kpi_columns, summarize

SKIP_DIRS = {".worlds", ".submitit", ".hydra"}


def _value(v: str):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() and "." not in str(v) else f


def run_folders(sweep_dir: str | Path) -> list[Path]:
    root = Path(sweep_dir)
    found = [p.parent for p in root.rglob("status.json")
             if not SKIP_DIRS.intersection(p.relative_to(root).parts)]  # fmt: skip

    def order(p: Path):
        rel = p.relative_to(root).parts
        return tuple((0, int(x), "") if x.isdigit() else (1, 0, x) for x in rel)

    return sorted(found, key=order)


@dataclass
class Collected:
    """A sweep as tables: ``runs`` (one row per run) and ``reps`` (per run x replication).

    ``runs.status``: ``ok``; ``failed`` (the run recorded an error); ``running`` (its process
    is alive, or on another host and cannot be checked from here); ``crashed`` (it says
    running but its process is gone: killed or the machine stopped); ``bad`` (the folder
    cannot be read: ``error`` names the file and the reason).
    """

    root: Path
    runs: pd.DataFrame  # run, folder, status, setting, n, elapsed_s, error, <params>
    reps: pd.DataFrame  # run, setting, replication, seed, world_key, <kpis>
    params: list[str]  # the override keys that vary or are set across runs

    @property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "ok"]

    @property
    def failed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "ok"]

    @property
    def kpis(self) -> list[str]:
        return kpi_columns(self.reps.drop(columns=["run"], errors="ignore"))


class BadRun(Exception):
    """A run folder that cannot be used; the message names the file and the reason."""


def read_status_file(folder: Path) -> dict:
    """``status.json`` as a dict, or :class:`BadRun` saying what is wrong with it."""
    f = folder / "status.json"
    try:
        raw = f.read_bytes()
    except OSError as err:
        raise BadRun(f"{f}: cannot be read ({err.strerror or err})") from None
    if not raw.strip():
        raise BadRun(f"{f}: empty ({len(raw)} bytes); the run never wrote its status")
    try:
        st = json.loads(raw)
    except ValueError as err:
        raise BadRun(f"{f}: not valid JSON ({err})") from None
    if not isinstance(st, dict):
        raise BadRun(f"{f}: holds a JSON {type(st).__name__}, expected an object "
                     "with 'status', 'setting', 'params'")  # fmt: skip
    if not isinstance(st.get("params", {}), dict):
        raise BadRun(f"{f}: 'params' is a {type(st['params']).__name__}, expected an object")
    return st


def liveness(st: dict, folder: Path | None = None) -> tuple[str, str]:
    """(status, note) of a run whose status.json says "running".

    With a run lock in the folder (its writer holds an exclusive ``flock`` on ``.run.lock``
    while it runs, as :func:`sim.experiment.folder.run_state` reads it), the lock decides:
    held = "running", free = "crashed" (killed, out of memory, node lost) -- valid across
    hosts on a file system with locks.
    Without one (folders written before the lock existed), the host and pid recorded at the
    start: on this host a pid that no longer exists means "crashed", a live one "running"
    (a recycled pid would look alive: the rule errs towards running); on another host we
    cannot look, so "running" with a note.
    """
    host, pid = st.get("host"), st.get("pid")
    lock = folder / RUN_LOCK if folder is not None else None
    if lock is not None and lock.is_file() and not lock.is_symlink():
        if lock_held(folder):
            return "running", f"its writer holds {lock.name} (pid {pid} on {host})"
        return "crashed", (f"says running but no process holds {lock.name} (pid {pid} on "
                           f"{host}): killed or crashed")  # fmt: skip
    if not host or not isinstance(pid, int):
        return "running", "no host/pid recorded: cannot tell running from crashed"
    if host != socket.gethostname():
        return "running", f"on host {host} (pid {pid}); cannot check from here"
    if not pid_alive(pid):
        return "crashed", f"pid {pid} on {host} is gone: the run was killed or crashed"
    return "running", f"pid {pid} on {host} is alive"


def _read_reps(folder: Path) -> pd.DataFrame:
    f = folder / "replications.parquet"
    if not f.exists():
        raise BadRun(f"{f}: missing although status.json says ok")
    try:
        df = pd.read_parquet(f)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise BadRun(f"{f}: unreadable ({type(err).__name__}: {err})") from None
    need = {"seed", "replication"}
    if not need <= set(df.columns) or not len(df):
        raise BadRun(f"{f}: {len(df)} rows, columns {sorted(df.columns)}; expected one row "
                     f"per replication with {sorted(need)}")  # fmt: skip
    return df


def collect(sweep_dir: str | Path) -> Collected:
    """Read every run folder below ``sweep_dir``; never raises for a bad folder (it becomes
    a run with status ``bad`` and the reason in ``error``)."""
    root = Path(sweep_dir)
    runs, reps, params = [], [], []
    for folder in run_folders(root):
        run = str(folder.relative_to(root)) if folder != root else "."
        try:
            st = read_status_file(folder)
        except BadRun as err:
            runs.append({"run": run, "folder": str(folder), "status": "bad", "setting": run,
                         "n": 0, "elapsed_s": np.nan, "error": str(err)})  # fmt: skip
            continue
        p = {k: _value(v) for k, v in st.get("params", {}).items()}
        for k in p:
            if k not in params:
                params.append(k)
        status, error = str(st.get("status", "?")), str(st.get("error", "") or "")
        if status == "running":
            status, error = liveness(st, folder)
        row = {"run": run, "folder": str(folder), "status": status,
               "setting": str(st.get("setting", run)), "n": st.get("n", 0),
               "elapsed_s": st.get("elapsed_s", np.nan), "error": error, **p}  # fmt: skip
        if status == "ok":
            try:
                df = _read_reps(folder)
            except BadRun as err:
                row.update(status="bad", error=str(err))
            else:
                df.insert(0, "setting", row["setting"])
                df.insert(0, "run", run)
                reps.append(df)
        runs.append(row)
    runs_df = pd.DataFrame(runs, columns=None if runs else ["run", "folder", "status", "setting",
                                                            "n", "elapsed_s", "error"])  # fmt: skip
    dup = runs_df["setting"].duplicated(keep=False) if len(runs_df) else pd.Series(dtype=bool)
    if dup.any():  # the same setting twice (e.g. two seeds swept): keep them apart
        runs_df.loc[dup, "setting"] = runs_df.loc[dup, "setting"] + " [" + runs_df.loc[dup, "run"] + "]"
    reps_df = pd.concat(reps, ignore_index=True) if reps else pd.DataFrame(
        columns=["run", "setting", "replication", "seed", "world_key"])  # fmt: skip
    if "world_key" not in reps_df.columns:
        reps_df["world_key"] = ""
    if len(reps_df):
        reps_df["setting"] = reps_df["run"].map(dict(zip(runs_df["run"], runs_df["setting"], strict=True)))
    return Collected(root, runs_df, reps_df, params)


def parse_baseline(spec: str | None) -> dict[str, str]:
    """``'detection=reactive recovery=tiered_default'`` -> {key: value} (space or comma)."""
    if not spec:
        return {}
    pairs = [p for chunk in spec.replace(",", " ").split() for p in [chunk.strip()] if p]
    out = {}
    for p in pairs:
        if "=" not in p:
            raise ValueError(f"baseline {spec!r}: expected key=value pairs, got {p!r}")
        k, v = p.split("=", 1)
        out[k.lstrip("+")] = v
    return out


def baseline_runs(c: Collected, spec: str | None) -> dict[str, str]:
    """For every ok run, the run it is compared with.

    Runs matching every ``key=value`` of ``spec`` are baseline candidates; each run is
    compared with the candidate that agrees with it on the most other parameters (so
    ``--baseline detection=reactive`` compares every recovery plan with reactive detection
    under the same plan).  No spec: the first finished run is the baseline of all.
    """
    ok = c.ok
    if not len(ok):
        return {}
    want = parse_baseline(spec)
    if not want:
        cands = ok.iloc[:1]
    else:
        def match(row) -> bool:
            return all(str(row.get(k)) in (v, str(_value(v))) for k, v in want.items())

        cands = ok[[match(row) for _, row in ok.iterrows()]]
        if not len(cands):
            raise ValueError(f"no finished run matches baseline {spec!r}; settings: "
                             f"{list(ok['setting'])}")  # fmt: skip
    others = [k for k in c.params if k not in want]
    out = {}
    for _, row in ok.iterrows():
        agree = [sum(str(row.get(k)) == str(cand.get(k)) for k in others)
                 for _, cand in cands.iterrows()]  # fmt: skip
        out[row["run"]] = cands.iloc[int(np.argmax(agree))]["run"]
    return out


def _same_worlds(c: Collected, run_a: str, run_b: str) -> float:
    """Share of the shared replications on which both runs saw literally the same world."""
    cols = ["seed", "replication", "world_key"]
    a = c.reps.loc[c.reps["run"] == run_a, cols]
    b = c.reps.loc[c.reps["run"] == run_b, cols]
    m = a.merge(b, on=["seed", "replication"])
    return float((m["world_key_x"] == m["world_key_y"]).mean()) if len(m) else np.nan


def kpi_cube(c: Collected, kpis: list[str] | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """``values[w, s, k]``: KPI k of finished run s on world w (the union of the runs'
    ``(seed, replication)``; NaN where a run has no such replication)."""
    runs, kpis = list(c.ok["run"]), list(kpis if kpis is not None else c.kpis)
    reps = c.reps.drop_duplicates(["run", "seed", "replication"])
    worlds = pd.MultiIndex.from_frame(reps[["seed", "replication"]].drop_duplicates()
                                      .sort_values(["seed", "replication"]))  # fmt: skip
    cube = np.full((len(worlds), len(runs), len(kpis)), np.nan)
    for j, run in enumerate(runs):
        g = reps[reps["run"] == run].set_index(["seed", "replication"]).reindex(worlds)
        cube[:, j, :] = g.reindex(columns=kpis).to_numpy(dtype=float, na_value=np.nan)
    return cube, runs, kpis


def analyse(c: Collected, baseline: str | None = None, confidence: float = 0.95,
            ranking: dict[str, bool] | None = None) -> tuple[pd.DataFrame, Family]:
    """The results table and the report's family of comparisons (Holm, family-wise level
    1 - confidence): every setting against its baseline on every KPI, and every pair of
    settings on the ``ranking`` KPIs ({kpi: lower_is_better}) for the best sets."""
    base = baseline_runs(c, baseline)
    cube, runs, kpis = kpi_cube(c)
    fam = family_tests(cube, runs, kpis, base, ranking or {}, confidence)
    bt = fam.tests[fam.tests["kind"] == "baseline"].set_index(["b", "kpi"])
    setting = c.runs.set_index("run")["setting"]
    rows = []
    for _, run in c.ok.iterrows():
        r = c.reps[c.reps["run"] == run["run"]]
        present = [k for k in kpis if k in r.columns]
        s = summarize(r, present, confidence)
        b = base.get(run["run"])
        same = _same_worlds(c, b, run["run"]) if b and b != run["run"] else np.nan
        for k in present:
            row = {"run": run["run"], "setting": run["setting"],
                   **{p: run.get(p) for p in c.params}, "kpi": k, **s.loc[k].to_dict(),
                   "baseline": setting.get(b, "") if b else ""}  # fmt: skip
            if (run["run"], k) in bt.index:
                t = bt.loc[(run["run"], k)]
                row.update({col: t[col] for col in ("diff", "diff_sd", "diff_low", "diff_high",
                                                    "diff_n", "p_value", "p_holm", "adj_low",
                                                    "adj_high", "significant")})  # fmt: skip
                row["diff_half_width"] = (t["diff_high"] - t["diff_low"]) / 2
                row["same_worlds"] = same
            rows.append(row)
    cols = ["run", "setting", *c.params, "kpi", "mean", "sd", "ci_low", "ci_high", "half_width",
            "n", "baseline", *DIFF_COLUMNS, "p_holm", "adj_low", "adj_high",
            "same_worlds"]  # fmt: skip
    out = pd.DataFrame(rows)
    for col in cols:
        if col not in out.columns:
            out[col] = np.nan
    out = out[cols]
    out["n"] = out["n"].astype("Int64")
    out["diff_n"] = out["diff_n"].astype("Float64").astype("Int64")
    out["significant"] = out["significant"].astype("boolean")
    return out, fam


def results_table(c: Collected, baseline: str | None = None,
                  confidence: float = 0.95) -> pd.DataFrame:
    """One row per setting x KPI: params, mean, sd, CI, N, and the paired difference
    against the setting's baseline (NaN for the baseline itself); ``significant`` is
    Holm-adjusted over all of the table's comparisons (family-wise level 1 - confidence),
    ``p_value`` the unadjusted p of the single comparison."""
    return analyse(c, baseline, confidence)[0]
