"""Benchmark of the policy stage against the world it evaluates, in one process.

    .venv/bin/python bench/policy.py                    # 30-day baseline, both engines
    .venv/bin/python bench/policy.py --quick            # 5-day world, a few seconds
    .venv/bin/python bench/policy.py --engines fast --repeat 5

One world is simulated (the baseline scenario, ``--days`` x ``--per-day`` orders), then
every (detection preset, engine) is evaluated on it with ``sim.pipeline.policy_stage``, the
unit a sweep repeats.  Times are CPU seconds of this process (``time.process_time``), so
that other load on a shared machine distorts them less than wall time; every ratio is
against the world time *of the same run*.

* ``first``: the first evaluation of a poll interval in the process (builds the shared
  polled feed, which every later setting with that interval reuses);
* ``policy``: the median of ``--repeat`` further evaluations (what each extra setting of a
  sweep costs).

Lazy imports and the numba-compiled queue (loaded from its cache, or compiled on the very
first run of a checkout) are warmed up on a tiny world before timing; that one-off cost
is printed as ``warm-up``.  Targets (issue 9): the policy
stage at most 0.15 x the world with ``no_movement_48h`` and 0.3 x with ``no_movement_24h``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGETS = {"no_movement_48h": 0.15, "no_movement_24h": 0.30}


def cpu() -> float:
    return time.process_time()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--per-day", type=float, default=5000.0)
    ap.add_argument("--presets", nargs="+",
                    default=["reactive", "no_movement_48h", "no_movement_24h"])
    ap.add_argument("--engines", nargs="+", default=["fast", "simpy"], choices=["fast", "simpy"])
    ap.add_argument("--repeat", type=int, default=3, help="timed evaluations per (preset, fast)")
    ap.add_argument("--quick", action="store_true", help="5 days x 2000 orders, one repeat")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    a = ap.parse_args(argv)
    if a.quick:
        a.days, a.per_day, a.repeat = 5.0, 2000.0, 1

    from sim.api import load_config
    from sim.pipeline import policy_stage
    from sim.world import simulate_world

    base = [f"scenario.days={a.days}", f"scenario.orders.per_day={a.per_day}"]
    cfgs = {(p, e): load_config(*base, f"detection={p}", f"recovery.engine={e}")
            for p in a.presets for e in a.engines}
    c0 = cpu()  # lazy imports and the queue's numba cache: a tiny run, not timed below
    tiny = simulate_world(load_config("scenario.days=1", "scenario.orders.per_day=50"))
    policy_stage(tiny, load_config("scenario.days=1", "scenario.orders.per_day=50",
                                   "detection=no_movement_24h"))
    print(f"warm-up: {cpu() - c0:.2f} s CPU (imports, numba cache load: once per process)")
    c0 = cpu()
    world = simulate_world(next(iter(cfgs.values())))
    world_s = cpu() - c0
    n = len(world.observation.orders)
    print(f"world: {n:,} orders, {len(world.observation.tracking):,} tracking events, "
          f"{world_s:.2f} s CPU ({n / world_s / 1e3:.0f} k orders/s)")

    rows = []
    print(f"\n{'preset':<18}{'engine':<8}{'cases':>8}{'first s':>9}{'policy s':>10}"
          f"{'orders/s':>11}{'policy/world':>14}{'target':>8}")
    for (preset, engine), cfg in cfgs.items():
        c0 = cpu()
        r = policy_stage(world, cfg)
        first = cpu() - c0
        times = []
        for _ in range(a.repeat if engine == "fast" else 0):
            c0 = cpu()
            policy_stage(world, cfg)
            times.append(cpu() - c0)
        t = statistics.median(times) if times else first
        target = TARGETS.get(preset) if engine == "fast" else None
        row = {"preset": preset, "engine": engine, "orders": n, "cases": len(r.tables["cases"]),
               "world_s": world_s, "first_s": first, "policy_s": t, "orders_per_s": n / t,
               "ratio": t / world_s, "target": target}  # fmt: skip
        rows.append(row)
        ok = "" if target is None else ("ok" if row["ratio"] <= target else "MISS")
        print(f"{preset:<18}{engine:<8}{row['cases']:>8,}{first:>9.2f}{t:>10.2f}"
              f"{n / t / 1e3:>10.0f}k{row['ratio']:>14.2f}"
              f"{'' if target is None else f'<= {target:.2f}':>8} {ok}")
    by = {(r["preset"], r["engine"]): r for r in rows}
    for p in a.presets:
        if (p, "fast") in by and (p, "simpy") in by:
            print(f"{p}: fast engine {by[p, 'simpy']['policy_s'] / by[p, 'fast']['policy_s']:.1f}x "
                  "the SimPy reference (policy stage)")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
