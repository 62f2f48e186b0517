"""Estimates from an order history (and tracking events): durations to fit, late share and
promise padding, arrival profile and volume, tracking-scan statistics.  No fitting or
plotting here: plain numbers and arrays (hours) that :mod:`sim.calibrate.fit` and the
report consume."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from sim.calibrate.lateness import days_late_data, promise_anchor
from sim.calibrate.load import TrackingEvents
from sim.calibrate.settings import TrackingSettings


def hours(a: pd.Series, b: pd.Series) -> np.ndarray:
    return ((b - a) / pd.Timedelta(hours=1)).to_numpy(float)


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial share."""
    if n == 0:
        return (np.nan, np.nan)
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    den = 1 + z**2 / n
    mid = (p + z**2 / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return (float(mid - half), float(mid + half))


def normal_score_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of van der Waerden normal scores: the Gaussian-copula correlation."""
    n = a.size
    za = special.ndtri((stats.rankdata(a) - 0.5) / n)
    zb = special.ndtri((stats.rankdata(b) - 0.5) / n)
    return float(np.corrcoef(za, zb)[0, 1])


@dataclass
class OrderEstimates:
    n_orders: int  # with a usable purchase time
    n_complete: int
    start: pd.Timestamp
    end: pd.Timestamp
    days: float
    per_day: float
    hour_profile: list[float]
    weekday_profile: list[float]
    durations: dict[str, np.ndarray]  # quantity -> hours (complete rows)
    late_k: int
    late_share: float
    late_ci: tuple[float, float]
    padding_hours: np.ndarray  # promise - delivery, complete rows (negative = late)
    promise_transit_corr: float  # normal-score correlation of promise lead and transit
    promise_transit_corr_matched: float | None = None  # reproduces late_share in the model
    late_share_model: float | None = None
    value_median: float | None = None
    value_sigma: float | None = None
    regions: dict[str, float] | None = None


def estimate_orders(orders: pd.DataFrame, level: float = 0.95,
                    definition: str = "later_day") -> OrderEstimates:
    """``orders``: rows with a usable purchase time (``complete`` marks the rest).

    ``definition``: when an order is late (:mod:`sim.calibrate.lateness`); the promise
    lead is measured to the instant the scenario's promise stands for."""
    t = orders["purchase"]
    start, end = t.min(), t.max()
    days = max((end.normalize() - start.normalize()).days + 1, 1)
    hour_counts = np.bincount(t.dt.hour, minlength=24).astype(float)
    day_index = pd.date_range(start.normalize(), end.normalize(), freq="D")
    per_weekday_days = np.bincount(day_index.day_of_week, minlength=7).astype(float)
    wd_counts = np.bincount(t.dt.day_of_week, minlength=7).astype(float)
    wd_rate = np.divide(wd_counts, per_weekday_days, out=np.zeros(7), where=per_weekday_days > 0)
    c = orders[orders["complete"]]
    d = {
        "approval_delay": hours(c["purchase"], c["approval"]),
        "processing": hours(c["approval"], c["handoff"]),
        "transit": hours(c["handoff"], c["delivery"]),
        "order_to_handoff": hours(c["purchase"], c["handoff"]),
        "promise_lead": hours(c["purchase"], promise_anchor(c["promise"], definition)),
        "lead_time": hours(c["purchase"], c["delivery"]),
    }
    late = days_late_data(c["delivery"], c["promise"], definition) > 0
    k, n = int(late.sum()), len(c)
    est = OrderEstimates(
        n_orders=len(orders), n_complete=n, start=start, end=end, days=float(days),
        per_day=len(orders) / days,
        hour_profile=list(np.round(hour_counts / max(hour_counts.mean(), 1e-12), 4)),
        weekday_profile=list(np.round(wd_rate / max(wd_rate.mean(), 1e-12), 4)),
        durations=d, late_k=k, late_share=k / max(n, 1), late_ci=wilson(k, n, level),
        padding_hours=hours(c["delivery"], promise_anchor(c["promise"], definition)),
        promise_transit_corr=normal_score_corr(d["promise_lead"], d["transit"]) if n > 2 else 0.0,
    )  # fmt: skip
    if "value" in orders and orders["value"].notna().sum() > 10:
        v = orders["value"].to_numpy(float)
        v = v[np.isfinite(v) & (v > 0)]
        est.value_median = float(np.exp(np.mean(np.log(v))))
        est.value_sigma = float(np.std(np.log(v)))
    if "region" in orders:
        shares = orders["region"].value_counts(normalize=True)
        est.regions = {str(r): round(float(s), 4) for r, s in shares.items()}
    return est


@dataclass
class TrackingEstimates:
    n_shipments: int  # handed-over orders (censoring: recent ones may not be scanned yet)
    no_scan_k: int  # shipments with no carrier event at all
    missing_first_k: int  # with events, but no acceptance scan
    first_scan_after_label: np.ndarray  # hours
    first_scan_after_handoff: np.ndarray  # hours (acceptance lag)
    first_scan_to_delivery: np.ndarray  # hours (line-haul and local delivery)
    scan_gaps: np.ndarray  # hours between consecutive carrier events of a shipment
    notes: list[str] = field(default_factory=list)

    @property
    def missing_first_share(self) -> float:
        return (self.no_scan_k + self.missing_first_k) / max(self.n_shipments, 1)


def estimate_tracking(orders: pd.DataFrame, events: TrackingEvents,
                      ts: TrackingSettings) -> TrackingEstimates:
    # every order the shop handed over (delivered or not): a parcel that never got a scan
    # is usually never delivered either
    c = orders[orders["handoff"].notna()].set_index("tracking_no")
    ev = events.events
    ev = ev[ev["tracking_no"].isin(c.index) & ~ev["status"].isin(ts.ignore_statuses)]
    ev = ev.sort_values(["tracking_no", "time"], kind="stable")
    first = ev.groupby("tracking_no")["time"].first()
    if ts.origin_locations:
        acc = ev[ev["location"].isin(ts.origin_locations)].groupby("tracking_no")["time"].first()
    else:
        acc = first
    scanned = c.index.isin(first.index)
    accepted = c.index.isin(acc.index)
    gaps = ev.groupby("tracking_no")["time"].diff().dropna() / pd.Timedelta(hours=1)
    a = c.loc[acc.index]
    est = TrackingEstimates(
        n_shipments=len(c), no_scan_k=int((~scanned).sum()),
        missing_first_k=int((scanned & ~accepted).sum()),
        first_scan_after_label=hours(a["label"], acc) if "label" in c else np.array([]),
        first_scan_after_handoff=hours(a["handoff"], acc),
        first_scan_to_delivery=hours(acc, a["delivery"].where(a["complete"])),
        scan_gaps=gaps.to_numpy(float),
    )  # fmt: skip
    neg = (est.first_scan_after_handoff < 0).sum()
    if neg:
        est.notes.append(f"{neg} shipments have their acceptance scan before the recorded "
                         "handoff; excluded from the acceptance-lag fit")
    return est
