"""Benchmark of the world stage: orders simulated per second and memory per order.

    .venv/bin/python bench/world.py                       # 100 k and 1 M orders
    .venv/bin/python bench/world.py --sizes 100000 --naive-max 100000
    .venv/bin/python bench/world.py --quick               # smoke run, a few seconds

Two implementations of the same world are timed, each case in a fresh subprocess:

* ``exsim``: :func:`sim.world.simulate_world` on the baseline scenario, with ``per_day`` and
  ``days`` set to reach the size (<= 150 k orders: 20 days; more: 30 days) and the pickers
  of every shift scaled with ``per_day`` so that the warehouse keeps up.
* ``naive``: the textbook SimPy model written below: one process per order and one
  ``env.timeout`` per step (arrival, pick on a ``simpy.Resource`` of the same pickers whose
  capacity follows the same shifts, pack, wait for the pickup, acceptance, line-haul, sort,
  wait for the delivery round, each delivery attempt), the same distributions and
  parameters, and the same per-order outputs (an order table and a scan feed).  Its random
  numbers are drawn in bulk up front, so the naive time is SimPy's, not the RNG's: the
  ratio is, if anything, flattering to the naive model.  Weather is simplified there (a
  parcel that reaches a closed region waits for it to reopen) and there is no customer
  model; both only make the naive reference cheaper.  It runs with Python's default garbage
  collector, as a user would; part of its slow-down with size is the collector walking
  ~10^5 live processes (at 300 k orders, ``gc.disable()`` cut its CPU time from 35 to 25 s).

Memory: peak RSS (``resource.getrusage``) minus the RSS after the imports, and the memory
per order beyond the output tables = (peak - baseline - tables' ``memory_usage(deep=True)``)
/ orders.  Targets: exsim >= 5x the naive reference, < 2 KB per order beyond the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from bisect import bisect_left
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SPEEDUP = 5.0
TARGET_BYTES_PER_ORDER = 2048


# --------------------------------------------------------------------------- cases
def scenario_for(orders: int):
    """The baseline scenario scaled to about ``orders`` orders."""
    from sim.config import ScenarioConfig

    s = ScenarioConfig(name=f"bench-{orders}")
    s.days = 20.0 if orders <= 150_000 else 30.0
    s.orders.per_day = math.ceil(orders / s.days)
    scale = s.orders.per_day / 5000.0
    for sh in s.warehouse.shifts:
        sh.pickers = max(1, math.ceil(sh.pickers * scale))
    return s


def _rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _tables_bytes(tables) -> int:
    return int(sum(df.memory_usage(deep=True).sum() for df in tables))


def run_exsim(orders: int, seed: int) -> dict:
    import sim.world  # noqa: F401  (imports belong to the baseline)
    from sim.world import simulate_world

    scenario = scenario_for(orders)
    base = _rss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    world = simulate_world(scenario, seed=seed)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _rss_bytes()
    tables = [*world.tables().values(), world.truth.closures]
    return {"n": len(world.truth.orders), "seconds": elapsed, "cpu": cpu, "base": base,
            "peak": peak,
            "tables": _tables_bytes(tables), "events": len(world.observation.tracking)}


def run_naive(orders: int, seed: int) -> dict:
    import numpy as np  # noqa: F401  (imports belong to the baseline)
    import pandas as pd  # noqa: F401
    import simpy  # noqa: F401

    import sim.world  # noqa: F401  (naive_world borrows its arrival and duration helpers)

    scenario = scenario_for(orders)
    base = _rss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    order_df, feed_df = naive_world(scenario, seed)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _rss_bytes()
    return {"n": len(order_df), "seconds": elapsed, "cpu": cpu, "base": base, "peak": peak,
            "tables": _tables_bytes([order_df, feed_df]), "events": len(feed_df)}


# --------------------------------------------------------------------------- naive model
def naive_world(s, seed: int):
    """The same world, written the obvious SimPy way (see the module docstring)."""
    import numpy as np
    import pandas as pd
    import simpy

    from sim.config import MISPICK_KINDS, SERVICE_LEVELS
    from sim.rng import Streams
    from sim.world.calendar import Calendar
    from sim.world.carrier import duration_quantile
    from sim.world.orders import make_orders
    from sim.world.warehouse import pick_hours
    from sim.world.weather import draw_closures

    streams = Streams(seed)
    cal = Calendar(s.start_date, int(np.ceil(s.days)) + 120)
    o = make_orders(s.orders, cal, s.days, streams)  # same NHPP arrivals and attributes
    n = len(o)
    w, c = s.warehouse, s.carrier
    rng = np.random.default_rng(seed)

    # ---- every random number up front, the same distributions as exsim
    mispick = rng.random(n) < w.mispick_prob
    caught = mispick & (rng.random(n) < w.pack_check_catch)
    pick = pick_hours(w, o.items, rng.random(n)) + caught * w.rework_minutes / 60.0
    pack = w.pack_minutes_median / 60.0 * np.exp(w.pack_minutes_sigma * rng.standard_normal(n))
    left = rng.random(n) < c.left_behind_prob
    missed_acc = rng.random(n) < c.missed_acceptance_scan_prob
    lag = c.acceptance_lag_median_hours * np.exp(c.acceptance_lag_sigma * rng.standard_normal(n))
    u_line = rng.random(n)
    linehaul = np.empty(n)
    for code, level in enumerate(SERVICE_LEVELS):
        m = o.service == code
        linehaul[m] = duration_quantile(c.transit[level], u_line[m])
    sort = c.sort_median_hours * np.exp(c.sort_sigma * rng.standard_normal(n))
    loss = rng.random((n, 3)) < c.loss_prob_per_leg
    damaged = rng.random(n) < c.damage_prob
    damage_return = damaged & (rng.random(n) < c.damage_return_share)
    miss_scan = rng.random((n, 2)) < c.scan_miss_prob
    window = c.delivery_end_hour - c.delivery_start_hour
    offset = rng.random(n) * window
    fail = rng.random((n, c.max_attempts)) < c.failed_attempt_prob
    _ = MISPICK_KINDS

    pickups = cal.instants(c.pickup_days, c.pickup_hours).tolist()
    rounds = cal.instants(c.delivery_days, [c.delivery_start_hour]).tolist()
    closures = draw_closures(s.weather, o.region_names, cal, streams)
    closed = [sorted((float(a), float(b)) for r, a, b in
                     zip(closures.region, closures.start, closures.end, strict=True) if r == k)
              for k in range(len(o.region_names))]  # fmt: skip
    placed = o.placed_at.tolist()
    region = o.region.tolist()

    # ---- outputs
    pick_start = np.full(n, np.nan)
    pick_end = np.full(n, np.nan)
    handoff = np.full(n, np.nan)
    delivered = np.full(n, np.nan)
    terminal = np.zeros(n, np.int8)  # 0 delivered, 1 lost, 2 never received, 3 returned
    scan_order: list[int] = []
    scan_time: list[float] = []
    scan_kind: list[int] = []

    env = simpy.Environment()
    pickers = simpy.Resource(env, capacity=1)

    def scan(i: int, kind: int) -> None:
        scan_order.append(i)
        scan_time.append(env.now)
        scan_kind.append(kind)

    def next_in(schedule: list[float], t: float) -> float:
        k = bisect_left(schedule, t)
        return schedule[k] if k < len(schedule) else math.inf

    def reopen(i: int):
        """Wait while the parcel's region is closed (the simplified weather)."""
        for a, b in closed[region[i]]:
            if a <= env.now < b:
                yield env.timeout(b - env.now)

    def staffing():
        """The resource's capacity follows the shifts: pickers going off duty finish the
        order in hand (non-preemptive), FIFO as ever."""
        day_on = set(w.operating_days)
        for day in range(cal.n_days):
            t_day = day * 24.0
            on = [(sh.start_hour, sh.end_hour, sh.pickers) for sh in w.shifts]
            on = on if cal.weekday[day] in day_on else []
            edges = sorted({0.0, 24.0, *(a for a, _, _ in on), *(b for _, b, _ in on)})
            for a, b in zip(edges, edges[1:], strict=False):
                if env.now < t_day + a:
                    yield env.timeout(t_day + a - env.now)
                pickers._capacity = sum(p for x, y, p in on if x <= a and b <= y)
                pickers._trigger_put(None)  # more pickers: serve the queue now

    def order(i: int):
        with pickers.request() as req:
            yield req
            pick_start[i] = env.now
            yield env.timeout(pick[i])
            pick_end[i] = env.now
        yield env.timeout(pack[i])
        yield env.timeout(next_in(pickups, env.now + c.cutoff_minutes / 60.0) - env.now)
        handoff[i] = env.now
        if left[i]:
            terminal[i] = 2
            return
        yield env.timeout(lag[i])
        if not missed_acc[i]:
            scan(i, 0)
        yield env.timeout(linehaul[i])
        yield from reopen(i)
        if loss[i, 0]:
            terminal[i] = 1
            return
        if not miss_scan[i, 0]:
            scan(i, 1)
        if damage_return[i]:
            scan(i, 6)
            yield env.timeout(24.0)
            scan(i, 7)
            terminal[i] = 3
            return
        yield env.timeout(sort[i])
        yield from reopen(i)
        if loss[i, 1]:
            terminal[i] = 1
            return
        for k in range(c.max_attempts):
            yield env.timeout(next_in(rounds, env.now + (1.0 if k else 0.0)) - env.now)
            if k == 0 and not miss_scan[i, 1] or k > 0:
                scan(i, 2)
            yield env.timeout(offset[i])
            if k == 0 and loss[i, 2]:
                terminal[i] = 1
                return
            if not fail[i, k]:
                scan(i, 4)
                delivered[i] = env.now
                return
            scan(i, 3)
        yield env.timeout(next_in(rounds, env.now + 1.0) - env.now)
        scan(i, 7)
        terminal[i] = 3

    def source():
        for i in range(n):
            yield env.timeout(placed[i] - env.now)
            env.process(order(i))

    env.process(staffing())
    env.process(source())
    env.run()
    orders_df = pd.DataFrame({
        "order_id": np.arange(n), "placed_at": o.placed_at, "pick_start": pick_start,
        "pick_end": pick_end, "handoff_at": handoff, "delivered_at": delivered,
        "terminal": terminal, "damaged": damaged, "mispick": mispick,
    })  # fmt: skip
    feed_df = pd.DataFrame({"order": np.asarray(scan_order, np.int64),
                            "time": np.asarray(scan_time), "kind": np.asarray(scan_kind, np.int8)})
    return orders_df, feed_df


# --------------------------------------------------------------------------- driver
def run_case(impl: str, orders: int, seed: int) -> dict:
    """Run one case in a fresh interpreter; returns its measurements."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", impl, str(orders),
           "--seed", str(seed)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{impl} {orders}: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _row(impl: str, size: int, m: dict, note: str = "") -> dict:
    beyond = m["peak"] - m["base"] - m["tables"]
    return {"impl": impl, "size": size, "orders": m["n"], "seconds": m["seconds"],
            "cpu": m["cpu"], "rate": m["n"] / m["cpu"], "peak_mb": (m["peak"] - m["base"]) / 2**20,
            "tables_mb": m["tables"] / 2**20, "bytes_per_order": beyond / m["n"],
            "events": m["events"], "note": note}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                    help="target order counts (default: 100000 1000000)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20k and 50k orders")
    ap.add_argument("--naive-max", type=int, default=None,
                    help="run the naive model up to this size and extrapolate larger ones "
                         "from its rate at the largest size run (clearly labelled)")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--child", nargs=2, metavar=("IMPL", "ORDERS"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.child:
        impl, orders = a.child[0], int(a.child[1])
        m = (run_exsim if impl == "exsim" else run_naive)(orders, a.seed)
        print(json.dumps(m))
        return 0

    sizes = [20_000, 50_000] if a.quick else sorted(a.sizes)
    naive_max = a.naive_max if a.naive_max is not None else max(sizes)
    rows = []
    naive_last = None
    for size in sizes:
        print(f"  exsim {size:>10,} ...", file=sys.stderr, flush=True)
        rows.append(_row("exsim", size, run_case("exsim", size, a.seed)))
        if size <= naive_max:
            print(f"  naive {size:>10,} ...", file=sys.stderr, flush=True)
            naive_last = _row("naive", size, run_case("naive", size, a.seed))
            rows.append(naive_last)
        elif naive_last is not None:
            est = dict(naive_last, size=size, orders=rows[-1]["orders"],
                       seconds=float("nan"), cpu=rows[-1]["orders"] / naive_last["rate"],
                       peak_mb=float("nan"), tables_mb=float("nan"),
                       bytes_per_order=float("nan"), events=0,
                       note=f"EXTRAPOLATED from {naive_last['size']:,}")
            rows.append(est)
    print_table(rows)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


def print_table(rows: list[dict]) -> None:
    print()
    print(f"{'impl':<6} {'orders':>10} {'wall s':>8} {'CPU s':>8} {'orders/s':>10} {'peak MB':>8} "
          f"{'tables MB':>9} {'B/order*':>8} {'exsim/naive':>11}  note")
    for r in rows:
        ratio = ""
        if r["impl"] == "exsim":
            naive = next((x for x in rows if x["impl"] == "naive" and x["size"] == r["size"]),
                         None)
            if naive:
                ratio = f"{r['rate'] / naive['rate']:.1f}x"
        print(f"{r['impl']:<6} {r['orders']:>10,} {r['seconds']:>8.2f} {r['cpu']:>8.2f} {r['rate']:>10,.0f} "
              f"{r['peak_mb']:>8.1f} {r['tables_mb']:>9.1f} {r['bytes_per_order']:>8.0f} "
              f"{ratio:>11}  {r['note']}")
    print("orders/s and exsim/naive use CPU time (process_time) of the simulation, which a "
          "busy machine disturbs less than wall time.\n"
          "peak MB = peak RSS - RSS after imports.  * B/order = memory per order beyond the "
          "output tables: (peak - baseline - tables) / orders.\n"
          f"Targets: exsim/naive >= {TARGET_SPEEDUP:.0f}x, < {TARGET_BYTES_PER_ORDER} B/order.")
    for r in rows:
        if r["impl"] != "exsim":
            continue
        naive = next((x for x in rows if x["impl"] == "naive" and x["size"] == r["size"]), None)
        ok_speed = naive is None or r["rate"] / naive["rate"] >= TARGET_SPEEDUP
        ok_mem = r["bytes_per_order"] < TARGET_BYTES_PER_ORDER
        verdict = "meets" if ok_speed and ok_mem else "MISSES"
        print(f"  {r['size']:>10,}: exsim {verdict} the targets"
              + ("" if naive is None else f" (speed-up {r['rate'] / naive['rate']:.1f}x"
                 f"{', extrapolated naive' if naive['note'] else ''})")
              + f", {r['bytes_per_order']:.0f} B/order beyond tables")


if __name__ == "__main__":
    sys.exit(main())
