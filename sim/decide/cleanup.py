"""The clean-up: the best few candidates and the status quo on *fresh* worlds.

Search worlds flatter the winner of a search (it was picked for doing well on them), so
the choice is made again on worlds the search never saw (replications from
``budget.cleanup_first_replication`` on), in two stages on disjoint worlds:

1. **Screening** (n0 worlds): every system's constraints, each with its required
   confidence (a one-sided t bound; relative constraints on the paired difference with
   the status quo).  Systems whose constraints are not shown to hold leave.
2. **Selection** (the next worlds): Kim-Nelson's fully sequential procedure among the
   feasible systems, all on the same worlds (common random numbers), with indifference
   zone ``delta`` and probability of correct selection ``pcs``.  Because its worlds are
   independent of the screening worlds, the guarantee holds for the screened set as it is.

The status quo is evaluated on every clean-up world (even once eliminated) so that every
comparison with it is paired on all the worlds the other system saw.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from sim.config import ExsimConfig
from sim.decide.config import DecisionConfig
from sim.decide.evaluate import evaluate
from sim.decide.select import KimNelson, holm, one_sided
from sim.world import World


@dataclass
class System:
    label: str
    overrides: list[str]
    cfg: ExsimConfig
    trial: int | None = None  # the search trial it came from (None: the status quo)


@dataclass
class CleanupResult:
    systems: list[System]
    rows: pd.DataFrame  # system, replication, stage, <kpis>
    feasible: list[int]  # systems that passed screening
    selected: int | None  # index into systems (None: nothing feasible)
    guaranteed: bool  # Kim-Nelson finished within the budget (its PCS holds)
    kn_worlds: int  # worlds of the selection stage used by the last survivor


def constraint_checks(d: DecisionConfig, rows: pd.DataFrame, i: int,
                      level: float | None = None) -> dict[str, dict]:
    """Each constraint of system ``i`` on its rows: estimate, one-sided bound, holds."""
    own = rows[rows["system"] == i].set_index("replication")
    sq = rows[rows["system"] == 0].set_index("replication")
    out = {}
    for name, c in d.constraints.items():
        conf = level or c.confidence
        if c.kpi not in own.columns:
            out[name] = {"kpi": c.kpi, "estimate": math.nan, "bound_at_confidence": math.nan,
                         "holds": False, "note": "KPI missing from the run"}  # fmt: skip
            continue
        x = own[c.kpi]
        if c.relative:
            common = own.index.intersection(sq.index)
            x = own.loc[common, c.kpi] - sq.loc[common, c.kpi]
        est, b = one_sided(x.to_numpy(), c.sense, conf)
        holds = bool(np.isfinite(b) and (b <= c.bound if c.sense == "at_most" else b >= c.bound))
        out[name] = {"kpi": c.kpi, "sense": c.sense, "bound": c.bound, "relative": c.relative,
                     "confidence": conf, "estimate": est, "bound_at_confidence": b,
                     "holds": holds, "n": int(np.isfinite(x).sum())}  # fmt: skip
    return out


def _rows(systems: list[int], kpis: list[dict], r: int, stage: str) -> list[dict]:
    return [{"system": i, "replication": r, "stage": stage, **k}
            for i, k in zip(systems, kpis, strict=True)]  # fmt: skip


def run_cleanup(systems: list[System], d: DecisionConfig, world: Callable[[int], World],
                progress: bool | None = None) -> CleanupResult:
    """Screen then select (module docstring); ``systems[0]`` is the status quo."""
    b = d.budget
    sign = -1.0 if d.objective.direction == "minimize" else 1.0
    cfgs = [s.cfg for s in systems]
    rows: list[dict] = []
    r = b.cleanup_first_replication
    bar = tqdm(desc="clean-up", unit="world", file=sys.stderr, leave=False,
               disable=None if progress is None else not progress)  # fmt: skip

    def run(idx: list[int], stage: str) -> np.ndarray:
        nonlocal r
        idx = sorted(set(idx) | {0})  # the status quo on every world
        kp = evaluate([cfgs[i] for i in idx], world(r))
        rows.extend(_rows(idx, kp, r, stage))
        r += 1
        bar.update(1)
        x = np.full(len(systems), np.nan)
        for i, k in zip(idx, kp, strict=True):
            x[i] = sign * k.get(d.objective.kpi, np.nan)
        return x

    everyone = list(range(len(systems)))
    for _ in range(b.n0):
        run(everyone, "screen")
    screen = pd.DataFrame(rows)
    feasible = [i for i in everyone
                if all(c["holds"] for c in constraint_checks(d, screen, i).values())]  # fmt: skip
    selected, guaranteed, used = None, False, 0
    if len(feasible) == 1:
        selected, guaranteed = feasible[0], True
    elif len(feasible) > 1:
        kn = KimNelson(d.delta, 1 - d.pcs, b.n0)
        first = np.stack([run(feasible, "select") for _ in range(b.n0)])[:, feasible]
        kn.start(first)
        while not kn.done[0] and kn.r[0] < b.max_worlds:
            alive = [feasible[j] for j in np.flatnonzero(kn.alive[0])]
            kn.step(run(alive, "select")[feasible])
        selected = feasible[int(kn.best()[0])]
        guaranteed, used = bool(kn.done[0]), int(kn.r[0])
    bar.close()
    return CleanupResult(systems, pd.DataFrame(rows), feasible, selected, guaranteed, used)


def summarise(res: CleanupResult, d: DecisionConfig, confidence: float) -> dict:
    """Every system's objective (mean, CI), paired differences with the status quo (Holm
    over the candidates; intervals Bonferroni-adjusted to the same family-wise level), the
    constraints, and the subset of systems not shown to be more than delta worse."""
    rows, kpi = res.rows, d.objective.kpi
    sq = rows[rows["system"] == 0].set_index("replication")[kpi]
    m = max(1, len(res.systems) - 1)
    out = []
    for i, s in enumerate(res.systems):
        x = rows.loc[rows["system"] == i, ["replication", kpi]].set_index("replication")[kpi]
        ci = stats.ttest_1samp(x, 0).confidence_interval(confidence) if len(x) > 1 else None
        entry = {"system": i, "label": s.label, "trial": s.trial, "overrides": s.overrides,
                 "n": int(len(x)), "mean": float(x.mean()),
                 "ci_low": float(ci.low) if ci else math.nan,
                 "ci_high": float(ci.high) if ci else math.nan,
                 "feasible": i in res.feasible,
                 "constraints": constraint_checks(d, rows, i)}  # fmt: skip
        if i > 0:
            common = x.index.intersection(sq.index)
            diff = x.loc[common] - sq.loc[common]
            if len(common) > 1 and diff.std() > 0:
                t = stats.ttest_rel(x.loc[common], sq.loc[common])
                adj = t.confidence_interval(1 - (1 - confidence) / m)
                entry.update(diff=float(diff.mean()), diff_low=float(adj.low),
                             diff_high=float(adj.high), p_value=float(t.pvalue))  # fmt: skip
            else:
                entry.update(diff=float(diff.mean()), diff_low=math.nan, diff_high=math.nan,
                             p_value=1.0 if len(common) > 1 else math.nan)  # fmt: skip
        out.append(entry)
    cands = [e for e in out if e["system"] > 0]
    if cands:
        adj = holm(np.array([e["p_value"] for e in cands], float))
        for e, p in zip(cands, adj, strict=True):
            e["p_holm"] = float(p)
            e["better_than_status_quo"] = bool(p <= 1 - confidence and (
                e["diff"] < 0 if d.objective.direction == "minimize" else e["diff"] > 0))  # fmt: skip
    sel = res.selected
    subset = []
    if sel is not None:
        sign = -1.0 if d.objective.direction == "minimize" else 1.0
        xs = rows[rows["system"] == sel].set_index("replication")[kpi]
        for i in res.feasible:
            xi = rows[rows["system"] == i].set_index("replication")[kpi]
            common = xi.index.intersection(xs.index)
            gap = sign * (xi.loc[common] - xs.loc[common])  # >= 0: i is better
            _, ub = one_sided(gap.to_numpy(), "at_most", d.pcs)
            if i == sel or (np.isfinite(ub) and ub >= -d.delta):
                subset.append(i)
    return {"systems": out, "subset": subset}
