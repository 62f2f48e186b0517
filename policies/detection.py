"""Detection rules: read the observable feed, emit alerts that name the rule that fired.

Every rule works on what a tracking system knows at the time: an event is known from
its ``seen_at`` (the tracker's next poll after the carrier posted it), never from the
hidden truth.  A "no movement for H hours" rule therefore fires at ``last_event + H``
unless the *next* event had been seen by then — polling lag makes false alerts, as in
real life.  Each rule is vectorised over all orders; rules are evaluated every
``check_every_hours`` (fire times are rounded up to that grid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """The polled feed arranged per order, built once and shared by all rules (and, per
    world and poll interval, by every policy evaluated in a process: sim.pipeline)."""

    n: int
    order: np.ndarray  # order row of each event (events sorted by order, time)
    time: np.ndarray
    seen: np.ndarray
    status: np.ndarray  # int8 codes into status_names (integer compares, no object arrays)
    sub: np.ndarray  # int8 codes into sub_names
    status_names: tuple[str, ...]
    sub_names: tuple[str, ...]
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
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def movement_anchors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Anchors of "no movement" (order, time, seen, next seen): the handover and every
        non-terminal event.  Policy-independent, so computed once per feed."""
        if "anchors" not in self._memo:
            nxt = np.full(self.order.size, np.inf)
            same = self.order[1:] == self.order[:-1]
            nxt[:-1] = np.where(same, self.seen[1:], np.inf)
            ev = ~(self.is_status("Delivered") | self.is_sub("returned_to_sender"))
            self._memo["anchors"] = (
                np.concatenate([np.arange(self.n), self.order[ev]]),
                np.concatenate([self.handed_over_at, self.time[ev]]),
                np.concatenate([self.handed_over_at, self.seen[ev]]),
                np.concatenate([self.first_seen, nxt[ev]]))
        return self._memo["anchors"]

    def status_code(self, name: str) -> int:
        """Code of a status in this feed (-2, matching nothing, if it never occurs)."""
        return self.status_names.index(name) if name in self.status_names else -2

    def sub_code(self, name: str) -> int:
        return self.sub_names.index(name) if name in self.sub_names else -2

    def is_status(self, name: str) -> np.ndarray:
        return self.status == self.status_code(name)

    def is_sub(self, *names: str) -> np.ndarray:
        return np.isin(self.sub, [self.sub_code(x) for x in names])

    @classmethod
    def build(cls, obs: Observation) -> FeedIndex:
        orders = obs.orders
        n = len(orders)
        tr = obs.tracking
        if "seen_at" not in tr.columns:
            raise ValueError("detection needs the polled feed (observe.with_polling_lag)")
        o = _order_rows(orders["tracking_no"].to_numpy(), tr["tracking_no"].to_numpy())
        t = tr["time"].to_numpy()
        seen = tr["seen_at"].to_numpy()
        status, status_names = _codes(tr["status"])
        sub, sub_names = _codes(tr["sub_status"])
        # the world writes the feed sorted by (order, time): sort only if it is not
        # (comparisons, not differences: an event time may be inf, and inf - inf is nan)
        same = o[1:] == o[:-1]
        if not ((o[1:] > o[:-1]) | (same & (t[1:] >= t[:-1]))).all():
            idx = np.lexsort((t, o))
            o, t, seen, status, sub = o[idx], t[idx], seen[idx], status[idx], sub[idx]
        first = np.ones(o.size, dtype=bool)
        first[1:] = o[1:] != o[:-1]
        first_seen = np.full(n, np.inf)
        first_time = np.full(n, np.inf)
        first_seen[o[first]] = seen[first]  # sorted by time and seen is monotone in time
        first_time[o[first]] = t[first]
        delivered = np.full(n, np.inf)
        m = status == (status_names.index("Delivered") if "Delivered" in status_names else -2)
        np.minimum.at(delivered, o[m], seen[m])
        stopped = delivered.copy()
        m = sub == (sub_names.index("returned_to_sender") if "returned_to_sender" in sub_names
                    else -2)
        np.minimum.at(stopped, o[m], seen[m])
        region = orders["region"]
        return cls(
            n=n, order=o, time=t, seen=seen, status=status, sub=sub,
            status_names=status_names, sub_names=sub_names, first_seen=first_seen,
            first_time=first_time, delivered_seen=delivered, stopped_seen=stopped,
            handed_over_at=orders["handed_over_at"].to_numpy(),
            promised_at=orders["promised_at"].to_numpy(),
            placed_at=orders["placed_at"].to_numpy(), label_at=orders["label_at"].to_numpy(),
            region=region.cat.codes.to_numpy(), region_names=tuple(region.cat.categories),
        )  # fmt: skip

    def next_seen_after(self, order_rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Per query, the seen time of the order's first event seen after ``t`` (inf if
        none): a case opened at ``t`` "moved again" at any time from then on."""
        from policies._queue import next_seen

        if "ptr" not in self._memo:  # order o's events: [ptr[o], ptr[o + 1])
            self._memo["ptr"] = np.searchsorted(self.order, np.arange(self.n + 1))
        return next_seen(self._memo["ptr"], self.seen, np.asarray(order_rows, dtype=np.int64),
                         np.asarray(t, dtype=float))

    def events_seen_between(self, order_row: int, t0: float, t1: float) -> int:
        """How many of the order's events became known in ``(t0, t1]``."""
        lo, hi = np.searchsorted(self.order, [order_row, order_row + 1])
        seen = self.seen[lo:hi]  # sorted: events are in time order and polls keep that order
        return int(np.searchsorted(seen, t1, side="right") - np.searchsorted(seen, t0, side="right"))


def _codes(col: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes and their names of a categorical column (the world writes them so),
    or of plain strings (factorised)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(), tuple(str(c) for c in col.cat.categories)
    codes, names = pd.factorize(col.to_numpy())
    return codes, tuple(str(c) for c in names)


def _order_rows(order_tracking: np.ndarray, event_tracking: np.ndarray) -> np.ndarray:
    """Order row of each event, by tracking number (a binary search when the order
    system's numbers are sorted, as the world writes them; a hash lookup otherwise)."""
    if order_tracking.size and (np.diff(order_tracking) > 0).all():
        o = np.searchsorted(order_tracking, event_tracking)
        ok = o < order_tracking.size
        ok[ok] = order_tracking[o[ok]] == event_tracking[ok]
        if not ok.all():
            raise ValueError("tracking events for unknown tracking numbers")
        return o.astype(np.int64)
    row = pd.Series(np.arange(order_tracking.size), index=order_tracking)
    o = row.reindex(event_tracking).to_numpy()
    if np.isnan(o).any():
        raise ValueError("tracking events for unknown tracking numbers")
    return o.astype(np.int64)


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
    ao, at, aseen, anext = f.movement_anchors()
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
    m = f.is_sub("weather")
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
        o, t = _nth_seen(f, f.is_status("AttemptFail"), cfg.failed_attempts.attempts)
        parts.append((o, t, "failed_attempts", np.full(o.size, "failed_delivery", dtype=object)))
    if cfg.carrier_exception.enabled:
        subs = list(cfg.carrier_exception.sub_statuses)
        m = f.is_status("Exception") & f.is_sub(*subs)
        o, t = _nth_seen(f, m, 1)
        # which sub-status was the first: recover it for the kind
        first = np.searchsorted(f.order[m], o, side="left")
        sub = f.sub[m][first]
        kind = np.select([sub == f.sub_code("damaged"), sub == f.sub_code("weather")],
                         ["damaged", "weather"], "missing_parcel").astype(object)
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
    oid = np.concatenate([order_id[p[0]] for p in parts])
    time = np.concatenate([p[1] for p in parts]).astype(float)
    rule = np.concatenate([np.full(p[0].size, RULES.index(p[2]), dtype=np.int8) for p in parts])
    kind = np.concatenate([p[3] for p in parts])
    grid = rule != RULES.index("customer_contact")  # contacts arrive when they arrive
    time[grid] = np.ceil(time[grid] / step - 1e-9) * step
    keep = np.flatnonzero(np.isfinite(time))
    keep = keep[np.lexsort((rule[keep], oid[keep], time[keep]))]  # stable, as sort_values
    return pd.DataFrame({
        "order_id": oid[keep], "time": time[keep],
        "rule": pd.Categorical.from_codes(rule[keep], categories=list(RULES)),
        "kind": kind[keep].astype(str).astype(object),
    }, copy=False)  # fmt: skip (fresh arrays)
