"""One run = world stage then policy stage, returning KPIs and per-order tables.

This is the unit the experiment layer replicates, caches and sweeps.  The world stage
depends only on (scenario, seed, replication); pass a recorded ``world`` to skip it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sim.config import ExsimConfig
from sim.world import World, simulate_world


@dataclass
class RunResult:
    seed: int
    replication: int
    kpis: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def world_kpis(world: World) -> dict[str, float]:
    tr = world.truth.orders
    n = max(len(tr), 1)
    return {
        "orders": float(len(tr)),
        "on_time_share": float(tr["on_time"].mean()),
        "exception_share": float((tr["exception"] != "none").mean()),
        "contacts_per_order": len(world.observation.contacts) / n,
    }


def run_once(cfg: ExsimConfig, replication: int = 0, world: World | None = None) -> RunResult:
    """World (unless given) then policies; KPIs as plain floats."""
    if world is None:
        world = simulate_world(cfg, replication=replication)
    return RunResult(cfg.seed, replication, world_kpis(world), {})
