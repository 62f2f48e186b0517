"""Outcomes: score what happened under a policy — cost ledger, customer, operations.

Scoring only: nothing here decides anything.  This is the one place (with the desk) that
reads the ground truth next to the policy's actions, to grade them.

Customer model (DESIGN §5, §7).  Stars start at the on-time level and lose a *penalty*:
  * lateness, in calendar days between arrival and the promised day ``d``:
    ``d < 0``: 0; ``d = 0``: ``promise_day_penalty``; ``d > 0``:
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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config import OutcomeConfig
from sim.rng import Streams
from sim.world import World

COST_COMPONENTS = ("reship_goods", "duplicate_goods", "item_goods", "reship_shipping",
                   "labour", "contacts", "notices_credits", "refunds", "claims",
                   "lost_revenue")  # fmt: skip
FACING = ("notify", "reship", "refund")  # actions the customer notices


def lateness_penalty(days_late: np.ndarray, c: OutcomeConfig) -> np.ndarray:
    """Star penalty of arriving ``days_late`` calendar days after the promised day."""
    d = np.asarray(days_late, dtype=float)
    late = c.late_step + c.late_extra_max * (1.0 - np.exp(-np.maximum(d, 0.0) / c.late_scale_days))
    out = np.where(d < 0, 0.0, np.where(d == 0, c.promise_day_penalty, late))
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


def score(world: World, alerts: pd.DataFrame, cases: pd.DataFrame, actions: pd.DataFrame,
          busy_hours: float, staffed_hours: float, c: OutcomeConfig, streams: Streams,
          warmup_days: float = 0.0) -> Scored:
    tr = world.truth.orders
    n = len(tr)
    value = world.observation.orders["value"].to_numpy()
    items = world.observation.orders["items"].to_numpy()
    promised = tr["promised_at"].to_numpy()

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
    reship_arrival = per_order(parcel_reship, "delivered_at", "min", np.inf)
    reship_arrival = np.where(np.isnan(reship_arrival), np.inf, reship_arrival)
    refund_at = per_order(act == "refund", "time", "min", np.inf)
    refunds = per_order(act == "refund", "amount", "sum", 0.0)
    claims = per_order(act == "claim", "amount", "sum", 0.0)
    notices = per_order(act == "notify", "time", "count", 0)
    notice_at = per_order(act == "notify", "time", "min", np.inf)
    credits = per_order(act == "notify", "amount", "sum", 0.0)
    first_facing = per_order(act.isin(FACING), "time", "min", np.inf)
    handling = np.zeros(n)
    if len(cases):
        g = cases.groupby("order_id")["handling_hours"].sum()
        handling[g.index.to_numpy()] = g.to_numpy()

    # arrival of the goods (original or replacement) and resolution (arrival or refund)
    orig = tr["delivered_at"].to_numpy()
    orig = np.where(np.isnan(orig) | tr["returned"].to_numpy(), np.inf, orig)
    arrival = np.minimum(orig, reship_arrival)
    resolved = np.minimum(arrival, refund_at)

    # contacts under the policy: a WISMO happens only while unresolved, and a proactive
    # notice before it prevents it with probability wismo_cut (one draw per world contact)
    ct = world.observation.contacts
    co = ct["order_id"].to_numpy()
    ctime = ct["time"].to_numpy()
    noticed = np.full(n, np.inf)
    np.minimum.at(noticed, co, ctime)
    wismo = (ct["reason"] == "wismo").to_numpy()
    cut_u = streams.uniforms("outcomes.wismo_cut", len(ct))[:, 0]
    kept = ~wismo | ((ctime < resolved[co]) & ~((notice_at[co] < ctime) & (cut_u < c.wismo_cut_by_notice)))
    contacts = np.bincount(co[kept], minlength=n)

    # customer penalty
    days_late = np.where(np.isfinite(resolved), _day(resolved) - _day(promised), np.nan)
    late_pen = lateness_penalty(days_late, c)
    late_pen = np.where(np.isfinite(arrival) | np.isfinite(refund_at), late_pen, c.never_penalty)
    item_kind = np.where(tr["damaged"].to_numpy() & np.isfinite(orig), "damaged",
                         tr["mispick"].astype(str).to_numpy())
    item_kind = np.where(tr["mispick_caught"].to_numpy() & (item_kind != "damaged"), "none", item_kind)
    weights = np.array([c.kind_weights.get(k, 0.0) for k in item_kind])
    item_pen = np.where(np.isfinite(orig), weights * c.late_reference_penalty, 0.0)
    penalty = np.maximum(late_pen, item_pen)
    acted = np.isfinite(first_facing) | (n_item > 0)
    proactive = acted & (np.minimum(first_facing, np.inf) < noticed)
    restore = np.where(proactive, c.recovery_proactive, c.recovery_reactive)
    restore = np.where(acted, np.minimum(restore + (credits > 0) * c.recovery_credit_bonus, 1.0), 0.0)
    penalty_after = penalty * (1.0 - restore)
    stars = c.stars_on_time - penalty_after
    detractor = detractor_probability(stars, c)
    repurchase = c.repurchase_base * (1.0 - c.repurchase_drop_max
                                      * np.sqrt(np.clip(penalty_after / c.never_penalty, 0, 1)))

    ground = c.ground_shipping
    ledger = {
        "reship_goods": c.goods_cost_share * value * (n_reship - n_dup),
        "duplicate_goods": c.goods_cost_share * value * n_dup,
        "item_goods": c.goods_cost_share * value / np.maximum(items, 1) * n_item,
        "reship_shipping": ground * (n_reship + n_item - n_expedited)
        + ground * c.overnight_multiplier * n_expedited,
        # the team is paid for its shifts: that cost is allocated by handling time
        "labour": c.analyst_hourly * staffed_hours * (
            handling / handling.sum() if handling.sum() > 0 else np.full(n, 1.0 / n)),
        "contacts": c.contact_cost * contacts,
        "notices_credits": c.notice_cost * notices + credits,
        "refunds": refunds,
        "claims": -claims,
        "lost_revenue": c.customer_lifetime_value * (c.repurchase_base - repurchase),
    }
    out = pd.DataFrame({"order_id": tr["order_id"].to_numpy(), **{f"cost_{k}": v for k, v in ledger.items()}})
    out["cost_total"] = out[[f"cost_{k}" for k in COST_COMPONENTS]].sum(axis=1)
    out = out.assign(
        exception=tr["exception"].to_numpy(), arrival_at=arrival, refund_at=refund_at,
        resolved_at=resolved, days_late=days_late, noticed_at=noticed,
        first_action_at=first_facing, proactive=proactive, contacts=contacts,
        penalty=penalty, penalty_after=penalty_after, stars=stars, detractor=detractor,
        repurchase=repurchase, reships=n_reship, duplicates=n_dup,
    )  # fmt: skip

    keep = tr["placed_at"].to_numpy() >= warmup_days * 24.0
    kpis, rules = _kpis(world, out, keep, alerts, cases, busy_hours, staffed_hours)
    return Scored(out, kpis, rules)


def _kpis(world: World, out: pd.DataFrame, keep: np.ndarray, alerts: pd.DataFrame,
          cases: pd.DataFrame, busy: float, staffed: float) -> tuple[dict[str, float], pd.DataFrame]:
    tr = world.truth.orders
    o = out[keep]
    n = max(len(o), 1)
    days = world.scenario.days
    exc = (tr["exception"] != "none").to_numpy()
    exc_at = tr["exception_at"].to_numpy()
    lost = tr["terminal"].isin(["lost", "never_received"]).to_numpy()
    kept_ids = np.flatnonzero(keep)
    a = alerts[np.isin(alerts["order_id"].to_numpy(), kept_ids)]
    first_alert = a.groupby("order_id")["time"].min()
    alerted = np.zeros(len(tr), bool)
    alerted[first_alert.index.to_numpy()] = True
    noticed = out["noticed_at"].to_numpy()
    proactive_alert = a[a["rule"] != "customer_contact"].groupby("order_id")["time"].min()
    caught_early = np.zeros(len(tr), bool)
    pa = proactive_alert.index.to_numpy()
    caught_early[pa] = proactive_alert.to_numpy() < noticed[pa]
    lat = first_alert.to_numpy() - exc_at[first_alert.index.to_numpy()]
    tp_lat = lat[exc[first_alert.index.to_numpy()] & np.isfinite(lat)]
    k = {
        "orders": float(len(o)),
        "cost_per_order": float(o["cost_total"].sum() / n),
        **{f"cost_{c}_per_order": float(o[f"cost_{c}"].sum() / n) for c in COST_COMPONENTS},
        "stars_mean": float(o["stars"].mean()),
        "detractor_share": float(o["detractor"].mean()),
        "repurchase_prob": float(o["repurchase"].mean()),
        "on_time_share": float((o["days_late"] <= 0).mean()),
        "contacts_per_order": float(o["contacts"].sum() / n),
        "alerts_per_day": len(a) / days,
        "cases_per_day": float(len(cases) / days),
        "case_wait_hours": float((cases["first_handled_at"] - cases["opened_at"]).mean()) if len(cases) else 0.0,
        "cases_backlogged_share": float((cases["close_reason"] == "backlog_at_end").mean()) if len(cases) else 0.0,
        "team_utilisation": busy / staffed if staffed > 0 else 0.0,
        "precision": float(exc[alerted & keep].mean()) if (alerted & keep).any() else 0.0,
        "recall": float(alerted[exc & keep].mean()) if (exc & keep).any() else 0.0,
        "detection_latency_hours": float(tp_lat.mean()) if tp_lat.size else 0.0,
        "proactive_catch_share": float(o["proactive"][exc[keep]].mean()) if (exc & keep).any() else 0.0,
        "lost_caught_before_contact": float(caught_early[lost & keep].mean()) if (lost & keep).any() else 0.0,
        "reships_per_1000": 1000 * float(o["reships"].sum() / n),
        "duplicates_per_1000": 1000 * float(o["duplicates"].sum() / n),
    }
    rows = []
    for rule, g in a.groupby("rule", observed=True):
        fa = g.groupby("order_id")["time"].min()
        ids = fa.index.to_numpy()
        hit = np.zeros(len(tr), bool)
        hit[ids] = True
        lat_r = fa.to_numpy() - exc_at[ids]
        lat_r = lat_r[exc[ids] & np.isfinite(lat_r)]
        rows.append({
            "rule": str(rule), "alerts": len(g), "alerts_per_day": len(g) / days,
            "orders_alerted": len(ids), "precision": float(exc[ids].mean()),
            "recall": float(hit[exc & keep].mean()) if (exc & keep).any() else 0.0,
            "recall_lost": float(hit[lost & keep].mean()) if (lost & keep).any() else 0.0,
            "latency_hours": float(lat_r.mean()) if lat_r.size else np.nan,
        })  # fmt: skip
    return k, pd.DataFrame(rows)
