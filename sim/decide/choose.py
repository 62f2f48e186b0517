"""``optimize``: search on common worlds, clean up on fresh worlds, recommend.

    >>> from sim.decide import optimize
    >>> rec = optimize(["scenario.days=7", "decision.budget.trials=30"], out_dir="outputs/choose")

Writes into ``out_dir``: ``study.db`` (the Optuna study; ``optuna-dashboard
sqlite:///<out_dir>/study.db``), ``trials.parquet`` (one row per trial: parameters,
overrides, mean of every KPI over the search worlds, feasibility), ``cleanup.parquet``
(every clean-up evaluation), ``recommendation.json``, ``report.html`` and ``report.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from sim.config import ExsimConfig
from sim.decide.cleanup import CleanupResult, System, run_cleanup, summarise
from sim.decide.config import DecisionConfig
from sim.decide.evaluate import Problem, evaluate
from sim.decide.search import completed, open_study, run_search
from sim.decide.space import describe
from sim.experiment.cache import WorldCache
from sim.experiment.runs import write_atomic
from sim.summary import jsonable


def _sq_on_search_worlds(sq: ExsimConfig, d: DecisionConfig, worlds) -> dict[str, list[float]]:
    rows = [evaluate([sq], worlds(r))[0] for r in range(d.budget.worlds)]
    return {k: [row.get(k, np.nan) for row in rows] for k in rows[0]}


def trials_table(study: optuna.Study, d: DecisionConfig, base: ExsimConfig) -> pd.DataFrame:
    """One row per trial: number, state, parameters, overrides, mean of every KPI over the
    search worlds, the constraint violations and feasibility (point estimates)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        kpis = t.user_attrs.get("kpis", {})
        viol = t.user_attrs.get("violations", [])
        row = {"trial": t.number, "state": t.state.name, "value": t.value,
               "label": describe(t.params, base.recovery),
               "overrides": " ".join(t.user_attrs.get("overrides", [])),
               "feasible": bool(viol) is False or all(v <= 0 for v in viol)
               if t.state == TrialState.COMPLETE else False,
               "worker": t.user_attrs.get("worker", ""),
               "duration_s": t.duration.total_seconds() if t.duration else math.nan}  # fmt: skip
        row.update({f"param.{k}": v for k, v in t.params.items()})
        row.update({k: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
                    for k, v in ((k, np.asarray(v, float)) for k, v in kpis.items())})  # fmt: skip
        row.update({f"violation.{n}": v for n, v in zip(d.constraints, viol, strict=False)})
        rows.append(row)
    return pd.DataFrame(rows)


def candidates(trials: pd.DataFrame, d: DecisionConfig) -> pd.DataFrame:
    """The best ``budget.candidates`` distinct feasible completed trials."""
    ok = trials[(trials["state"] == "COMPLETE") & trials["feasible"]]
    ok = ok.sort_values("value", ascending=d.objective.direction == "minimize")
    return ok.drop_duplicates("overrides").head(d.budget.candidates)


def _clean(obj):
    """JSON-ready: numpy scalars to Python, NaN to null."""
    obj = jsonable(obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _interval(e: dict) -> dict:
    return {"mean": e["mean"], "ci_low": e["ci_low"], "ci_high": e["ci_high"], "n": e["n"]}


def recommendation(problem: Problem, d: DecisionConfig, res: CleanupResult, summary: dict,
                   confidence: float, trials: pd.DataFrame, timing: dict) -> dict:
    """The answer, in the words of recommendation.json (see docs/choose_a_policy.md)."""
    systems = summary["systems"]
    sel = res.selected
    chosen = systems[sel] if sel is not None else systems[0]
    sq = systems[0]
    diff = None
    if sel is not None and sel != 0:
        diff = {"mean": chosen["diff"], "ci_low": chosen["diff_low"],
                "ci_high": chosen["diff_high"], "p_value": chosen["p_value"],
                "p_holm": chosen.get("p_holm"),
                "better_than_status_quo": chosen.get("better_than_status_quo"),
                "adjustment": f"Holm over {len(systems) - 1} comparisons with the status quo; "
                              f"interval Bonferroni at {confidence:g} family-wise"}  # fmt: skip
    return _clean({
        "policy": chosen["label"], "policy_overrides": chosen["overrides"],
        "run_overrides": problem.run_overrides(chosen["overrides"]),
        "is_status_quo": sel in (None, 0),
        "reason": ("selected by Kim-Nelson among the feasible systems" if sel is not None
                   else "no system met the constraints on the clean-up worlds: keep the "
                        "status quo and revisit the constraints"),
        "objective": {"kpi": d.objective.kpi, "direction": d.objective.direction,
                      "confidence": confidence, **_interval(chosen)},
        "status_quo": {"overrides": problem.status_quo_overrides, **_interval(sq)},
        "difference": diff,
        "constraints": chosen["constraints"],
        "pcs": d.pcs if res.guaranteed else None,
        "pcs_note": ("guaranteed probability of correct selection (Kim-Nelson, common worlds)"
                     if res.guaranteed else
                     "Kim-Nelson stopped at budget.max_worlds before one system was left: "
                     "best mean of the survivors, no guarantee"),
        "delta": d.delta,
        "worlds_search": d.budget.worlds,
        "worlds_cleanup": int(res.rows["replication"].nunique()),
        "cleanup_replications": [int(res.rows["replication"].min()),
                                 int(res.rows["replication"].max())],
        "kn_worlds": res.kn_worlds,
        "subset": [systems[i]["label"] for i in summary["subset"]],
        "candidates": systems,
        "trials": int((trials["state"] == "COMPLETE").sum()),
        "timing_s": timing,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    })


def optimize(overrides: Sequence[str] = (), out_dir: str | Path | None = None, *,
             progress: bool | None = None, report: bool = True) -> dict:
    """Choose a policy for the problem composed from ``overrides`` (``decision.*`` included).

    Re-running with the same ``out_dir`` resumes the search.  Returns the recommendation
    (also written to ``out_dir/recommendation.json``).
    """
    from sim.api import load_config

    cfg = load_config(*overrides)  # validates everything (ConfigError) before any world
    d = cfg.decision
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="exsim-opt-"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "decision.json").write_text(json.dumps(
        {"overrides": list(overrides), "decision": asdict(d)}, indent=2))
    problem = Problem.from_overrides(overrides, d.status_quo)
    sq_cfg = problem.status_quo()
    cache = WorldCache(out / ".worlds", memory=d.budget.worlds)

    def search_world(r: int):
        return cache.get(cfg, r)

    t0 = time.perf_counter()
    timing: dict[str, float] = {}
    sq_kpis: dict[str, list[float]] = {}
    if d.stage in ("all", "search"):
        sq_kpis = _sq_on_search_worlds(sq_cfg, d, search_world)
        (out / "status_quo_search.json").write_text(json.dumps(_clean(sq_kpis)))
        study = run_search(problem, d, out, search_world, sq_kpis, progress)
    else:
        study = open_study(d, out)
    timing["search"] = time.perf_counter() - t0
    trials = trials_table(study, d, cfg)
    write_atomic(out / "trials.parquet", lambda p: trials.to_parquet(p, index=False))
    if d.stage == "search":
        return {"stage": "search", "trials": completed(study), "out_dir": str(out)}
    cands = candidates(trials, d)
    systems = [System("status quo: " + " ".join(d.status_quo), list(d.status_quo), sq_cfg)]
    for _, t in cands.iterrows():
        ov = t["overrides"].split(" ")
        systems.append(System(f"#{t['trial']}: {t['label']}", ov, problem.policy(ov),
                              int(t["trial"])))  # fmt: skip
    t1 = time.perf_counter()
    fresh = WorldCache(None, memory=0)
    res = run_cleanup(systems, d, lambda r: fresh.get(cfg, r), progress)
    timing["cleanup"] = time.perf_counter() - t1
    write_atomic(out / "cleanup.parquet", lambda p: res.rows.to_parquet(p, index=False))
    summary = summarise(res, d, cfg.experiment.confidence)
    timing["total"] = time.perf_counter() - t0
    rec = recommendation(problem, d, res, summary, cfg.experiment.confidence, trials, timing)
    write_atomic(out / "recommendation.json",
                 lambda p: p.write_text(json.dumps(rec, indent=2, default=str)))
    if report:
        from sim.decide.report import write_report

        sq_means = {k: float(np.mean(f)) for k, v in sq_kpis.items()
                    if (f := np.asarray(v, float)[np.isfinite(np.asarray(v, float))]).size} \
            if sq_kpis else None
        write_report(out, rec, trials, res, problem, d, progress=progress, sq_search=sq_means,
                     cache=cache)
    return rec
