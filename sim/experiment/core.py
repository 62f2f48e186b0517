"""Replications, automatic N and paired comparisons (common random numbers).

Replication ``r`` of a run is the independent world spawned from ``(seed, r)``
(:mod:`sim.rng`), so N replications are N independent worlds, and two settings evaluated
on replication ``r`` see the same world (or, if their scenarios differ, the same random
numbers): their difference is *paired*, which removes the world-to-world noise that
independent runs would carry into the comparison.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from sim.config import ExsimConfig
from sim.experiment.cache import WorldCache, world_key
from sim.experiment.stats import kpi_columns, paired_table, summarize, welch_diff
from sim.pipeline import RunResult, run_once
from sim.world import World


@dataclass
class Replications:
    """N replications of one setting: one row per replication, plus replication 0's detail."""

    cfg: ExsimConfig
    reps: pd.DataFrame  # replication, seed, world_key, elapsed_s, <kpis...>
    first: RunResult | None = None  # replication 0's full result (tables)
    world0: World | None = None  # replication 0's world (only when asked for)

    @property
    def n(self) -> int:
        return len(self.reps)

    @property
    def kpis(self) -> list[str]:
        return kpi_columns(self.reps)

    def summary(self, confidence: float | None = None) -> pd.DataFrame:
        """Mean, sd, t-interval and N of every KPI (one row per KPI)."""
        return summarize(self.reps, self.kpis, confidence or self.cfg.experiment.confidence)


def _bar(total: int | None, desc: str, enabled: bool | None) -> tqdm:
    return tqdm(total=total, desc=desc, unit="rep", file=sys.stderr, leave=False,
                disable=None if enabled is None else not enabled)  # fmt: skip


Runner = Callable[[ExsimConfig, int, World], RunResult]


def _one(cfg: ExsimConfig, r: int, cache: WorldCache | None,
         run: Runner | None = None) -> tuple[dict, RunResult, World]:
    t0 = time.perf_counter()
    world = cache.get(cfg, r) if cache is not None else None
    if world is None:
        from sim.world import simulate_world

        world = simulate_world(cfg, replication=r)
    res = (run or run_once)(cfg, r, world)
    row = {"replication": r, "seed": cfg.seed, "world_key": world_key(cfg.scenario, cfg.seed, r),
           "elapsed_s": time.perf_counter() - t0, **{k: float(v) for k, v in res.kpis.items()}}
    return row, res, world


def _check_target(reps: pd.DataFrame, cfg: ExsimConfig) -> None:
    e = cfg.experiment
    if e.target_kpi not in reps.columns:
        raise KeyError(f"experiment.target_kpi = {e.target_kpi!r} is not a KPI of this run; "
                       f"available: {kpi_columns(reps)}")  # fmt: skip


def half_width(values: list[float], confidence: float) -> float:
    """Half-width of the t-interval of the mean: ``scipy.stats.t.ppf`` x s / sqrt(n) -- the
    interval of :func:`t_interval` (a test checks they agree), without its per-call
    overhead, since the stopping rule asks after every replication."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan
    return float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


def precise_enough(values: list[float], rel_precision: float, confidence: float) -> bool:
    """The target KPI's t-interval half-width is at most ``rel_precision`` x |mean|."""
    h = half_width(values, confidence)
    return math.isfinite(h) and h <= rel_precision * abs(float(np.nanmean(values)))


def sequential_n(step: Callable[[int], float], start: int, cap: int, rel_precision: float,
                 confidence: float) -> int:
    """The automatic replication count: call ``step(i)`` (run replication i, return its
    target KPI) for i = 0, 1, ... -- at least ``start`` times, then until the interval is
    precise enough or ``cap`` replications ran.  Returns N.

    Checking from a minimum ``start`` (``experiment.min_replications``, default 10) is what
    keeps the coverage of the final interval near its nominal level: from N = 2 a lucky
    small sd ends the run early with an interval that misses (coverage ~0.89 at 95 %).
    The test suite measures this coverage on a synthetic stream through this function.
    """
    start = min(start, cap)
    values: list[float] = []
    while True:
        values.append(float(step(len(values))))
        n = len(values)
        if n >= cap or (n >= start and precise_enough(values, rel_precision, confidence)):
            return n


def replicate(cfg: ExsimConfig, n: int | None = None, *, cache: WorldCache | None = None,
              progress: bool | None = None, keep_world0: bool = False,
              first: int = 0, desc: str = "replications",
              run: Runner | None = None) -> Replications:
    """Run ``cfg`` on ``n`` (default ``cfg.replications``) independent worlds.

    With ``cfg.experiment.target_kpi`` set, N is chosen by :func:`sequential_n`: at least
    max(``n``, ``min_replications``), then one more at a time until that KPI's half-width
    is at most ``rel_precision`` x |mean| or ``max_replications`` is reached.  ``first``
    shifts the replication indices (``first..first+n-1``), e.g. for a set of worlds
    independent of another run's.
    ``progress``: None = a bar on a terminal only (and only if ``cfg.progress``).
    ``run(cfg, replication, world) -> RunResult`` replaces :func:`sim.pipeline.run_once`
    (e.g. world-only KPIs in a statistical test).
    """
    n = int(n or cfg.replications)
    e = cfg.experiment
    rows: list[dict] = []
    kept: dict = {}

    def step(i: int) -> float:
        r = first + i
        row, res, world = _one(cfg, r, cache, run)
        rows.append(row)
        if i == 0:
            kept["res"], kept["world"] = res, (world if keep_world0 else None)
            if e.target_kpi:
                _check_target(pd.DataFrame(rows), cfg)  # an unknown KPI fails at once
        bar.update(1)
        return row.get(e.target_kpi, math.nan) if e.target_kpi else math.nan

    enabled = False if not cfg.progress else progress
    if e.target_kpi:
        cap = max(e.max_replications, n)
        with _bar(None, desc, enabled) as bar:
            sequential_n(step, max(n, e.min_replications), cap, e.rel_precision, e.confidence)
    else:
        with _bar(n, desc, enabled) as bar:
            for i in range(n):
                step(i)
    return Replications(cfg, pd.DataFrame(rows), kept.get("res"), kept.get("world"))


@dataclass
class Comparison:
    """Setting B against setting A: each side's replications and the differences B - A."""

    a: Replications
    b: Replications
    diff: pd.DataFrame  # per KPI: mean_a, mean_b, diff, CI, n, p_value, significant
    paired: bool  # False: B ran on other worlds (Welch interval, the unpaired reference)
    shared_worlds: bool  # True: A and B were evaluated on literally the same worlds


def compare(cfg_a: ExsimConfig, cfg_b: ExsimConfig, n: int | None = None, *,
            independent: bool = False, cache: WorldCache | None = None,
            progress: bool | None = None) -> Comparison:
    """Evaluate A and B on the same N worlds and report the paired differences B - A.

    If A and B share the world config (scenario and seed), each world is simulated once
    and both are evaluated on it; otherwise they still use the same random numbers per
    replication (common random numbers).  ``independent=True`` instead runs B on
    replications N..2N-1 (worlds A never saw) and reports Welch intervals: the reference
    that shows what pairing buys.
    """
    n = int(n or cfg_a.replications)
    shared = (not independent and cfg_a.seed == cfg_b.seed
              and world_key(cfg_a.scenario, cfg_a.seed, 0) == world_key(cfg_b.scenario, cfg_b.seed, 0))  # fmt: skip
    if cache is None and shared:
        cache = WorldCache(None, memory=1)  # A then B on replication r: keep world r
    if shared:  # interleave so that world r is simulated once and kept only briefly
        rows_a, rows_b, first = [], [], {}
        with _bar(n, "compare", False if not cfg_a.progress else progress) as bar:
            for r in range(n):
                for side, cfg, rows in (("a", cfg_a, rows_a), ("b", cfg_b, rows_b)):
                    row, res, _ = _one(cfg, r, cache)
                    rows.append(row)
                    if r == 0:
                        first[side] = res
                bar.update(1)
        a = Replications(cfg_a, pd.DataFrame(rows_a), first.get("a"))
        b = Replications(cfg_b, pd.DataFrame(rows_b), first.get("b"))
    else:
        plain = replace(cfg_a.experiment, target_kpi="")
        a = replicate(replace(cfg_a, experiment=plain), n, cache=cache, progress=progress,
                      desc="A")  # fmt: skip
        b = replicate(replace(cfg_b, experiment=replace(cfg_b.experiment, target_kpi="")), n,
                      cache=cache, progress=progress, first=n if independent else 0, desc="B")
    conf = cfg_a.experiment.confidence
    if independent:
        kpis = [k for k in a.kpis if k in b.reps.columns]
        diff = pd.DataFrame.from_dict(
            {k: {"mean_a": a.reps[k].mean(), "mean_b": b.reps[k].mean(),
                 **welch_diff(a.reps[k], b.reps[k], conf)} for k in kpis}, orient="index")  # fmt: skip
        diff.index.name = "kpi"
    else:
        diff = paired_table(a.reps, b.reps, confidence=conf)
    return Comparison(a, b, diff, paired=not independent, shared_worlds=shared)

