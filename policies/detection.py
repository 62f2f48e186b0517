"""Detection rules: read the observable feed, emit alerts that name the rule that fired.

Every rule works on what a tracking system knows at the time: an event is known from
its ``seen_at`` (the tracker's next poll after the carrier posted it), never from the
hidden truth.  A "no movement for H hours" rule therefore fires at ``last_event + H``
unless the *next* event had been seen by then — polling lag makes false alerts, as in
real life.  Each rule is vectorised over all orders; rules are evaluated every
``check_every_hours`` (fire times are rounded up to that grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from policies.config import RULES, DetectionConfig, HoursRule
from sim.observe import Observation

ALERT_COLUMNS = ("order_id", "time", "rule", "kind")
MAX_REALERTS = 5


class BusinessClock(Protocol):
    """What detection needs of the calendar (passed in by the pipeline)."""

    def add_business_hours(self, t0: np.ndarray, hours: float) -> np.ndarray: ...


@dataclass
class FeedIndex:
    """The polled feed arranged per order, built once and shared by all rules."""

    n: int
    order: np.ndarray  # order row of each event (events sorted by order, time)
    time: np.ndarray
    seen: np.ndarray
    status: np.ndarray  # str categories as numpy object-free codes via pandas
    sub: np.ndarray
    first_seen: np.ndarray  # per order: seen time of the first event (inf if none)
    first_time: np.ndarray  # per order: event time of the first event
    delivered_seen: np.ndarray  # per order: seen time of Delivered (inf if none)
    stopped_seen: np.ndarray  # per order: seen time of Delivered or return to sender
    handed_over_at: np.ndarray
    promised_at: np.ndarray
    placed_at: np.ndarray
    label_at: np.ndarray
    region: np.ndarray  # region code per order
    region_names: tuple[str, ...]

    @classmethod
    def build(cls, obs: Observation) -> FeedIndex:
        orders = obs.orders
        n = len(orders)
        tr = obs.tracking
        if "seen_at" not in tr.columns:
            raise ValueError("detection needs the polled feed (observe.with_polling_lag)")
        row = pd.Series(np.arange(n), index=orders["tracking_no"].to_numpy())
        o = row.reindex(tr["tracking_no"].to_numpy()).to_numpy()
        if np.isnan(o).any():
            raise ValueError("tracking events for unknown tracking numbers")
        o = o.astype(np.int64)
        t = tr["time"].to_numpy()
        idx = np.lexsort((t, o))
        o, t = o[idx], t[idx]
        seen = tr["seen_at"].to_numpy()[idx]
        # categories follow the shared vocabulary; decode the codes once, cheaply
        status = np.asarray(tr["status"].cat.categories, dtype=object)[tr["status"].cat.codes.to_numpy()[idx]]
        sub = np.asarray(tr["sub_status"].cat.categories, dtype=object)[tr["sub_status"].cat.codes.to_numpy()[idx]]
        first_seen = np.full(n, np.inf)
        first_time = np.full(n, np.inf)
        np.minimum.at(first_seen, o, seen)
        np.minimum.at(first_time, o, t)
        delivered = np.full(n, np.inf)
        m = status == "Delivered"
        np.minimum.at(delivered, o[m], seen[m])
        stopped = delivered.copy()
        m = sub == "returned_to_sender"
        np.minimum.at(stopped, o[m], seen[m])
        region = orders["region"]
        return cls(
            n=n, order=o, time=t, seen=seen, status=status, sub=sub, first_seen=first_seen,
            first_time=first_time, delivered_seen=delivered, stopped_seen=stopped,
            handed_over_at=orders["handed_over_at"].to_numpy(),
            promised_at=orders["promised_at"].to_numpy(),
            placed_at=orders["placed_at"].to_numpy(), label_at=orders["label_at"].to_numpy(),
            region=region.cat.codes.to_numpy(), region_names=tuple(region.cat.categories),
        )  # fmt: skip

    def events_seen_between(self, order_row: int, t0: float, t1: float) -> int:
        """How many of the order's events became known in ``(t0, t1]``."""
        lo, hi = np.searchsorted(self.order, [order_row, order_row + 1])
        seen = self.seen[lo:hi]  # sorted: events are in time order and polls keep that order
        return int(np.searchsorted(seen, t1, side="right") - np.searchsorted(seen, t0, side="right"))


def _window_end(anchor: np.ndarray, rule: HoursRule, clock: BusinessClock) -> np.ndarray:
    if rule.business_hours:
        return clock.add_business_hours(anchor, rule.hours)
    return anchor + rule.hours


def _weather_hold(fire: np.ndarray, anchor: np.ndarray, region: np.ndarray, rule: HoursRule,
                  alerts: pd.DataFrame, region_names: tuple[str, ...],
                  clock: BusinessClock) -> np.ndarray:
    """Postpone fire times that fall inside a carrier weather alert for the region: the
    clock restarts when the region reopens (the parcel was known to be held)."""
    if alerts.empty:
        return fire
    fire = fire.copy()
    code = {name: i for i, name in enumerate(region_names)}
    for reg, start, end in alerts[["region", "start", "end"]].itertuples(index=False):
        r = code.get(str(reg))
        if r is None:
            continue
        hit = (region == r) & (fire >= start) & (fire < end)
        if hit.any():
            fire[hit] = _window_end(np.maximum(anchor[hit], end), rule, clock)
    return fire


def _gap_rule(f: FeedIndex, anchor_order: np.ndarray, anchor_time: np.ndarray,
              anchor_seen: np.ndarray, next_seen: np.ndarray, stop: np.ndarray,
              rule: HoursRule, obs: Observation, clock: BusinessClock) -> tuple[np.ndarray, np.ndarray]:
    """Fire when ``hours`` pass after an anchor before the next event is seen."""
    fire = np.maximum(_window_end(anchor_time, rule, clock), anchor_seen)
    if rule.suppress_weather:
        fire = _weather_hold(fire, anchor_time, f.region[anchor_order], rule, obs.alerts,
                             f.region_names, clock)
    ok = (fire < next_seen) & (fire < stop[anchor_order])
    orders, times = [anchor_order[ok]], [fire[ok]]
    if rule.realert_hours > 0:
        for k in range(1, MAX_REALERTS + 1):
            again = fire + k * rule.realert_hours
            ok2 = ok & (again < next_seen) & (again < stop[anchor_order])
            orders.append(anchor_order[ok2])
            times.append(again[ok2])
    return np.concatenate(orders), np.concatenate(times)


def _no_movement(f: FeedIndex, rule: HoursRule, obs: Observation, clock: BusinessClock):
    """Anchors: the handover (no event yet) and every event; stop at delivery/return."""
    nxt = np.full(f.order.size, np.inf)
    same = f.order[1:] == f.order[:-1]
    nxt[:-1] = np.where(same, f.seen[1:], np.inf)
    terminal = (f.status == "Delivered") | (f.sub == "returned_to_sender")
    ev = ~terminal
    ao = np.concatenate([np.arange(f.n), f.order[ev]])
    at = np.concatenate([f.handed_over_at, f.time[ev]])
    aseen = np.concatenate([f.handed_over_at, f.seen[ev]])
    anext = np.concatenate([f.first_seen, nxt[ev]])
    return _gap_rule(f, ao, at, aseen, anext, f.stopped_seen, rule, obs, clock)


def _once_per_order(f: FeedIndex, anchor: np.ndarray, until_seen: np.ndarray, rule: HoursRule,
                    obs: Observation, clock: BusinessClock):
    """One anchor per order, known at once (order data): fire unless ``until_seen`` came first."""
    return _gap_rule(f, np.arange(f.n), anchor, anchor, until_seen, np.full(f.n, np.inf), rule,
                     obs, clock)


def _no_first_scan(f: FeedIndex, rule: HoursRule, obs: Observation, clock: BusinessClock):
    return _once_per_order(f, f.handed_over_at, f.first_seen, rule, obs, clock)


def _long_in_transit(f: FeedIndex, rule: HoursRule, obs: Observation, clock: BusinessClock):
    has = np.isfinite(f.first_time)
    ao = np.flatnonzero(has)
    return _gap_rule(f, ao, f.first_time[has], f.first_seen[has], np.full(ao.size, np.inf),
                     f.stopped_seen, rule, obs, clock)


def _past_promise(f: FeedIndex, rule: HoursRule, obs: Observation, clock: BusinessClock):
    return _once_per_order(f, f.promised_at, f.delivered_seen, rule, obs, clock)


def _warehouse_delay(f: FeedIndex, rule: HoursRule, obs: Observation, clock: BusinessClock):
    return _once_per_order(f, f.placed_at, f.label_at, rule, obs, clock)


def _nth_seen(f: FeedIndex, mask: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Orders with at least ``k`` events matching ``mask`` and the seen time of the k-th."""
    o, s = f.order[mask], f.seen[mask]
    if o.size == 0:
        return o, s
    rank = np.arange(o.size) - np.searchsorted(o, o, side="left")
    pick = rank == k - 1
    return o[pick], s[pick]


def _classify(f: FeedIndex, orders: np.ndarray, times: np.ndarray, default: str,
              alerts: pd.DataFrame) -> np.ndarray:
    """Observed kind of a stall alert: 'weather' if the carrier reported weather for the
    parcel or its region at that time, else the rule's default kind."""
    kind = np.full(orders.size, default, dtype=object)
    m = (f.sub == "weather")
    wx_seen = np.full(f.n, np.inf)
    np.minimum.at(wx_seen, f.order[m], f.seen[m])
    kind[wx_seen[orders] <= times] = "weather"
    code = {name: i for i, name in enumerate(f.region_names)}
    for reg, start, end in alerts[["region", "start", "end"]].itertuples(index=False):
        r = code.get(str(reg))
        if r is not None:
            kind[(f.region[orders] == r) & (times >= start) & (times < end)] = "weather"
    return kind


def detect(obs: Observation, cfg: DetectionConfig, clock: BusinessClock,
           feed: FeedIndex | None = None) -> pd.DataFrame:
    """All alerts of the enabled rules, sorted by time: order_id, time, rule, kind.

    ``feed``: the :class:`FeedIndex` of ``obs`` if the caller already built it."""
    f = feed if feed is not None else FeedIndex.build(obs)
    order_id = obs.orders["order_id"].to_numpy()
    parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = []
    stall_rules = {"no_first_scan": _no_first_scan, "no_movement": _no_movement,
                   "long_in_transit": _long_in_transit, "past_promise": _past_promise}  # fmt: skip
    for name, fn in stall_rules.items():
        rule = getattr(cfg, name)
        if rule.enabled:
            o, t = fn(f, rule, obs, clock)
            parts.append((o, t, name, _classify(f, o, t, "missing_parcel", obs.alerts)))
    if cfg.warehouse_delay.enabled:
        o, t = _warehouse_delay(f, cfg.warehouse_delay, obs, clock)
        parts.append((o, t, "warehouse_delay", np.full(o.size, "missing_parcel", dtype=object)))
    if cfg.failed_attempts.enabled:
        o, t = _nth_seen(f, f.status == "AttemptFail", cfg.failed_attempts.attempts)
        parts.append((o, t, "failed_attempts", np.full(o.size, "failed_delivery", dtype=object)))
    if cfg.carrier_exception.enabled:
        subs = list(cfg.carrier_exception.sub_statuses)
        o, t = _nth_seen(f, (f.status == "Exception") & np.isin(f.sub, subs), 1)
        # which sub-status was the first: recover it for the kind
        m = (f.status == "Exception") & np.isin(f.sub, subs)
        first = np.searchsorted(f.order[m], o, side="left")
        sub = f.sub[m][first] if o.size else np.empty(0, dtype=object)
        kind = np.select([sub == "damaged", sub == "weather"], ["damaged", "weather"],
                         "missing_parcel").astype(object)
        parts.append((o, t, "carrier_exception", kind))
    if cfg.customer_contact.enabled:
        c = obs.contacts
        reason = c["reason"].astype(str).to_numpy()
        family = np.where(np.isin(reason, ("wismo", "refund_request")), "missing_parcel",
                          np.where(reason == "damaged", "damaged", "mispick"))
        first = ~pd.DataFrame({"o": c["order_id"].to_numpy(), "k": family}).duplicated()
        row = pd.Series(np.arange(len(obs.orders)), index=order_id)
        o = row.reindex(c["order_id"].to_numpy()[first.to_numpy()]).to_numpy().astype(np.int64)
        parts.append((o, c["time"].to_numpy()[first.to_numpy()], "customer_contact",
                      family[first.to_numpy()].astype(object)))
    if not parts:
        return pd.DataFrame({c: [] for c in ALERT_COLUMNS})
    step = cfg.check_every_hours
    df = pd.DataFrame({
        "order_id": np.concatenate([order_id[p[0]] for p in parts]),
        "time": np.concatenate([p[1] for p in parts]),
        "rule": pd.Categorical(np.concatenate([np.full(p[0].size, p[2]) for p in parts]),
                               categories=list(RULES)),
        "kind": np.concatenate([p[3] for p in parts]).astype(str),
    })  # fmt: skip
    grid = df["rule"] != "customer_contact"  # contacts arrive when they arrive
    df.loc[grid, "time"] = np.ceil(df.loc[grid, "time"] / step - 1e-9) * step
    df = df[np.isfinite(df["time"])]
    return df.sort_values(["time", "order_id", "rule"], kind="stable").reset_index(drop=True)
