"""Order stream: non-homogeneous Poisson arrivals and per-order attributes.

The arrival rate is piecewise constant by hour (hour-of-day x day-of-week profile), so the
exact way to draw it is a Poisson count per hour and uniform instants within the hour: no
thinning, no per-order process.  Attributes come from their own streams, indexed by order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import SERVICE_LEVELS, OrdersConfig
from sim.rng import Streams
from sim.world.calendar import HOURS_PER_DAY, Calendar


def hourly_rate(cfg: OrdersConfig, cal: Calendar, days: float) -> np.ndarray:
    """Expected orders in each hour ``[h, h+1)`` of the horizon (mean daily = per_day x mult)."""
    n_hours = int(np.ceil(days * HOURS_PER_DAY))
    hour = np.arange(n_hours)
    hour_w = np.asarray(cfg.hour_profile, float)
    hour_w = hour_w / hour_w.mean()
    wd_w = np.asarray(cfg.weekday_profile, float)
    wd_w = wd_w / wd_w.mean()
    day = hour // 24
    rate = cfg.per_day * cfg.volume_multiplier / HOURS_PER_DAY * hour_w[hour % 24]
    rate = rate * wd_w[cal.weekday[day]]
    # a partial last hour gets its share of the rate
    rate[-1] *= days * HOURS_PER_DAY - (n_hours - 1)
    return rate


def arrival_times(cfg: OrdersConfig, cal: Calendar, days: float, streams: Streams) -> np.ndarray:
    rate = hourly_rate(cfg, cal, days)
    counts = streams.generator("orders.count").poisson(rate)
    bins = np.repeat(np.arange(len(rate), dtype=float), counts)
    offsets = streams.generator("orders.offset").random(bins.size)
    last_width = days * HOURS_PER_DAY - (len(rate) - 1)
    width = np.where(bins == len(rate) - 1, last_width, 1.0)
    return np.sort(bins + offsets * width)


@dataclass
class Orders:
    """Order attributes known to the order system (all arrays indexed by order id)."""

    placed_at: np.ndarray
    value: np.ndarray
    items: np.ndarray
    service: np.ndarray  # codes into SERVICE_LEVELS
    region: np.ndarray  # codes into region_names
    region_names: tuple[str, ...]
    promised_at: np.ndarray

    def __len__(self) -> int:
        return self.placed_at.size


def _categorical(u: np.ndarray, weights: list[float]) -> np.ndarray:
    cdf = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(weights) - 1).astype(np.int8)


def promise_times(cfg: OrdersConfig, cal: Calendar, placed_at: np.ndarray,
                  service: np.ndarray) -> np.ndarray:
    """Promised delivery: ``k`` business days after the ship day, at ``promise_hour``.

    The ship day is the order day if it is a business day and the order came before the
    ship cutoff, else the next business day (what checkout pages promise).
    """
    day = cal.day_of(placed_at)
    late = (placed_at - day * HOURS_PER_DAY) >= cfg.ship_cutoff_hour
    ship_day = cal.next_business_day_on_or_after(day + late)
    k = np.array([cfg.promise_business_days[s] for s in SERVICE_LEVELS])[service]
    return cal.add_business_days(ship_day, k) * HOURS_PER_DAY + cfg.promise_hour


def make_orders(cfg: OrdersConfig, cal: Calendar, days: float, streams: Streams) -> Orders:
    placed = arrival_times(cfg, cal, days, streams)
    n = placed.size
    value = np.round(
        cfg.value_median * np.exp(cfg.value_sigma * streams.generator("orders.value").standard_normal(n)), 2
    )
    items = 1 + streams.generator("orders.items").poisson(cfg.extra_items_mean, n).astype(np.int16)
    service = _categorical(
        streams.generator("orders.service").random(n), [cfg.service_mix.get(s, 0.0) for s in SERVICE_LEVELS]
    )
    region_names = tuple(cfg.regions)
    region = _categorical(streams.generator("orders.region").random(n), list(cfg.regions.values()))
    return Orders(placed, value, items, service, region, region_names,
                  promise_times(cfg, cal, placed, service))
