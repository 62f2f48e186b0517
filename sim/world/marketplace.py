"""Marketplace additions for calibrated scenarios (all off by default).

Real order histories such as Olist's come from marketplaces: an order waits for approval
and for the seller to hand it to the carrier (days, not the minutes of a picking station),
and the promise is an estimate per order rather than a business-day rule.  These draws
use their own streams (``warehouse.handling``, ``orders.promise_lead``), so a scenario
that leaves them off draws exactly what it drew before.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from sim.config import OrdersConfig, WarehouseConfig
from sim.rng import Streams
from sim.world.carrier import duration_quantile


def seller_delay(cfg: WarehouseConfig, n: int, streams: Streams) -> np.ndarray:
    """Hours from label creation until the parcel is ready for a carrier pickup."""
    if cfg.handling_delay is None:
        return np.zeros(n)
    return duration_quantile(cfg.handling_delay, streams.uniforms("warehouse.handling", n)[:, 0])


def promised_from_lead(cfg: OrdersConfig, placed_at: np.ndarray, transit_u: np.ndarray,
                       streams: Streams) -> np.ndarray:
    """Promise = placed + lead draw, the draw's normal score correlated with the line-haul's.

    ``transit_u`` are the uniforms the carrier uses for each order's line-haul.
    """
    assert cfg.promise_lead is not None
    n = placed_at.size
    rho = cfg.promise_transit_corr
    z_own = special.ndtri(np.clip(streams.uniforms("orders.promise_lead", n)[:, 0], 1e-12, 1 - 1e-12))
    z_transit = special.ndtri(np.clip(transit_u, 1e-12, 1 - 1e-12))
    u = special.ndtr(rho * z_transit + np.sqrt(1.0 - rho**2) * z_own)
    return placed_at + duration_quantile(cfg.promise_lead, u)
