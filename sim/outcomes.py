"""Outcomes: score what happened under a policy — cost ledger, customer, operations.

Scoring only: nothing here decides anything.  This is the one place (with the desk) that
reads the ground truth next to the policy's actions, to grade them.

Customer model (DESIGN §5, §7).  Stars start at the on-time level and lose a *penalty*:
  * lateness, in calendar days between arrival and the promised day ``d``:
    ``d < 0``: 0; ``d = 0``: the promise-day penalty (below); ``d > 0``:
    ``late_step + late_extra_max * (1 - exp(-d / late_scale_days))`` (a step at the
    promise, then concave);  never delivered and not made good: ``never_penalty``.
    Fitted to the Olist classified reviews (differences from their on-time level:
    promised day 0.70, 1-3 d 0.95, 4-7 d 1.69, 8-14 d 2.15, >14 d 2.25, never 2.31);
    ``tests/test_satisfaction.py`` checks the fit within 0.3 stars per bucket.
  * item problems: ``kind_weight x late_reference_penalty`` (missing 0.96, wrong 0.85,
    damaged 0.83 of a late delivery's penalty); the larger of lateness and item penalty.
  * recovery restores a share of the penalty: more when the company acted before the
    customer noticed (proactive), a little more with compensation.  Repurchase falls
    concavely with the remaining penalty, so no recovery lifts it above the no-failure
    baseline (the service-recovery paradox raises satisfaction, not repurchase).
Detractor probability (1-2 stars) is logistic in expected stars, fitted on the same data.

Promise-day penalty.  Olist's reviewers marked orders delivered *on* the promised day 0.70
stars down: marketplace promises are padded (median ~11 days early), so "on the day" there
means "much later than usual".  A business-day promise (the US scenarios) is not padded and
the promised day is simply on time, so ``promise_day_penalty: null`` (the default) applies
0.70 only to scenarios with a marketplace promise model (``scenario.orders.promise_lead``,
as ``exsim-calibrate`` writes) and 0 otherwise; a number forces it.

Customer recourse (DESIGN §9).  A customer whose parcel is neither delivered, replaced nor
refunded ``refund_patience`` after the promise demands a refund (a world contact,
``refund_request``); if nothing is made good within ``dispute_window_hours`` of that, they
dispute the charge (with probability ``dispute_share``): the shop pays the order value and
the ``dispute_fee``, and the customer is lost (worst stars, no repurchase).  An item problem
the customer reports (damaged, missing or wrong) likewise ends in a resend, a reship or a
refund within the window, or in a dispute of the item's price (the order's for damage).
So a plan that ignores a problem pays for it anyway, later, with a fee and a lost customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.alert_quality import alert_kpis
from sim.config import OutcomeConfig
from sim.rng import Streams
from sim.world import World
from sim.world.customer import ITEM_REASONS

COST_COMPONENTS = ("lost_goods", "reship_goods", "duplicate_goods", "item_goods",
                   "reship_shipping", "labour", "contacts", "notices_credits", "refunds",
                   "disputes", "claims", "lost_revenue")  # fmt: skip
FACING = ("notify", "reship", "refund")  # actions the customer notices
PADDED_PROMISE_DAY_PENALTY = 0.70  # Olist: on the promised day vs before it (padded promises)
LOST_TERMINALS = ("lost", "never_received")


def promise_day_penalty(c: OutcomeConfig, padded_promises: bool = True) -> float:
    """The penalty of arriving on the promised day: the configured one, else (null) Olist's
    0.70 for padded (marketplace) promises and 0 for business-day promises."""
    if c.promise_day_penalty is not None:
        return float(c.promise_day_penalty)
    return PADDED_PROMISE_DAY_PENALTY if padded_promises else 0.0


def lateness_penalty(days_late: np.ndarray, c: OutcomeConfig,
                     padded_promises: bool = True) -> np.ndarray:
    """Star penalty of arriving ``days_late`` calendar days after the promised day."""
    d = np.asarray(days_late, dtype=float)
    late = c.late_step + c.late_extra_max * (1.0 - np.exp(-np.maximum(d, 0.0) / c.late_scale_days))
    on_day = promise_day_penalty(c, padded_promises)
    out = np.where(d < 0, 0.0, np.where(d == 0, on_day, late))
    return np.where(np.isnan(d), c.never_penalty, out)


def detractor_probability(stars: np.ndarray, c: OutcomeConfig) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(c.detractor_slope * (np.asarray(stars) - c.detractor_midpoint)))


def _day(t: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(t, dtype=float) / 24.0)


@dataclass
class Scored:
    orders: pd.DataFrame  # one row per order: costs, arrival, stars, ...
    kpis: dict[str, float]
    rules: pd.DataFrame  # precision / recall / latency by rule


def _first_contact(ct: pd.DataFrame, mask: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, ct["order_id"].to_numpy()[mask], ct["time"].to_numpy()[mask])
    return out


def score(world: World, alerts: pd.DataFrame, cases: pd.DataFrame, actions: pd.DataFrame,
          busy_hours: float, staffed_hours: float, c: OutcomeConfig, streams: Streams,
          kpi_window: tuple[float, float] | None = None) -> Scored:
    """Score a policy's actions on a world.  ``kpi_window`` (hours; default: the whole
    order horizon) is the measured window: orders placed in it enter the KPIs, rates are per
    measured day, and the team is measured over it (busy and staffed hours come from the
    case engine over the same window)."""
    tr = world.truth.orders
    n = len(tr)
    w0, w1 = kpi_window if kpi_window is not None else (0.0, world.observation.horizon)
    value = world.observation.orders["value"].to_numpy()
    items = np.maximum(world.observation.orders["items"].to_numpy(), 1)
    promised = tr["promised_at"].to_numpy()
    placed = tr["placed_at"].to_numpy()
    keep = (placed >= w0) & (placed < w1)

    def per_order(mask: pd.Series, col: str, how: str, fill: float) -> np.ndarray:
        a = actions.loc[mask]
        out = np.full(n, fill)
        if len(a):
            g = getattr(a.groupby("order_id")[col], how)()
            out[g.index.to_numpy()] = g.to_numpy()
        return out

    act = actions["action"]
    parcel_reship = (act == "reship") & ~actions["item_only"].astype(bool)
    item_reship = (act == "reship") & actions["item_only"].astype(bool)
    n_reship = per_order(parcel_reship, "time", "count", 0)
    n_dup = per_order(parcel_reship & actions["duplicate"].astype(bool), "time", "count", 0)
    n_item = per_order(item_reship, "time", "count", 0)
    n_expedited = per_order((act == "reship") & actions["expedited"].astype(bool), "time", "count", 0)
    reship_booked = per_order(parcel_reship, "time", "min", np.inf)
    item_booked = per_order(item_reship, "time", "min", np.inf)
    reship_arrival = per_order(parcel_reship, "delivered_at", "min", np.inf)
    reship_arrival = np.where(np.isnan(reship_arrival), np.inf, reship_arrival)
    refund_at = per_order(act == "refund", "time", "min", np.inf)
    claims = per_order(act == "claim", "amount", "sum", 0.0)
    notices = per_order(act == "notify", "time", "count", 0)
    notice_at = per_order(act == "notify", "time", "min", np.inf)
    credits = per_order(act == "notify", "amount", "sum", 0.0)
    first_facing = per_order(act.isin(FACING), "time", "min", np.inf)
    handling = np.zeros(n)
    if len(cases):
        g = cases.groupby("order_id")["handling_hours"].sum()
        handling[g.index.to_numpy()] = g.to_numpy()

    # arrival of the goods (original or replacement) and when the shop made good
    orig = tr["delivered_at"].to_numpy()
    orig = np.where(np.isnan(orig) | tr["returned"].to_numpy(), np.inf, orig)
    arrival = np.minimum(orig, reship_arrival)
    made_good = np.minimum(np.minimum(orig, reship_booked), refund_at)  # parcel family
    item_made_good = np.minimum(np.minimum(item_booked, reship_booked), refund_at)

    # customer recourse: refund demand (world contact), then a dispute if not made good
    ct = world.observation.contacts
    co = ct["order_id"].to_numpy()
    ctime = ct["time"].to_numpy()
    reason = ct["reason"].astype(str).to_numpy()
    demand_at = _first_contact(ct, reason == "refund_request", n)
    reported_at = _first_contact(ct, np.isin(reason, ITEM_REASONS), n)
    disputes_u = streams.uniforms("outcomes.dispute", n)[:, 0] < c.dispute_share
    window = c.dispute_window_hours
    parcel_dispute = np.isfinite(demand_at) & (made_good > demand_at + window) & disputes_u
    item_dispute = (np.isfinite(reported_at) & (item_made_good > reported_at + window)
                    & disputes_u & ~parcel_dispute)  # fmt: skip
    disputed = parcel_dispute | item_dispute
    dispute_at = np.where(parcel_dispute, demand_at + window,
                          np.where(item_dispute, reported_at + window, np.inf))
    damaged = tr["damaged"].to_numpy()
    disputed_amount = np.where(parcel_dispute | (item_dispute & damaged), value,
                               np.where(item_dispute, value / items, 0.0))
    # a refund after the chargeback is not paid: the card network already returned the money
    ra = actions.loc[act == "refund"]
    ra_order = ra["order_id"].to_numpy().astype(np.int64)  # (float when there is no action)
    ra_paid = ra["time"].to_numpy() < dispute_at[ra_order]
    refunds = np.bincount(ra_order[ra_paid], weights=ra["amount"].to_numpy()[ra_paid],
                          minlength=n)
    resolved = np.minimum(np.minimum(arrival, refund_at), dispute_at)

    # contacts under the policy: a WISMO happens only while unresolved, and a proactive
    # notice before it prevents it with probability wismo_cut (one draw per world contact);
    # a refund demand only while nothing was made good; item reports always
    noticed = np.full(n, np.inf)
    np.minimum.at(noticed, co, ctime)
    wismo = reason == "wismo"
    refund_req = reason == "refund_request"
    cut_u = streams.uniforms("outcomes.wismo_cut", len(ct))[:, 0]
    kept = np.where(wismo, (ctime < resolved[co])
                    & ~((notice_at[co] < ctime) & (cut_u < c.wismo_cut_by_notice)),
                    np.where(refund_req, ctime < made_good[co], True))  # fmt: skip
    contacts = np.bincount(co[kept], minlength=n)

    # customer penalty
    padded = world.scenario.orders.promise_lead is not None
    days_late = np.where(np.isfinite(resolved), _day(resolved) - _day(promised), np.nan)
    late_pen = lateness_penalty(days_late, c, padded)
    late_pen = np.where(np.isfinite(arrival) | np.isfinite(refund_at), late_pen, c.never_penalty)
    # the item problem's weight: damaged (if it arrived), else the mis-pick kind unless the
    # pack check caught it; read per category of the categorical, not per order
    mispick = tr["mispick"].astype("category")  # a no-op for the world's own table
    kind_w = np.array([c.kind_weights.get(str(k), 0.0) for k in mispick.cat.categories])
    is_damaged = damaged & np.isfinite(orig)
    weights = np.where(is_damaged, c.kind_weights.get("damaged", 0.0),
                       np.where(tr["mispick_caught"].to_numpy(), c.kind_weights.get("none", 0.0),
                                kind_w[mispick.cat.codes.to_numpy()]))
    item_pen = np.where(np.isfinite(orig), weights * c.late_reference_penalty, 0.0)
    penalty = np.maximum(late_pen, item_pen)
    acted = np.isfinite(first_facing) | (n_item > 0)
    proactive = acted & (first_facing < noticed)
    restore = np.where(proactive, c.recovery_proactive, c.recovery_reactive)
    restore = np.where(acted, np.minimum(restore + (credits > 0) * c.recovery_credit_bonus, 1.0), 0.0)
    # a customer who had to dispute is lost: the worst stars, no repurchase
    penalty = np.where(disputed, c.never_penalty, penalty)
    penalty_after = np.where(disputed, c.never_penalty, penalty * (1.0 - restore))
    stars = c.stars_on_time - penalty_after
    detractor = detractor_probability(stars, c)
    repurchase = c.repurchase_base * (1.0 - c.repurchase_drop_max
                                      * np.sqrt(np.clip(penalty_after / c.never_penalty, 0, 1)))
    repurchase = np.where(disputed, 0.0, repurchase)

    goods = c.goods_cost_share * value
    lost = tr["terminal"].isin(LOST_TERMINALS).to_numpy()
    lost_goods = goods * (lost | damaged)  # the goods of a lost or damaged parcel, any policy
    # the team is paid for its shifts over the measured window; that cost is allocated to
    # the measured orders by handling time (warm-up orders carry none)
    h = np.where(keep, handling, 0.0)
    labour_share = h / h.sum() if h.sum() > 0 else keep / max(keep.sum(), 1)
    ground = c.ground_shipping
    ledger = {
        "lost_goods": lost_goods,
        "reship_goods": goods * (n_reship - n_dup),
        "duplicate_goods": goods * n_dup,
        "item_goods": goods / items * n_item,
        "reship_shipping": ground * (n_reship + n_item - n_expedited)
        + ground * c.overnight_multiplier * n_expedited,
        "labour": c.analyst_hourly * staffed_hours * labour_share,
        "contacts": c.contact_cost * contacts,
        "notices_credits": c.notice_cost * notices + credits,
        "refunds": refunds,
        "disputes": disputed * (disputed_amount + c.dispute_fee),
        # a parcel is paid for once: a plan that files two claims still recovers at most the
        # goods lost (each claim is capped by the desk; this caps their sum)
        "claims": -np.minimum(claims, lost_goods),
        "lost_revenue": c.customer_lifetime_value * (c.repurchase_base - repurchase),
    }
    costs = {f"cost_{k}": v for k, v in ledger.items()}
    total = pd.DataFrame(costs, copy=False)[[f"cost_{k}" for k in COST_COMPONENTS]].sum(
        axis=1).to_numpy()
    # one frame at once, over the fresh arrays above (adding columns one by one, or copying
    # them into blocks, costs more than the scoring); order ids are copied from the truth
    out = pd.DataFrame(dict(
        order_id=tr["order_id"].to_numpy().copy(), **costs, cost_total=total,
        exception=tr["exception"].to_numpy(), arrival_at=arrival, refund_at=refund_at,
        made_good_at=made_good, resolved_at=resolved, days_late=days_late,
        noticed_at=noticed, first_action_at=first_facing, proactive=proactive,
        contacts=contacts, refund_demanded=np.isfinite(demand_at) & (demand_at < made_good),
        disputed=disputed, dispute_at=dispute_at, penalty=penalty,
        penalty_after=penalty_after, stars=stars, detractor=detractor, repurchase=repurchase,
        reships=n_reship, duplicates=n_dup,
    ), copy=False)  # fmt: skip

    kpis, rules = _kpis(world, out, keep, (w0, w1), alerts, cases, busy_hours, staffed_hours, c)
    return Scored(out, kpis, rules)


class _Kept:
    """The kept rows of ``out``, one column at a time: ``o[col]`` is ``out[keep][col]``
    without filtering (copying) every column of the frame first."""

    def __init__(self, out: pd.DataFrame, keep: np.ndarray):
        self.out, self.keep, self.n = out, keep, int(keep.sum())

    def __getitem__(self, col: str) -> pd.Series:
        return self.out[col][self.keep]

    def __len__(self) -> int:
        return self.n


def _kpis(world: World, out: pd.DataFrame, keep: np.ndarray, window: tuple[float, float],
          alerts: pd.DataFrame, cases: pd.DataFrame, busy: float, staffed: float,
          c: OutcomeConfig) -> tuple[dict[str, float], pd.DataFrame]:
    """KPIs over the measured window: orders placed in it, rates per measured day, the
    team over the same hours (cases opened in it)."""
    tr = world.truth.orders
    o = _Kept(out, keep)
    n = max(len(o), 1)
    days = (window[1] - window[0]) / 24.0
    exc = (tr["exception"] != "none").to_numpy()
    lost = tr["terminal"].isin(list(LOST_TERMINALS)).to_numpy()
    a = alerts[keep[alerts["order_id"].to_numpy().astype(np.int64)]]
    noticed = out["noticed_at"].to_numpy()
    proactive_alert = a[a["rule"] != "customer_contact"].groupby("order_id")["time"].min()
    caught_early = np.zeros(len(tr), bool)
    pa = proactive_alert.index.to_numpy()
    caught_early[pa] = proactive_alert.to_numpy() < noticed[pa]
    opened = cases["opened_at"].to_numpy() if len(cases) else np.empty(0)
    cw = cases[(opened >= window[0]) & (opened < window[1])] if len(cases) else cases
    case_orders = cases["order_id"].to_numpy() if len(cases) else np.empty(0, np.int64)
    lost_kept = lost & keep
    made_good_lost = (out["made_good_at"].to_numpy() < out["dispute_at"].to_numpy()) \
        & np.isfinite(out["made_good_at"].to_numpy()) & lost_kept
    k = {
        "orders": float(len(o)),
        "measured_days": days,
        "cost_per_order": float(o["cost_total"].sum() / n),
        **{f"cost_{x}_per_order": float(o[f"cost_{x}"].sum() / n) for x in COST_COMPONENTS},
        "stars_mean": float(o["stars"].mean()),
        "detractor_share": float(o["detractor"].mean()),
        "repurchase_prob": float(o["repurchase"].mean()),
        "on_time_share": float((o["days_late"] <= 0).mean()),
        "contacts_per_order": float(o["contacts"].sum() / n),
        "refund_requests_per_1000": 1000 * float(o["refund_demanded"].sum() / n),
        "disputes_per_1000": 1000 * float(o["disputed"].sum() / n),
        "lost_made_good_share": float(made_good_lost.sum() / lost_kept.sum())
        if lost_kept.any() else 0.0,
        "alerts_per_day": len(a) / days,
        "cases_per_day": float(keep[case_orders.astype(np.int64)].sum() / days),
        "case_wait_hours": float((cw["first_handled_at"] - cw["opened_at"]).mean()) if len(cw) else 0.0,
        "cases_backlogged_share": float((cw["close_reason"] == "backlog_at_end").mean()) if len(cw) else 0.0,
        "team_utilisation": busy / staffed if staffed > 0 else 0.0,
        "team_paid_hours_per_day": staffed / days,
        "proactive_catch_share": float(o["proactive"][exc[keep]].mean()) if (exc & keep).any() else 0.0,
        "lost_caught_before_contact": float(caught_early[lost & keep].mean()) if (lost & keep).any() else 0.0,
        "reships_per_1000": 1000 * float(o["reships"].sum() / n),
        "duplicates_per_1000": 1000 * float(o["duplicates"].sum() / n),
    }
    quality, rules = alert_kpis(a, tr, keep, c.late_grace_hours, days)
    k.update(quality)
    return k, rules
