"""The search: an Optuna study over the space, every trial on the same worlds.

The study lives in ``study.db`` (SQLite) in the run folder, or in the storage named by
``decision.storage`` (a ``*.log``/``*.journal`` path: Optuna's journal file, which many
workers on a shared file system can use at once without a database server; an RDB URL).
Re-running in the same folder resumes: completed trials are kept, a trial left RUNNING by
a killed process of this host is marked FAIL, and the search runs until the study holds
``budget.trials`` completed trials (all workers together).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState
from tqdm import tqdm

from sim.decide.config import DecisionConfig
from sim.decide.evaluate import Problem, evaluate
from sim.decide.space import suggest
from sim.experiment.cache import pid_alive
from sim.world import World


def storage_for(d: DecisionConfig, out: Path):
    """The study's storage: SQLite in ``out`` by default; a journal file; an RDB URL."""
    if not d.storage:
        return f"sqlite:///{(out / 'study.db').resolve()}"
    if d.storage.endswith((".log", ".journal")):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        Path(d.storage).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(d.storage))
    return d.storage


# A live worker names itself on its trial within milliseconds of creating it; a RUNNING
# trial still unnamed after this long was created by a process killed in that instant.
UNNAMED_GRACE_S = 2.0


def fail_stale(study: optuna.Study) -> int:
    """Mark FAIL the trials a killed process of this host left RUNNING (and trials whose
    process was killed before it could name itself on them)."""
    host, n = socket.gethostname(), 0
    now = datetime.datetime.now()  # Optuna stamps datetime_start in naive local time
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        w = str(t.user_attrs.get("worker", ""))
        h, _, pid = w.rpartition(":")
        unnamed = (not w and t.datetime_start is not None
                   and (now - t.datetime_start).total_seconds() > UNNAMED_GRACE_S)
        if unnamed or (h == host and pid.isdigit() and not pid_alive(int(pid))):
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            n += 1
    return n


def violations(d: DecisionConfig, kpis: dict[str, list[float]],
               sq: dict[str, list[float]]) -> list[float]:
    """Constraint values for Optuna (<= 0: satisfied), from point estimates on the search
    worlds; relative constraints use the paired difference with the status quo."""
    out = []
    for c in d.constraints.values():
        x = np.asarray(kpis.get(c.kpi, [np.nan]), float)
        if c.relative:
            x = x - np.asarray(sq.get(c.kpi, [np.nan]), float)
        est = float(np.nanmean(x)) if np.isfinite(x).any() else np.inf
        v = est - c.bound if c.sense == "at_most" else c.bound - est
        out.append(float(v) if np.isfinite(v) else 1e9)
    return out


def open_study(d: DecisionConfig, out: Path) -> optuna.Study:
    """Create or load the study (TPE reads the constraints each trial sets)."""
    if d.sampler == "random":
        sampler = optuna.samplers.RandomSampler(seed=d.sampler_seed)
    else:
        sampler = optuna.samplers.TPESampler(
            seed=d.sampler_seed, n_startup_trials=min(10, max(1, d.budget.trials // 4)))
    return optuna.create_study(storage=storage_for(d, out), study_name=d.study_name,
                               direction=d.objective.direction, sampler=sampler,
                               load_if_exists=True)  # fmt: skip


def completed(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def run_search(problem: Problem, d: DecisionConfig, out: Path,
               worlds: Callable[[int], World], sq_kpis: dict[str, list[float]],
               progress: bool | None = None) -> optuna.Study:
    """Run (or resume) the study until it holds ``budget.trials`` completed trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(d, out)
    stale = fail_stale(study)
    if stale:
        print(f"exsim-optimize: {stale} trial(s) of a killed run marked FAIL; resuming",
              file=sys.stderr)  # fmt: skip
    base = problem.cfg
    worker = f"{socket.gethostname()}:{os.getpid()}"
    done = completed(study)
    bar = tqdm(total=d.budget.trials, initial=done, desc="search", unit="trial",
               file=sys.stderr, disable=None if progress is None else not progress)  # fmt: skip

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        overrides = suggest(trial, d.space, base.recovery)
        cfg = problem.policy(overrides)
        rows = [evaluate([cfg], worlds(r))[0] for r in range(d.budget.worlds)]
        kpis = {k: [row.get(k, np.nan) for row in rows] for k in rows[0]}
        trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("kpis", kpis)
        viol = violations(d, kpis, sq_kpis)
        trial.set_user_attr("violations", viol)
        for name, v in zip(d.constraints, viol, strict=True):
            trial.set_constraint(name, v)
        value = float(np.mean(kpis[d.objective.kpi]))
        return value

    def tick(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        bar.update(1)
        with contextlib.suppress(ValueError):
            bar.set_postfix_str(f"best {study.best_value:.4g}")

    remaining = d.budget.trials - done
    if remaining > 0:
        study.optimize(objective, n_trials=remaining, callbacks=[
            optuna.study.MaxTrialsCallback(d.budget.trials, states=(TrialState.COMPLETE,)),
            tick])  # fmt: skip
    bar.close()
    return study
