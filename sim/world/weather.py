"""Weather: regional hub closures, Poisson by calendar month.

While a closure lasts, parcels bound for the region stop moving and stop being scanned:
the carrier model pauses their clocks (:func:`pause_through_closures`).  Each region has its
own stream, so adding a region or changing one region's storms leaves the others alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import WeatherConfig
from sim.rng import Streams
from sim.world.calendar import HOURS_PER_DAY, Calendar


@dataclass
class Closures:
    """Closures sorted by start: region code, start and end hour."""

    region: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return self.start.size


def draw_closures(cfg: WeatherConfig, region_names: tuple[str, ...], cal: Calendar,
                  streams: Streams) -> Closures:
    """Closures over the whole calendar (orders plus drain), region by region."""
    hit = cfg.regions or list(region_names)
    rate_per_day = np.asarray(cfg.events_per_region_month, float)[cal.month - 1] / 30.4
    rows = []
    for r, name in enumerate(region_names):
        if name not in hit:
            continue
        rng = streams.generator(f"weather.{name}")
        counts = rng.poisson(rate_per_day)
        day = np.repeat(np.arange(cal.n_days), counts)
        start = (day + rng.random(day.size)) * HOURS_PER_DAY
        dur = rng.uniform(cfg.duration_days_min, cfg.duration_days_max, day.size) * HOURS_PER_DAY
        rows.append((np.full(day.size, r), start, start + dur))
    if not rows:
        return Closures(np.empty(0, np.int16), np.empty(0), np.empty(0))
    region, start, end = (np.concatenate(x) for x in zip(*rows, strict=True))
    order = np.argsort(start, kind="stable")
    return Closures(region[order].astype(np.int16), start[order], end[order])


def pause_through_closures(t0: np.ndarray, duration: np.ndarray, region: np.ndarray,
                           closures: Closures) -> tuple[np.ndarray, np.ndarray]:
    """End of a leg that starts at ``t0`` and needs ``duration`` hours of movement.

    Movement stops while the parcel's region is closed; the remaining work resumes when
    the closure ends.  Returns ``(end, paused_hours)``.  Closures are applied in order
    of start, so a leg stretched by one storm may run into the next.  Closures of a region
    may overlap (two storms); a parcel already stopped until ``e0`` only loses the part of
    the next closure beyond ``e0``, so overlapping hours are not counted twice.
    """
    end = t0 + duration
    paused = np.zeros_like(t0)
    stopped_until = np.full_like(t0, -np.inf)  # end of the latest closure that stopped it
    for r, s, e in zip(closures.region, closures.start, closures.end, strict=True):
        hit = (region == r) & (s < end) & (e > t0)
        if not hit.any():
            continue
        overlap_from = np.maximum(np.maximum(s, t0[hit]), stopped_until[hit])
        added = np.maximum(e - overlap_from, 0.0)
        end[hit] += added
        paused[hit] += added
        stopped_until[hit] = np.maximum(stopped_until[hit], e)
    return end, paused


def closed_at(t: np.ndarray, region: np.ndarray, closures: Closures) -> np.ndarray:
    """End of the closure covering ``t`` in the parcel's region, or ``t`` if open."""
    out = t.copy()
    for r, s, e in zip(closures.region, closures.start, closures.end, strict=True):
        hit = (region == r) & (s <= out) & (out < e)
        out[hit] = e
    return out
