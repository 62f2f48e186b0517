"""Simulation clock <-> calendar: weekdays, schedules and business days.

Time is in hours since ``start_date`` 00:00.  Schedules (pickups, delivery rounds, shifts)
are precomputed as sorted arrays of instants so that "the next pickup after t" for a
million parcels is one :func:`numpy.searchsorted`, not a loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

HOURS_PER_DAY = 24.0


class Calendar:
    """Days ``0 .. n_days-1`` from ``start_date``; ``n_days`` covers the orders plus a drain."""

    def __init__(self, start_date: str, n_days: int):
        self.start = dt.date.fromisoformat(start_date)
        self.n_days = int(n_days)
        day = np.arange(self.n_days)
        self.weekday = (self.start.weekday() + day) % 7  # 0 = Monday
        self.month = np.array(
            [(self.start + dt.timedelta(days=int(d))).month for d in day], dtype=np.int8
        )
        self.business_days = np.flatnonzero(self.weekday < 5)

    def day_of(self, t: np.ndarray | float) -> np.ndarray:
        return np.floor_divide(np.asarray(t, dtype=float), HOURS_PER_DAY).astype(np.int64)

    def instants(self, weekdays: Sequence[int], hours: Sequence[float]) -> np.ndarray:
        """All instants on the given weekdays at the given hours of day, sorted."""
        days = np.flatnonzero(np.isin(self.weekday, list(weekdays)))
        grid = days[:, None] * HOURS_PER_DAY + np.asarray(sorted(hours), dtype=float)[None, :]
        return grid.ravel()

    def intervals(self, weekdays: Sequence[int], start_hour: float, end_hour: float) -> np.ndarray:
        """``(k, 2)`` array of ``[start, end)`` windows on the given weekdays."""
        days = np.flatnonzero(np.isin(self.weekday, list(weekdays))) * HOURS_PER_DAY
        return np.column_stack([days + start_hour, days + end_hour])

    def next_business_day_on_or_after(self, day: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.business_days, day, side="left")
        return self._business_day(idx)

    def add_business_days(self, day: np.ndarray, k: np.ndarray | int) -> np.ndarray:
        """The day that is ``k`` business days after ``day`` (``day`` itself need not be one)."""
        idx = np.searchsorted(self.business_days, day, side="right") + np.asarray(k) - 1
        return self._business_day(idx)

    def _business_day(self, idx: np.ndarray) -> np.ndarray:
        if np.any(idx >= len(self.business_days)):
            raise ValueError("calendar too short: increase its drain days")
        return self.business_days[idx]

    def _business_clock(self, t: np.ndarray, open_hour: float, close_hour: float) -> np.ndarray:
        """Cumulative business hours from time 0 to ``t``."""
        t = np.asarray(t, dtype=float)
        span = close_hour - open_hour
        per_day = np.where(self.weekday < 5, span, 0.0)
        before = np.concatenate([[0.0], np.cumsum(per_day)])
        day = np.clip(self.day_of(np.where(np.isfinite(t), t, 0.0)), 0, self.n_days - 1)
        within = np.clip(t - day * HOURS_PER_DAY - open_hour, 0.0, span)
        clock = before[day] + np.where(self.weekday[day] < 5, within, 0.0)
        return np.where(np.isfinite(t), clock, np.inf)

    def add_business_hours(self, t0: np.ndarray, hours: float, open_hour: float = 0.0,
                           close_hour: float = 24.0) -> np.ndarray:
        """The instant at which ``hours`` business hours have passed since ``t0``.

        With the defaults a business hour is any hour of Monday-Friday, so 72 business
        hours are three business days (the "3 business days" of tracking products).
        """
        span = close_hour - open_hour
        per_day = np.where(self.weekday < 5, span, 0.0)
        before = np.concatenate([[0.0], np.cumsum(per_day)])
        target = self._business_clock(t0, open_hour, close_hour) + hours
        day = np.searchsorted(before, target, side="left") - 1
        day = np.clip(day, 0, self.n_days - 1)
        rest = target - before[day]
        return np.where(np.isfinite(target), day * HOURS_PER_DAY + open_hour + rest, np.inf)

    def to_datetime(self, t: np.ndarray) -> np.ndarray:
        """Hours since start -> numpy datetime64 (for exports and plots)."""
        base = np.datetime64(self.start.isoformat(), "s")
        return base + (np.asarray(t) * 3600).astype("timedelta64[s]")


def next_instant(schedule: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The first instant of ``schedule`` at or after each ``t`` (inf past the schedule)."""
    idx = np.searchsorted(schedule, t, side="left")
    padded = np.append(schedule, np.inf)
    return padded[idx]
