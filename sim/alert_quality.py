"""How good the alerts are: precision, recall by exception kind and detection latency,
graded against the exceptions a rule *could* see (scoring only; reads the truth).

An alert is a true positive when its order has an exception of the family the alert
speaks for:

* **parcel-level** (what tracking shows, or a customer asking where the parcel is):
  never received, lost, returned to sender, a failed delivery attempt, held by a weather
  closure, or delivered later than ``late_grace_hours`` after the promise (or never);
* **item-level** (seen only in a customer's report or a carrier damage scan): damaged
  goods, a mis-pick the pack check missed.

So a tracking rule gets no credit for a mis-pick it cannot see, and none for a parcel
a few minutes late.  Latency is measured from the exception's start (the loss, the
handover of a parcel never scanned, the first failed attempt, the first weather hold, the
promise for a late one, the delivery for an item problem) and only for alerts after it;
alerts before it (a stalled parcel flagged before the promise passed) are counted apart
as ``early_alert_share``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PARCEL_KINDS = ("never_received", "lost", "returned", "failed_delivery", "weather", "late")
ITEM_KINDS = ("damaged", "mispick")
ITEM_ALERT_KINDS = ("damaged", "mispick")  # observed alert kinds of the item family
REACTIVE_RULE = "customer_contact"


_VISIBLE: dict[tuple[int, float], tuple[pd.DataFrame, pd.DataFrame]] = {}


def visible_exceptions(truth: pd.DataFrame, late_grace_hours: float) -> pd.DataFrame:
    """Per order: its parcel-level and item-level exception kinds ('' if none) and starts.

    A property of the world alone: computed once per (world, grace) in a process and
    shared by every policy scored on it (a sweep scores many).  Do not mutate the result."""
    key = (id(truth), float(late_grace_hours))
    hit = _VISIBLE.get(key)
    if hit is not None and hit[0] is truth:
        return hit[1]
    vis = _visible_exceptions(truth, late_grace_hours)
    if len(_VISIBLE) >= 4:  # a sweep works one world at a time
        _VISIBLE.pop(next(iter(_VISIBLE)))
    _VISIBLE[key] = (truth, vis)
    return vis


def _visible_exceptions(truth: pd.DataFrame, late_grace_hours: float) -> pd.DataFrame:
    lost_at = truth["lost_at"].to_numpy()
    delivered = truth["delivered_at"].to_numpy()
    late_hours = delivered - truth["promised_at"].to_numpy()
    term = truth["terminal"].astype(str).to_numpy()
    failed = (truth["attempts"].to_numpy() > 1) | truth["returned"].to_numpy()
    weather = truth["weather_paused_hours"].to_numpy() > 0
    late = np.isnan(delivered) | (late_hours > late_grace_hours)
    conds = [term == "never_received", term == "lost", term == "returned", failed, weather, late]
    parcel = np.select(conds, list(PARCEL_KINDS), "")
    parcel_start = np.select(conds, [
        truth["handoff_at"].to_numpy(), lost_at,
        np.fmin(truth["first_ofd_at"].to_numpy(), truth["returned_at"].to_numpy()),
        truth["first_ofd_at"].to_numpy(), truth["weather_first_at"].to_numpy(),
        truth["promised_at"].to_numpy()], np.nan)  # fmt: skip
    damaged = truth["damaged"].to_numpy()
    mispick = (truth["mispick"].astype(str).to_numpy() != "none") & ~truth["mispick_caught"].to_numpy()
    mispick &= ~np.isnan(delivered)  # a mis-pick in a parcel that never came is not seen
    item = np.where(damaged, "damaged", np.where(mispick, "mispick", ""))
    item_start = np.where(damaged, truth["exception_at"].to_numpy(),
                          np.where(mispick, delivered, np.nan))
    return pd.DataFrame({"parcel": parcel, "parcel_start": parcel_start, "item": item,
                         "item_start": item_start})  # fmt: skip


_MASKS: dict[int, tuple[pd.DataFrame, dict[str, np.ndarray]]] = {}


def _masks(vis: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean masks of ``vis`` by exception kind, made once per ``vis`` (string compares
    over every order are the slow part of grading a policy)."""
    hit = _MASKS.get(id(vis))
    if hit is not None and hit[0] is vis:
        return hit[1]
    parcel, item = vis["parcel"].to_numpy(), vis["item"].to_numpy()
    m = {"parcel_any": parcel != "", "item_any": item != "",
         "lost": np.isin(parcel, ("lost", "never_received")),
         **{f"parcel:{k}": parcel == k for k in PARCEL_KINDS},
         **{f"item:{k}": item == k for k in ITEM_KINDS}}  # fmt: skip
    m["exception"] = m["parcel_any"] | m["item_any"]
    if len(_MASKS) >= 4:
        _MASKS.pop(next(iter(_MASKS)))
    _MASKS[id(vis)] = (vis, m)
    return m


def grade_alerts(alerts: pd.DataFrame, vis: pd.DataFrame) -> pd.DataFrame:
    """The alerts with ``true_positive`` and the ``exception_start`` they are measured from."""
    o = alerts["order_id"].to_numpy()
    item_alert = np.isin(alerts["kind"].astype(str).to_numpy(), ITEM_ALERT_KINDS)
    m = _masks(vis)
    tp = np.where(item_alert, m["item_any"][o], m["parcel_any"][o])
    start = np.where(item_alert, vis["item_start"].to_numpy()[o], vis["parcel_start"].to_numpy()[o])
    return alerts.assign(true_positive=tp, exception_start=np.where(tp, start, np.nan))


def _quality(g: pd.DataFrame, vis: pd.DataFrame, keep: np.ndarray) -> dict[str, float]:
    """Precision, recall and latency of a set of graded alerts (of kept orders)."""
    return _quality_of(g["order_id"].to_numpy().astype(np.int64), g["time"].to_numpy(),
                       g["true_positive"].to_numpy(dtype=bool),
                       g["exception_start"].to_numpy(), vis, keep)


def _quality_of(o: np.ndarray, time: np.ndarray, tp: np.ndarray, start: np.ndarray,
                vis: pd.DataFrame, keep: np.ndarray) -> dict[str, float]:
    """:func:`_quality` on arrays (alerts in table order): the same figures, without a
    group-by per rule."""
    n = len(vis)
    alerted = np.zeros(n, bool)
    alerted[o] = True
    any_tp = np.zeros(n, bool)
    any_tp[o[tp]] = True
    # each caught order's first true alert by time (ties: table order), in time order
    rows = np.flatnonzero(tp)
    rows = rows[np.argsort(time[rows], kind="stable")]
    _, first_at = np.unique(o[rows], return_index=True)
    first = rows[np.sort(first_at)]
    caught = np.zeros(n, bool)
    caught[o[first]] = True
    lat = time[first] - start[first]
    early = lat < 0
    actionable = keep & _masks(vis)["exception"]
    lost = keep & _masks(vis)["lost"]

    def share(mask: np.ndarray) -> float:
        return float(caught[mask].mean()) if mask.any() else np.nan

    return {
        "precision": float(tp.mean()) if o.size else np.nan,
        "precision_per_order": float(any_tp[alerted].mean()) if o.size else np.nan,
        "recall": share(actionable),
        "recall_lost": share(lost),
        "latency_hours": float(lat[~early].mean()) if (~early).any() else np.nan,
        "early_alert_share": float(early.mean()) if lat.size else np.nan,
    }


def alert_kpis(alerts: pd.DataFrame, truth: pd.DataFrame, keep: np.ndarray,
               late_grace_hours: float, measured_days: float) -> tuple[dict, pd.DataFrame]:
    """KPIs over every alert, recall by exception kind, and the rule table (proactive
    rules first, the customer-contact rule — the reactive status quo — apart at the end)."""
    vis = visible_exceptions(truth, late_grace_hours)
    a = alerts[keep[alerts["order_id"].to_numpy().astype(np.int64)]]
    g = grade_alerts(a, vis)
    q = _quality(g, vis, keep)
    caught_any = np.zeros(len(vis), bool)
    caught_any[g["order_id"].to_numpy()[g["true_positive"].to_numpy(dtype=bool)]] = True
    k = {
        "precision": q["precision"], "precision_per_order": q["precision_per_order"],
        "recall": q["recall"], "detection_latency_hours": q["latency_hours"],
        "early_alert_share": q["early_alert_share"],
    }  # fmt: skip
    masks = _masks(vis)
    for kind in PARCEL_KINDS:
        m = keep & masks[f"parcel:{kind}"]
        k[f"recall_{kind}"] = float(caught_any[m].mean()) if m.any() else np.nan
    for kind in ITEM_KINDS:
        m = keep & masks[f"item:{kind}"]
        k[f"recall_{kind}"] = float(caught_any[m].mean()) if m.any() else np.nan
    o = g["order_id"].to_numpy().astype(np.int64)
    time, tp = g["time"].to_numpy(), g["true_positive"].to_numpy(dtype=bool)
    start = g["exception_start"].to_numpy()
    rule = g["rule"].astype("category")  # groups in category order, as groupby(observed)
    codes, names = rule.cat.codes.to_numpy(), rule.cat.categories
    proactive = codes != (names.get_loc(REACTIVE_RULE) if REACTIVE_RULE in names else -2)
    pq = _quality_of(o[proactive], time[proactive], tp[proactive], start[proactive], vis, keep)
    k["precision_proactive"] = pq["precision"]
    rows = []
    for c in np.unique(codes[codes >= 0]):
        m = codes == c
        rule, size = names[c], int(m.sum())
        rq = _quality_of(o[m], time[m], tp[m], start[m], vis, keep)
        rows.append({
            "rule": str(rule), "reactive": str(rule) == REACTIVE_RULE, "alerts": size,
            "alerts_per_day": size / measured_days, "orders_alerted": np.unique(o[m]).size,
            "precision": rq["precision"], "precision_per_order": rq["precision_per_order"],
            "recall": rq["recall"], "recall_lost": rq["recall_lost"],
            "latency_hours": rq["latency_hours"], "early_alert_share": rq["early_alert_share"],
        })  # fmt: skip
    rules = pd.DataFrame(rows, columns=[
        "rule", "reactive", "alerts", "alerts_per_day", "orders_alerted", "precision",
        "precision_per_order", "recall", "recall_lost", "latency_hours", "early_alert_share"])
    rules = rules.sort_values(["reactive", "rule"], kind="stable").reset_index(drop=True)
    return k, rules
