"""One run = world stage then policy stage, returning KPIs and per-order tables.

This is the unit the experiment layer replicates, caches and sweeps.  The world stage
depends only on (scenario, seed, replication); pass a recorded ``world`` to skip it, and
the policy stage gives exactly what a full run gives (the policy's own draws are keyed by
order, not by the sequence of events).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from policies.cases import work_cases_fast
from policies.detection import FeedIndex, detect
from policies.recovery import work_cases
from sim.config import ExsimConfig
from sim.desk import WorldDesk
from sim.observe import Observation, with_polling_lag
from sim.outcomes import score
from sim.rng import Streams
from sim.world import World, simulate_world
from sim.world.calendar import HOURS_PER_DAY
from sim.world.warehouse import rota


@dataclass
class RunResult:
    seed: int
    replication: int
    kpis: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def team_shifts(team) -> list:
    """The team's rota: its shifts, with ``analysts`` (if not null) on every shift.

    The one place that turns the team config into shifts (both case engines use it)."""
    if team.analysts is None:
        return list(team.shifts)
    return [replace(s, pickers=team.analysts) for s in team.shifts]


# (world identity, poll hours) -> (polled observation, FeedIndex)
_FEEDS: OrderedDict[tuple, tuple[Observation, FeedIndex]] = OrderedDict()
FEEDS_KEPT = 4  # a sweep works one world at a time, with a few poll intervals


def world_identity(world: World) -> tuple:
    """What a world is a function of: a world loaded from the cache is the same world as
    the one simulated (the world stage is deterministic), so it shares its feed."""
    obs = world.observation
    return (world.seed, world.replication, repr(world.scenario), len(obs.orders),
            len(obs.tracking))


def polled_feed(world: World, poll_hours: float) -> tuple[Observation, FeedIndex]:
    """The feed as a tracker polling every ``poll_hours`` sees it, arranged per order:
    built once per (world, poll interval) in a process and shared by every policy
    evaluated on that world (it depends on nothing else)."""
    key = (world_identity(world), float(poll_hours))
    hit = _FEEDS.get(key)
    if hit is not None:
        _FEEDS.move_to_end(key)
        return hit
    obs = with_polling_lag(world.observation, poll_hours)
    feed = FeedIndex.build(obs)
    _FEEDS[key] = (obs, feed)
    while len(_FEEDS) > FEEDS_KEPT:
        _FEEDS.popitem(last=False)
    return obs, feed


def describe_team(team) -> str:
    """One line for the run summary: the rota the team is paid for."""
    days = " ".join(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d]
                    for d in sorted(team.operating_days))
    shifts = ", ".join(f"{s.start_hour:g}-{s.end_hour:g} h x {s.pickers}"
                       for s in team_shifts(team))  # fmt: skip
    paid = sum((s.end_hour - s.start_hour) * s.pickers for s in team_shifts(team))
    size = "per shift: own counts" if team.analysts is None else f"{team.analysts} per shift"
    return f"team: {shifts} analysts ({size}; {days}; {paid:g} paid hours a working day)"


def policy_stage(world: World, cfg: ExsimConfig) -> RunResult:
    """Detection, the exception team and recovery on a recorded world, then scoring."""
    streams = Streams(world.seed, world.replication)
    obs, feed = polled_feed(world, cfg.detection.poll_hours)  # shared by detection and the team
    alerts = detect(obs, cfg.detection, world.calendar, feed)
    desk = WorldDesk(world, cfg.recovery, streams, cfg.outcomes.goods_cost_share)
    team = cfg.recovery.team
    warmup_days = float(cfg.warmup_days)
    # every KPI is measured over the same window: after the warm-up, up to the order horizon
    kpi_window = (warmup_days * HOURS_PER_DAY, world.observation.horizon)

    z = streams.generator("team.handling").standard_normal(len(obs.orders))  # row = order
    handling_hours = team.handling_median_hours * np.exp(team.handling_sigma * z)

    shifts = rota(team_shifts(team), team.operating_days, world.calendar)
    horizon = world.calendar.n_days * HOURS_PER_DAY
    if cfg.recovery.engine == "fast":
        result = work_cases_fast(alerts, obs.orders, feed.delivered_seen, feed.next_seen_after,
                                 cfg.recovery, desk, shifts, handling_hours, horizon, kpi_window)
    else:
        def handling(order_id: int) -> float:
            return float(handling_hours[order_id])

        def moved_since(order_id: int, t0: float, t1: float) -> bool:
            return feed.events_seen_between(order_id, t0, t1) > 0

        result = work_cases(alerts, obs.orders, lambda o, t: bool(feed.delivered_seen[o] <= t),
                            moved_since, cfg.recovery, desk, shifts, handling, horizon=horizon,
                            kpi_window=kpi_window)
    actions = desk.table()
    scored = score(world, result.alerts, result.cases, actions, result.busy_hours,
                   result.staffed_hours, cfg.outcomes, streams, kpi_window=kpi_window)
    return RunResult(world.seed, world.replication, scored.kpis, {
        "outcomes": scored.orders, "alerts": result.alerts, "cases": result.cases,
        "actions": actions, "rules": scored.rules,
    })  # fmt: skip


def run_once(cfg: ExsimConfig, replication: int = 0, world: World | None = None) -> RunResult:
    """World (unless given) then policies; KPIs as plain floats."""
    if world is None:
        world = simulate_world(cfg, replication=replication)
    elif (world.seed, world.replication) != (cfg.seed, replication):
        raise ValueError(f"world is for seed {world.seed} replication {world.replication}, "
                         f"not {cfg.seed}/{replication}")
    return policy_stage(world, cfg)


def evaluate_many(world: World, cfgs: Sequence[ExsimConfig]) -> list[RunResult]:
    """Evaluate K policy configs on one recorded world: ``[run_once(c, world.replication,
    world) for c in cfgs]``, identical results, but the polled feed is built once per poll
    interval and the world's tables are read once (what a sweep or an optimiser wants)."""
    for c in cfgs:
        if c.seed != world.seed:
            raise ValueError(f"world is for seed {world.seed}, a config has seed {c.seed}")
    return [policy_stage(world, c) for c in cfgs]
