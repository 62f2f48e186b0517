"""One run = world stage then policy stage, returning KPIs and per-order tables.

This is the unit the experiment layer replicates, caches and sweeps.  The world stage
depends only on (scenario, seed, replication); pass a recorded ``world`` to skip it, and
the policy stage gives exactly what a full run gives (the policy's own draws are keyed by
order, not by the sequence of events).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from policies.detection import FeedIndex, detect
from policies.recovery import work_cases
from sim.config import ExsimConfig
from sim.desk import WorldDesk
from sim.observe import with_polling_lag
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
    obs = with_polling_lag(world.observation, cfg.detection.poll_hours)
    feed = FeedIndex.build(obs)  # the polled feed per order, shared by detection and the team
    alerts = detect(obs, cfg.detection, world.calendar, feed)
    desk = WorldDesk(world, cfg.recovery, streams, cfg.outcomes.goods_cost_share)
    team = cfg.recovery.team
    warmup_days = float(getattr(cfg, "warmup_days", 0.0))
    # every KPI is measured over the same window: after the warm-up, up to the order horizon
    kpi_window = (warmup_days * HOURS_PER_DAY, world.observation.horizon)

    z = streams.generator("team.handling").standard_normal(len(obs.orders))  # row = order
    handling_hours = team.handling_median_hours * np.exp(team.handling_sigma * z)

    def handling(order_id: int) -> float:
        return float(handling_hours[order_id])

    def moved_since(order_id: int, t0: float, t1: float) -> bool:
        return feed.events_seen_between(order_id, t0, t1) > 0

    result = work_cases(
        alerts, obs.orders, lambda o, t: bool(feed.delivered_seen[o] <= t), moved_since, cfg.recovery,
        desk,
        rota(team_shifts(team), team.operating_days, world.calendar), handling,
        horizon=world.calendar.n_days * HOURS_PER_DAY, kpi_window=kpi_window,
    )
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
