"""Customers: when they contact customer service, and what they report after delivery.

A customer knows the promise.  If the parcel has not arrived some patience after the
promise, they ask "where is my order?" (WISMO).  Customers who watch tracking also ask when
the tracking page shows no news for longer than their own patience.  Unresolved, they ask
again every ``followup_hours``.  If the parcel still has not come ``refund_patience`` after
the promise, they demand their money back (a ``refund_request`` contact); what happens if
the shop does not make good in time (a dispute) is scored in :mod:`sim.outcomes`, because
it depends on the policy's actions.  After delivery they report a mis-pick or damage with a
kind-dependent probability.  This is the status-quo world: no one acts proactively.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import MISPICK_KINDS, CustomerConfig
from sim.rng import Streams

CONTACT_REASONS = ("wismo", *MISPICK_KINDS, "damaged", "refund_request")
ITEM_REASONS = (*MISPICK_KINDS, "damaged")  # reported after delivery
REASON = {r: i for i, r in enumerate(CONTACT_REASONS)}


@dataclass
class Contacts:
    order: np.ndarray
    time: np.ndarray
    reason: np.ndarray  # code into CONTACT_REASONS


@dataclass
class CustomerDraws:
    promise_patience: np.ndarray
    stall_patience: np.ndarray  # inf for customers who do not watch tracking
    report_u: np.ndarray
    report_delay: np.ndarray
    refund_patience: np.ndarray  # hours after the promise before demanding a refund

    @classmethod
    def draw(cls, cfg: CustomerConfig, n: int, streams: Streams) -> CustomerDraws:
        u = streams.uniforms("customer", n, 5)
        z = streams.generator("customer.normal").standard_normal((n, 3))
        tracks = u[:, 0] < cfg.tracks_share
        return cls(
            promise_patience=cfg.promise_patience_median_hours * np.exp(cfg.promise_patience_sigma * z[:, 0]),
            stall_patience=np.where(
                tracks, cfg.stall_patience_median_hours * np.exp(cfg.stall_patience_sigma * z[:, 1]), np.inf
            ),
            report_u=u[:, 1],
            report_delay=cfg.report_delay_median_hours * np.exp(cfg.report_delay_sigma * z[:, 2]),
            # own stream: adding this draw left every earlier customer draw unchanged
            refund_patience=cfg.refund_patience_median_hours * np.exp(
                cfg.refund_patience_sigma * streams.generator("customer.refund").standard_normal(n)),
        )


def _with_anchors(order: np.ndarray, time: np.ndarray, since: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Each order's ``since`` followed by its events, sorted by (order, time) as
    ``np.lexsort`` of the concatenation would (anchors first on ties).  The world hands
    the events over sorted (the sort the tracking table is built from), so this is a
    merge, not another sort of every event, unless an event precedes its anchor."""
    n = since.size
    ok = order.size == 0 or (
        ((order[1:] > order[:-1]) | ((order[1:] == order[:-1]) & (time[1:] >= time[:-1]))).all()
        and (time >= since[order]).all())
    if not ok:
        o = np.concatenate([np.arange(n), order])
        t = np.concatenate([since, time])
        idx = np.lexsort((t, o))
        return o[idx], t[idx]
    counts = np.bincount(order, minlength=n)
    anchor_pos = np.arange(n) + np.concatenate([[0], np.cumsum(counts)[:-1]])
    event_pos = np.arange(order.size) + order + 1  # after the anchors of orders <= its own
    o = np.empty(n + order.size, dtype=np.int64)
    t = np.empty(n + order.size)
    o[anchor_pos], t[anchor_pos] = np.arange(n), since
    o[event_pos], t[event_pos] = order, time
    return o, t


def first_stall(order: np.ndarray, time: np.ndarray, since: np.ndarray, until: np.ndarray,
                patience: np.ndarray) -> np.ndarray:
    """Earliest instant at which an order's tracking had shown no news for ``patience`` hours.

    ``order``/``time`` are visible tracking events; the clock starts at ``since`` (the
    shipping confirmation) and only gaps before ``until`` (arrival) count.  inf if none.
    """
    n = since.size
    o, t = _with_anchors(order, time, since)
    keep = t < until[o]
    o, t = o[keep], t[keep]
    nxt = np.empty_like(t)
    nxt[:-1] = t[1:]
    last = np.ones(o.size, bool)
    last[:-1] = o[1:] != o[:-1]
    nxt[last] = until[o[last]]
    stalled = np.flatnonzero((nxt - t) > patience[o])
    # events are sorted by (order, time): an order's first stall is its earliest
    so = o[stalled]
    first = stalled[np.r_[True, so[1:] != so[:-1]]] if stalled.size else stalled
    out = np.full(n, np.inf)
    out[o[first]] = t[first] + patience[o[first]]
    return out


def contacts(cfg: CustomerConfig, draws: CustomerDraws, promised_at: np.ndarray,
             informed_at: np.ndarray, arrived_at: np.ndarray, problem: np.ndarray,
             event_order: np.ndarray, event_time: np.ndarray) -> Contacts:
    """Contacts of the status-quo world.

    ``arrived_at`` is when the customer got the parcel (inf if never); ``problem`` the
    reason code they would report after arrival (-1 if none); ``informed_at`` when they got
    the tracking number.
    """
    by_promise = promised_at + draws.promise_patience
    by_stall = first_stall(event_order, event_time, informed_at, arrived_at, draws.stall_patience)
    first = np.minimum(by_promise, by_stall)
    orders, times = [], []
    for k in range(cfg.max_contacts):
        t = first + k * cfg.followup_hours
        m = t < arrived_at
        orders.append(np.flatnonzero(m))
        times.append(t[m])
    wismo_o = np.concatenate(orders)
    wismo_t = np.concatenate(times)
    by_refund = promised_at + draws.refund_patience
    ref_o = np.flatnonzero(by_refund < arrived_at)  # still nothing: "refund me"
    report_p = np.array([cfg.report_prob[r] for r in ITEM_REASONS])
    has_problem = (problem >= 0) & np.isfinite(arrived_at)
    reports = has_problem & (draws.report_u < report_p[np.maximum(problem, 1) - 1])
    rep_o = np.flatnonzero(reports)
    order = np.concatenate([wismo_o, rep_o, ref_o])
    time = np.concatenate([wismo_t, arrived_at[rep_o] + draws.report_delay[rep_o],
                           by_refund[ref_o]])
    reason = np.concatenate([np.zeros(wismo_o.size, np.int8), problem[rep_o].astype(np.int8),
                             np.full(ref_o.size, REASON["refund_request"], np.int8)])
    idx = np.lexsort((time, order))
    return Contacts(order[idx], time[idx], reason[idx])
