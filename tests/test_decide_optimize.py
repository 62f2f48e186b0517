"""exsim-optimize on a tiny world: it finds a planted best, honours constraints, resumes a
killed study, and writes what a planner reads."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pandas as pd
import pytest
from exp_helpers import ROOT

from sim.decide import optimize
from sim.decide.evaluate import Problem, evaluate

TINY = ["scenario.days=3", "scenario.orders.per_day=300", "progress=false"]
# the space: analysts per shift 1..4 and a no-movement window (off, 24, 48, 72, 96 h)
SPACE = ["~decision.space.rules.past_promise", "~decision.space.plans.missing_parcel",
         "decision.space.business_hours=false", "decision.space.weather_hold=false",
         "decision.space.rules.no_movement.low=24", "decision.space.rules.no_movement.step=24",
         "decision.space.analysts=[1,4]"]  # fmt: skip
BUDGET = ["decision.budget.trials=10", "decision.budget.worlds=2",
          "decision.budget.candidates=2", "decision.budget.n0=5", "decision.delta=0.5"]  # fmt: skip
GRID = list(itertools.product(range(1, 5), [None, 24.0, 48.0, 72.0, 96.0]))


def policy(analysts: int, hours: float | None) -> list[str]:
    if hours is None:
        return ["detection.no_movement.enabled=false", f"recovery.team.analysts={analysts}"]
    return ["detection.no_movement.enabled=true", f"detection.no_movement.hours={hours}",
            f"recovery.team.analysts={analysts}"]  # fmt: skip


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    """Every policy of the space on the two search worlds (the brute-force truth)."""
    p = Problem.from_overrides(TINY, ["detection=reactive"])
    import sim

    worlds = [sim.run_world(p.cfg, replication=r) for r in range(2)]
    cfgs = [p.policy(policy(a, h)) for a, h in GRID]
    per_world = [evaluate(cfgs, w) for w in worlds]  # the batch API: one feed per world
    rows = []
    for j, (a, h) in enumerate(GRID):
        k = [kp[j] for kp in per_world]
        rows.append({"analysts": a, "hours": h,
                     "cost_per_order": np.mean([x["cost_per_order"] for x in k]),
                     "proactive": np.mean([x["proactive_catch_share"] for x in k])})
    return pd.DataFrame(rows).sort_values("cost_per_order").reset_index(drop=True)


def _has(rec: dict, analysts: int, hours: float | None) -> bool:
    ov = set(rec["policy_overrides"])
    want = {f"recovery.team.analysts={analysts}"} | (
        {"detection.no_movement.enabled=false"} if hours is None
        else {"detection.no_movement.enabled=true", f"detection.no_movement.hours={hours}"})
    return want <= ov


def _analysts(rec: dict) -> int:
    return int(next(o for o in rec["policy_overrides"] if "analysts=" in o).split("=")[1])


def test_optimiser_finds_the_planted_best_policy(grid, tmp_path):
    # The plant: an analyst per shift costs about $1.4 per order on this world, and a 24 h
    # window floods the team, so the best policies have one analyst and any other window;
    # everything else is worse by more than delta = $0.5 per order.
    best = grid.iloc[0]
    planted = (grid["analysts"] == 1) & (grid["hours"] != 24.0)
    assert planted.iloc[0]
    assert (grid.loc[~planted, "cost_per_order"] > best["cost_per_order"] + 0.5).all()
    rec = optimize([*TINY, *SPACE, *BUDGET, "decision=cost_only"], tmp_path, progress=False)
    assert _analysts(rec) == 1, rec["policy_overrides"]
    assert not _has(rec, 1, 24.0), rec["policy_overrides"]
    assert rec["pcs"] == 0.95 and rec["delta"] == 0.5
    # clean-up on fresh worlds: replications disjoint from the search's 0..1
    clean = pd.read_parquet(tmp_path / "cleanup.parquet")
    assert clean["replication"].min() >= 100_000
    assert rec["worlds_cleanup"] >= 10 and rec["worlds_search"] == 2
    assert rec["difference"]["ci_high"] < 0  # cheaper than the status quo, surely
    trials = pd.read_parquet(tmp_path / "trials.parquet")
    assert (trials["state"] == "COMPLETE").sum() == 10
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "<table" in html
    assert html.index("Recommended") < html.index("<img")  # the recommendation first
    assert rec["run_overrides"][: len(TINY)] == TINY  # exsim <run_overrides> reproduces it


def test_constraints_are_honoured(grid, tmp_path):
    # At least 5 % of the exceptions acted on before the customer noticed, 80 % sure: a
    # 96 h window or none cannot (on the search worlds), 24-72 h can -- so the cheapest
    # policies are out, and the clean-up's screening (fresh worlds) keeps only those whose
    # one-sided bound clears 5 %.
    bound = 0.05
    out = grid["hours"].isna() | (grid["hours"] == 96.0)
    assert (grid.loc[out, "proactive"] < bound).all()
    assert (grid.loc[~out, "proactive"] > bound).all()
    assert out.iloc[:4].any()  # the constraint bites: some of the cheapest policies break it
    # three candidates: the cheapest search-feasible ones (72 h) do not clear the bound on
    # fresh worlds, and the clean-up says so
    budget = [o.replace("candidates=2", "candidates=3") for o in BUDGET]
    rec = optimize([*TINY, *SPACE, *budget, "~decision.constraints.case_wait",
                    "~decision.constraints.utilisation", "decision.constraints.stars.relative=false",
                    "decision.constraints.stars.kpi=proactive_catch_share",
                    f"decision.constraints.stars.bound={bound}",
                    "decision.constraints.stars.confidence=0.8"], tmp_path, progress=False,
                   report=False)  # fmt: skip
    assert not rec["is_status_quo"], rec["reason"]
    c = rec["constraints"]["stars"]
    assert c["kpi"] == "proactive_catch_share"
    assert c["holds"] and c["bound_at_confidence"] >= bound
    assert not any(_has(rec, a, h) for a in range(1, 5) for h in (None, 96.0))
    assert not rec["candidates"][0]["feasible"]  # the status quo (reactive) catches none
    screened_out = [e for e in rec["candidates"][1:] if not e["feasible"]]
    assert screened_out  # the fresh worlds overruled the search's point estimates
    for e in rec["candidates"][1:]:  # the search took only policies meeting it to the clean-up
        assert not any(f"detection.no_movement.hours={h}" in e["overrides"] for h in (96.0,))
        assert "detection.no_movement.enabled=false" not in e["overrides"]
    # every system that passed screening met the bound on the screening worlds
    clean = pd.read_parquet(tmp_path / "cleanup.parquet")
    screen = clean[clean["stage"] == "screen"]
    for e in rec["candidates"]:
        if e["feasible"]:
            x = screen.loc[screen["system"] == e["system"], "proactive_catch_share"]
            assert x.mean() >= bound


def _completed(db) -> list[optuna.trial.FrozenTrial]:
    try:
        s = optuna.load_study(study_name="exsim", storage=f"sqlite:///{db}")
    except Exception:  # not created yet
        return []
    return s.get_trials(deepcopy=False)


def test_a_killed_study_resumes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "sim.decide.cli", *TINY, *SPACE, "decision=cost_only",
           "decision.stage=search", "decision.budget.trials=6", "decision.budget.worlds=2",
           "decision.budget.candidates=2", f"hydra.run.dir={out}"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    db = out / "study.db"
    deadline = time.time() + 120
    while time.time() < deadline:
        done = [t for t in _completed(db) if t.state.name == "COMPLETE"]
        if len(done) >= 2:
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {t.number: t.params for t in _completed(db) if t.state.name == "COMPLETE"}
    assert 2 <= len(before) < 6
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    after = _completed(db)
    complete = {t.number: t.params for t in after if t.state.name == "COMPLETE"}
    assert len(complete) == 6
    assert all(complete[n] == p for n, p in before.items())  # earlier trials kept as they were
    assert not [t for t in after if t.state.name == "RUNNING"]  # the killed trial is closed
    # the worlds were simulated once, before the kill, and reused after it
    assert len((out / ".worlds" / "simulated.log").read_text().splitlines()) == 2
    trials = pd.read_parquet(out / "trials.parquet")
    assert (trials["state"] == "COMPLETE").sum() == 6


def test_invalid_decision_exits_2_before_simulating(tmp_path):
    r = subprocess.run([sys.executable, "-m", "sim.decide.cli", *TINY, "decision.delta=-1",
                        "decision.space.analysts=[5,2]", f"hydra.run.dir={tmp_path}"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert r.returncode == 2
    assert "decision.delta = -1.0: must be a finite number > 0" in r.stderr
    assert "decision.space.analysts = [5, 2]" in r.stderr
    assert not (tmp_path / "study.db").exists()
