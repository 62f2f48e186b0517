"""Export a simulated world as the CSV files a shop would export (order history and
tracking events), with real timestamps: the input of the round-trip test and a handy way
to try ``exsim-calibrate`` (preset ``exsim``) without data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim import feed
from sim.world import World


def _stamps(world: World, t: np.ndarray, fmt: str) -> pd.Series:
    t = np.asarray(t, float)
    ok = np.isfinite(t)
    out = pd.Series([""] * t.size, dtype=object)
    if ok.any():
        stamps = pd.to_datetime(world.calendar.to_datetime(t[ok]))
        out[ok] = stamps.strftime(fmt)
    return out


def export_world(world: World, out_dir: str | Path, date_format: str = "%Y-%m-%d %H:%M:%S"
                 ) -> tuple[Path, Path]:
    """Write ``orders.csv`` and ``tracking.csv``; delivery times come from the tracking feed
    (the Delivered event), as a shop would know them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    o = world.observation.orders
    tr = world.observation.tracking
    delivered = tr[tr["sub_status"] == "delivered"].groupby("tracking_no")["time"].min()
    d_at = o["tracking_no"].map(delivered).to_numpy(float)
    orders = pd.DataFrame({
        "order_id": o["order_id"], "tracking_no": o["tracking_no"],
        "placed_at": _stamps(world, o["placed_at"], date_format),
        "label_at": _stamps(world, o["label_at"], date_format),
        "handed_over_at": _stamps(world, o["handed_over_at"], date_format),
        "delivered_at": _stamps(world, d_at, date_format),
        "promised_at": _stamps(world, o["promised_at"], date_format),
        "status": np.where(np.isfinite(d_at), "delivered", "not_delivered"),
        "value": o["value"], "region": o["region"].astype(str),
    })  # fmt: skip
    events = pd.DataFrame({
        "tracking_no": tr["tracking_no"], "time": _stamps(world, tr["time"], date_format),
        "status": tr["status"].astype(str), "location": tr["location"].astype(str),
    })
    assert feed.ORIGIN in set(events["location"]) or events.empty
    orders_path, tracking_path = out / "orders.csv", out / "tracking.csv"
    orders.to_csv(orders_path, index=False)
    events.to_csv(tracking_path, index=False)
    return orders_path, tracking_path
