"""Join the run folders of a sweep into tidy tables.

``collect(sweep_dir)`` reads every run folder (one with a ``status.json``) below the sweep
folder; ``results_table`` makes one row per setting x KPI with mean, sd, CI and N, plus
the paired difference against a baseline setting.  Pairing is across runs: two runs'
replications with the same ``(seed, replication)`` saw the same world when their scenario
is the same (``world_key`` equal), and the same random numbers otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiment.stats import DIFF_COLUMNS, kpi_columns, paired_diff, summarize

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
    """A sweep as tables: ``runs`` (one row per run) and ``reps`` (per run x replication)."""

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


def collect(sweep_dir: str | Path) -> Collected:
    root = Path(sweep_dir)
    runs, reps, params = [], [], []
    for folder in run_folders(root):
        st = json.loads((folder / "status.json").read_text())
        run = str(folder.relative_to(root)) if folder != root else "."
        p = {k: _value(v) for k, v in st.get("params", {}).items()}
        for k in p:
            if k not in params:
                params.append(k)
        runs.append({"run": run, "folder": str(folder), "status": st.get("status", "?"),
                     "setting": st.get("setting", run), "n": st.get("n", 0),
                     "elapsed_s": st.get("elapsed_s", np.nan), "error": st.get("error", ""),
                     **p})  # fmt: skip
        f = folder / "replications.parquet"
        if st.get("status") == "ok" and f.exists():
            df = pd.read_parquet(f)
            df.insert(0, "setting", runs[-1]["setting"])
            df.insert(0, "run", run)
            reps.append(df)
    runs_df = pd.DataFrame(runs, columns=None if runs else ["run", "folder", "status", "setting",
                                                            "n", "elapsed_s", "error"])  # fmt: skip
    dup = runs_df["setting"].duplicated(keep=False) if len(runs_df) else pd.Series(dtype=bool)
    if dup.any():  # the same setting twice (e.g. two seeds swept): keep them apart
        runs_df.loc[dup, "setting"] = runs_df.loc[dup, "setting"] + " [" + runs_df.loc[dup, "run"] + "]"
    reps_df = pd.concat(reps, ignore_index=True) if reps else pd.DataFrame(
        columns=["run", "setting", "replication", "seed", "world_key"])  # fmt: skip
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


def pair(c: Collected, run_a: str, run_b: str, kpi: str, confidence: float = 0.95) -> dict:
    """Paired difference ``b - a`` of one KPI over the replications both runs share."""
    a = c.reps[c.reps["run"] == run_a].set_index(["seed", "replication"])
    b = c.reps[c.reps["run"] == run_b].set_index(["seed", "replication"])
    common = a.index.intersection(b.index)
    if kpi not in a.columns or kpi not in b.columns:
        return dict.fromkeys(DIFF_COLUMNS, np.nan) | {"same_worlds": np.nan}
    d = paired_diff(a.loc[common, kpi], b.loc[common, kpi], confidence)
    d["same_worlds"] = float((a.loc[common, "world_key"] == b.loc[common, "world_key"]).mean()) \
        if len(common) else np.nan
    return d


def results_table(c: Collected, baseline: str | None = None,
                  confidence: float = 0.95) -> pd.DataFrame:
    """One row per setting x KPI: params, mean, sd, CI, N, and the paired difference
    against the setting's baseline (NaN for the baseline itself)."""
    base = baseline_runs(c, baseline)
    rows = []
    kpis = c.kpis
    for _, run in c.ok.iterrows():
        r = c.reps[c.reps["run"] == run["run"]]
        # every KPI of the sweep for every setting (n = 0, NaN where a run has no value)
        present = [k for k in kpis if k in r.columns]
        s = summarize(r, present, confidence)
        b = base.get(run["run"])
        b_setting = c.runs.set_index("run").loc[b, "setting"] if b else ""
        for k in present:
            row = {"run": run["run"], "setting": run["setting"],
                   **{p: run.get(p) for p in c.params}, "kpi": k, **s.loc[k].to_dict(),
                   "baseline": b_setting}  # fmt: skip
            if b and b != run["run"]:
                row.update(pair(c, b, run["run"], k, confidence))
            rows.append(row)
    cols = ["run", "setting", *c.params, "kpi", "mean", "sd", "ci_low", "ci_high", "half_width",
            "n", "baseline", *DIFF_COLUMNS, "same_worlds"]  # fmt: skip
    out = pd.DataFrame(rows)
    for col in cols:
        if col not in out.columns:
            out[col] = np.nan
    out = out[cols]
    out["n"] = out["n"].astype("Int64")
    out["diff_n"] = out["diff_n"].astype("Float64").astype("Int64")
    out["significant"] = out["significant"].astype("boolean")
    return out
