"""Warehouse: a picking station worked by pickers on shifts (SimPy), pack, mis-picks.

The station is a FIFO multi-server queue.  Pickers are SimPy processes that follow their
shift rota and pull the next waiting order (the "servers as processes" pattern of SimPy's
own examples): a free, on-duty picker takes the oldest unclaimed order, works it, and
repeats; off duty it sleeps until its next shift.  The picker finishes an order it started
even past its shift end (non-preemptive).  Only one SimPy event is scheduled per order,
which is what keeps a million orders practical; everything that does not queue (pack
time, mis-pick, the pack-station check) is drawn in bulk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy
from scipy import special

from sim.config import MISPICK_KINDS, ShiftConfig, WarehouseConfig
from sim.rng import Streams
from sim.world.calendar import HOURS_PER_DAY, Calendar
from sim.world.orders import Orders, _categorical

NO_MISPICK = -1


def pick_hours(cfg: WarehouseConfig, items: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Pick time in hours by inversion of the configured distribution (mean grows with items)."""
    mean = (cfg.pick_minutes_base + cfg.pick_minutes_per_item * (items - 1)) / 60.0
    u = np.clip(u, 1e-12, 1 - 1e-12)
    if cfg.pick_time_dist == "exponential":
        return -mean * np.log1p(-u)
    cv2 = cfg.pick_time_cv**2
    if cfg.pick_time_dist == "gamma":
        shape = 1.0 / cv2
        return special.gammaincinv(shape, u) * mean / shape
    sigma = np.sqrt(np.log1p(cv2))
    return mean * np.exp(sigma * special.ndtri(u) - sigma**2 / 2)


def rota(shifts: list[ShiftConfig], operating_days: list[int], cal: Calendar) -> list[np.ndarray]:
    """For each worker (picker, analyst), the sorted ``(k, 2)`` on-duty windows."""
    n_pickers = max(s.pickers for s in shifts)
    rota: list[list[np.ndarray]] = [[] for _ in range(n_pickers)]
    for shift in shifts:
        windows = cal.intervals(operating_days, shift.start_hour, shift.end_hour)
        for j in range(shift.pickers):
            rota[j].append(windows)
    out = []
    for windows in rota:
        w = np.concatenate(windows) if windows else np.empty((0, 2))
        out.append(w[np.argsort(w[:, 0])])
    return out


@dataclass
class PickResult:
    start: np.ndarray
    end: np.ndarray


def simulate_picking(arrival: np.ndarray, service: np.ndarray, rota: list[np.ndarray],
                     on_day: Callable[[int], None] | None = None) -> PickResult:
    """Run the picking station; ``arrival`` must be sorted.  Returns start and end times."""
    n = arrival.size
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    env = simpy.Environment()
    next_order = [0]  # index of the oldest unclaimed order (shared by all pickers)

    def picker(windows: np.ndarray):
        for shift_start, shift_end in windows:
            if env.now < shift_start:
                yield env.timeout(shift_start - env.now)
            while env.now < shift_end:
                i = next_order[0]
                if i >= n:
                    return
                if arrival[i] >= shift_end:  # nothing arrives before my shift ends
                    break
                next_order[0] = i + 1
                start[i] = max(arrival[i], env.now)
                end[i] = start[i] + service[i]
                yield env.timeout(end[i] - env.now)

    pickers = [env.process(picker(windows)) for windows in rota if len(windows)]
    if on_day is None:
        env.run()
    else:
        day = 0
        while any(p.is_alive for p in pickers):
            day += 1
            env.run(until=day * HOURS_PER_DAY)
            on_day(day)
    if next_order[0] < n:
        raise RuntimeError(
            f"{n - next_order[0]} orders were never picked: the shift rota ends before the "
            "backlog clears (add pickers or shifts)"
        )
    return PickResult(start, end)


@dataclass
class WarehouseResult:
    pick_start: np.ndarray
    pick_end: np.ndarray
    label_at: np.ndarray  # the order system now believes the order shipped
    mispick: np.ndarray  # code into MISPICK_KINDS, NO_MISPICK if none
    mispick_caught: np.ndarray  # caught by the pack-station check (and reworked)


def run_warehouse(cfg: WarehouseConfig, orders: Orders, cal: Calendar, streams: Streams,
                  on_day: Callable[[int], None] | None = None) -> WarehouseResult:
    n = len(orders)
    mis_u = streams.uniforms("warehouse.mispick", n, 3)
    has_mispick = mis_u[:, 0] < cfg.mispick_prob
    kind = _categorical(mis_u[:, 1], [cfg.mispick_kinds.get(k, 0.0) for k in MISPICK_KINDS])
    mispick = np.where(has_mispick, kind, NO_MISPICK).astype(np.int8)
    caught = has_mispick & (mis_u[:, 2] < cfg.pack_check_catch)
    # a mis-pick caught at the pack check is re-picked by the same picker
    service = pick_hours(cfg, orders.items, streams.uniforms("warehouse.pick", n)[:, 0])
    service = service + caught * cfg.rework_minutes / 60.0
    picked = simulate_picking(orders.placed_at, service,
                              rota(cfg.shifts, cfg.operating_days, cal), on_day)
    pack = cfg.pack_minutes_median / 60.0 * np.exp(
        cfg.pack_minutes_sigma * streams.generator("warehouse.pack").standard_normal(n)
    )
    return WarehouseResult(picked.start, picked.end, picked.end + pack, mispick, caught)
