"""Benchmark of a K-setting sweep on one world: its total cost in world-units.

    .venv/bin/python bench/sweep.py                 # 8 detection settings, 30-day baseline
    .venv/bin/python bench/sweep.py --quick         # 5-day world
    .venv/bin/python bench/sweep.py --engines fast simpy

A sweep or an optimiser evaluates many policies on one cached world.  Here one world is
simulated, then K detection settings (no-movement windows and presets, the sort of sweep
a planner runs) are evaluated on it with ``sim.pipeline.evaluate_many`` — the batch API
that builds the polled feed once per poll interval.  CPU seconds of this process; the
total is reported in world-units (sweep time / world time of the same run).  Target
(issue 9): 8 detection settings cost at most 2 world-times in total.

For contrast, ``--engines simpy`` runs the same sweep on the SimPy reference team.  The
one-off numba load is done before timing and printed apart.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_WORLD_UNITS = 2.0
SETTINGS = [
    ("detection=reactive",),
    ("detection=industry_default",),
    *((f"detection.no_movement.hours={h}",) for h in (12, 18, 24, 36, 48, 72)),
]  # 8 settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--per-day", type=float, default=5000.0)
    ap.add_argument("--engines", nargs="+", default=["fast"], choices=["fast", "simpy"])
    ap.add_argument("--quick", action="store_true", help="5 days x 2000 orders")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    a = ap.parse_args(argv)
    if a.quick:
        a.days, a.per_day = 5.0, 2000.0

    from sim.api import load_config
    from sim.pipeline import evaluate_many, policy_stage
    from sim.world import simulate_world

    base = [f"scenario.days={a.days}", f"scenario.orders.per_day={a.per_day}"]
    c0 = time.process_time()  # lazy imports and the numba cache: not timed below
    tiny = simulate_world(load_config("scenario.days=1", "scenario.orders.per_day=50"))
    policy_stage(tiny, load_config("scenario.days=1", "scenario.orders.per_day=50"))
    print(f"warm-up: {time.process_time() - c0:.2f} s CPU (imports, numba cache load)")
    c0 = time.process_time()
    world = simulate_world(load_config(*base))
    world_s = time.process_time() - c0
    n = len(world.observation.orders)
    print(f"world: {n:,} orders, {world_s:.2f} s CPU")

    rows = []
    for engine in a.engines:
        cfgs = [load_config(*base, *s, f"recovery.engine={engine}") for s in SETTINGS]
        c0 = time.process_time()
        results = evaluate_many(world, cfgs)
        total = time.process_time() - c0
        units = total / world_s
        cases = sum(len(r.tables["cases"]) for r in results)
        rows.append({"engine": engine, "settings": len(cfgs), "orders": n, "world_s": world_s,
                     "sweep_s": total, "world_units": units, "cases": cases})
        ok = "ok" if units <= TARGET_WORLD_UNITS else "MISS"
        print(f"{engine:<6} {len(cfgs)} settings: {total:.2f} s CPU = {units:.2f} world-units "
              f"({total / len(cfgs):.2f} s a setting, {cases:,} cases); "
              f"target <= {TARGET_WORLD_UNITS:g} (fast): {ok if engine == 'fast' else '-'}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
