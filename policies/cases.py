"""The fast case engine: the exception team of :mod:`policies.recovery` without SimPy.

Why: one SimPy process per case costs about 80 µs, and a 24 h detection window opens
60 k cases on a month of orders, so the team cost more than the world it was evaluated on.
Here everything that does not queue is an array operation:

* cases are opened vectorised (the first alert per order and remedy family opens one;
  later alerts of the same key merge into it, as in the reference);
* each (tier, kind) plan is compiled once to integer step codes;
* "delivered meanwhile" and "moved again" are per-case thresholds read off the polled feed
  (the delivery's seen time; the first event seen after the case opened);
* trace answers, notices, reships, refunds and claims go to the desk in one batch after
  the queue has run — whether a trace found the parcel never changes *when* anything
  happens, only which later steps are skipped, so it can be settled afterwards.

Only the analyst queue is an event loop (:mod:`policies._queue`, compiled with numba).  It
replays the reference model's event order exactly — SimPy's ``(time, schedule order)``
tie-breaking, the store's one-grant-per-trigger rule, a get granted in the very step a
shift ends — so both engines give the same cases, actions and KPIs, not merely the same
distribution (``tests/test_case_engine.py``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from policies.config import ACTIONS, AUTOMATED_STEPS, OBSERVED_KINDS, RecoveryConfig
from policies.recovery import FAMILY, RecoveryResult, staffed_hours

AUTOMATED_CODES = tuple(ACTIONS.index(a) for a in AUTOMATED_STEPS)
CLOSE_REASONS = ("", "delivered", "moved_again", "plan_done", "backlog_at_end")
IF_LOST = frozenset(ACTIONS.index(a) for a in ("reship_if_lost", "reship_expedited_if_lost",
                                               "refund_if_lost", "claim"))  # fmt: skip
# desk verb of each plan step (None: no desk call): (verb, expedited, item_only, credit)
DESK_VERB: dict[str, tuple[str, bool, bool, bool] | None] = {
    "notify": ("notify", False, False, False), "notify_credit": ("notify", False, False, True),
    "trace": ("trace", False, False, False), "wait_recheck": None,
    "reship_standard": ("reship", False, False, False),
    "reship_expedited": ("reship", True, False, False),
    "reship_if_lost": ("reship", False, False, False),
    "reship_expedited_if_lost": ("reship", True, False, False),
    "refund": ("refund", False, False, False), "refund_if_lost": ("refund", False, False, False),
    "claim": ("claim", False, False, False), "resend_item": ("reship", False, True, False),
}  # fmt: skip


# the same tables by step code
IF_LOST_CODE = np.asarray([i in IF_LOST for i in range(len(ACTIONS))])
DESK_CALL = np.asarray([DESK_VERB[a] is not None for a in ACTIONS])
_VERB = [DESK_VERB[a] or ("", False, False, False) for a in ACTIONS]
DESK_VERBS = np.asarray([v[0] for v in _VERB], dtype=object)
DESK_EXPEDITED = np.asarray([v[1] for v in _VERB])
DESK_ITEM_ONLY = np.asarray([v[2] for v in _VERB])
DESK_CREDIT = np.asarray([v[3] for v in _VERB])


def _time_order(t: np.ndarray) -> np.ndarray:
    """Stable order of ``t`` (cases open in alert order, already sorted by time)."""
    if t.size < 2 or (t[1:] >= t[:-1]).all():
        return np.arange(t.size, dtype=np.int64)
    return np.argsort(t, kind="stable").astype(np.int64)


class BatchDesk(Protocol):
    """What the case engine needs of the desk: trace delays up front (a per-order draw,
    not an answer), the answers of the traces it made, and one call recording every
    action in the order the reference would have made them."""

    def trace_delays(self, order_ids: np.ndarray) -> np.ndarray: ...
    def trace_found(self, order_ids: np.ndarray, at: np.ndarray) -> np.ndarray: ...
    def record_many(self, order_ids: np.ndarray, at: np.ndarray, verb: np.ndarray,
                    expedited: np.ndarray, item_only: np.ndarray,
                    credit: np.ndarray) -> None: ...


def kind_codes(alerts: pd.DataFrame) -> np.ndarray:
    """Index in OBSERVED_KINDS of each alert's kind (hashing the few distinct strings)."""
    codes, uniq = pd.factorize(alerts["kind"].to_numpy())
    bad = [k for k in uniq if k not in OBSERVED_KINDS]
    if bad:
        raise ValueError(f"alert kinds {bad} outside {list(OBSERVED_KINDS)}")
    return np.asarray([OBSERVED_KINDS.index(k) for k in uniq], dtype=np.int64)[codes]


ITEM_FAMILY = np.asarray([FAMILY[k] == "item" for k in OBSERVED_KINDS])


def open_cases(alerts: pd.DataFrame, kind_idx: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alert rows that open a case, case id of every alert, opened mask), vectorised.

    A case is keyed by (order, remedy family); the first alert of a key opens it and every
    later one merges into it, even once it is closed (the reference keeps the key)."""
    order = alerts["order_id"].to_numpy().astype(np.int64)
    kind_idx = kind_codes(alerts) if kind_idx is None else kind_idx
    key = order * 2 + ITEM_FAMILY[kind_idx]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    opener = np.sort(first)
    case_of_key = np.empty(first.size, dtype=np.int64)
    case_of_key[np.argsort(first, kind="stable")] = np.arange(first.size)
    case_of = case_of_key[inverse.ravel()]
    opened = np.zeros(order.size, dtype=bool)
    opened[opener] = True
    return opener, case_of, opened


def compile_plans(cfg: RecoveryConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plans as step codes: (flat codes, offset and length per plan id).  Plan id =
    tier index * len(OBSERVED_KINDS) + kind index."""
    codes: list[int] = []
    off, length = [], []
    for tier in cfg.tiers:
        for kind in OBSERVED_KINDS:
            plan = tier.plans.get(kind, [])
            off.append(len(codes))
            length.append(len(plan))
            codes.extend(ACTIONS.index(s) for s in plan)
    return (np.asarray(codes, dtype=np.int64), np.asarray(off, dtype=np.int64),
            np.asarray(length, dtype=np.int64))


def tier_index(cfg: RecoveryConfig, value: np.ndarray) -> np.ndarray:
    """Index of the first tier (in config order) covering each value, as ``tier_of``."""
    out = np.full(value.size, -1, dtype=np.int64)
    for i, t in enumerate(cfg.tiers):
        out[(out < 0) & (t.min_value <= value) & (value < t.max_value)] = i
    if (out < 0).any():
        raise ValueError(f"no recovery tier covers order value {value[out < 0][0]}")
    return out


def _steps_text(plan_of: np.ndarray, n_done: np.ndarray, skipped_bits: np.ndarray,
                codes: np.ndarray, plan_off: np.ndarray) -> np.ndarray:
    """The ``steps`` column (" > "-joined step names, ":skipped_found" marks), built once
    per distinct (plan, steps done, skips) pattern: a few dozen, not one per case."""
    width = int(n_done.max()) + 1
    key = (plan_of * width + n_done) << width | skipped_bits  # at most `width` - 1 skip bits
    uniq, inv = np.unique(key, return_inverse=True)
    text = []
    for k in uniq:
        p, n, bits = (k >> width) // width, (k >> width) % width, k & ((1 << width) - 1)
        names = [ACTIONS[codes[plan_off[p] + j]] + (":skipped_found" if bits >> j & 1 else "")
                 for j in range(n)]
        text.append(" > ".join(names))
    return np.asarray(text, dtype=object)[inv.ravel()]


def work_cases_fast(alerts: pd.DataFrame, orders: pd.DataFrame, delivered_seen: np.ndarray,
                    next_seen_after, cfg: RecoveryConfig, desk: BatchDesk,
                    rota: list[np.ndarray], handling_hours: np.ndarray, horizon: float,
                    kpi_window: tuple[float, float]) -> RecoveryResult:
    """The exception team over ``alerts`` (sorted by time); same contract and results as
    :func:`policies.recovery.work_cases`.

    ``delivered_seen``: per order, the seen time of its delivery (inf if none);
    ``next_seen_after(order_rows, t)``: per query, the first seen time of an event of the
    order later than ``t`` (inf if none); ``handling_hours``: per order, triage hours."""
    from policies._queue import run_queue  # compiled on first use

    all_kinds = kind_codes(alerts)
    opener, case_of, opened = open_cases(alerts, all_kinds)
    n = opener.size
    order = alerts["order_id"].to_numpy().astype(np.int64)[opener]
    kind_idx = all_kinds[opener]
    opened_at = alerts["time"].to_numpy().astype(float)[opener]
    value = orders["value"].to_numpy().astype(float)
    plan_of = tier_index(cfg, value[order]) * len(OBSERVED_KINDS) + kind_idx
    codes, plan_off, plan_len = compile_plans(cfg)
    parcel = ~ITEM_FAMILY[kind_idx]
    h_triage = handling_hours[order].astype(float)
    h_follow = h_triage * cfg.team.followup_share
    manual = np.ones(len(ACTIONS), dtype=np.bool_)
    manual[list(AUTOMATED_CODES)] = False
    n_traces = np.bincount(plan_of.astype(np.int64), minlength=plan_len.size)  # 0 cases too
    traces_per_plan = np.array([(codes[o:o + k] == ACTIONS.index("trace")).sum()
                                for o, k in zip(plan_off, plan_len, strict=True)], dtype=np.int64)
    queue_cap = int(n + (n_traces * traces_per_plan).sum()) + 1
    rec_cap = int(plan_len[plan_of].sum()) + 1 if n else 1
    win = [np.asarray(w, dtype=float).reshape(-1, 2) for w in rota]
    win_len = np.asarray([w.shape[0] for w in win], dtype=np.int64)
    win_off = np.concatenate([[0], np.cumsum(win_len)[:-1]]).astype(np.int64)
    flat = np.concatenate(win) if win else np.empty((0, 2))
    out = run_queue(
        opened_at, _time_order(opened_at), parcel, plan_of, plan_off, plan_len, codes, manual,
        delivered_seen[order].astype(float), next_seen_after(order, opened_at).astype(float),
        h_triage, h_follow, desk.trace_delays(order).astype(float),
        np.ascontiguousarray(flat[:, 0]), np.ascontiguousarray(flat[:, 1]), win_off, win_len,
        float(cfg.recheck_hours), float(horizon), float(kpi_window[0]), float(kpi_window[1]),
        queue_cap, rec_cap)
    first, handling, closed, reason, n_done, rec_case, rec_pos, rec_time, prev_trace, busy = out
    reason = np.where(np.isnan(closed), CLOSE_REASONS.index("backlog_at_end"), reason)

    # desk actions, in the order the reference makes them
    step = codes[plan_off[plan_of[rec_case]] + rec_pos]
    r_order = order[rec_case]
    is_trace = step == ACTIONS.index("trace")
    found = np.zeros(rec_case.size, dtype=bool)
    if is_trace.any():
        found[is_trace] = desk.trace_found(r_order[is_trace], rec_time[is_trace])
    # a step that needs a loss is skipped when the case's last trace found the parcel
    found_before = np.where(prev_trace >= 0, found[np.maximum(prev_trace, 0)], False)
    skipped = IF_LOST_CODE[step] & found_before
    calls = ~skipped & DESK_CALL[step]
    if calls.any():
        sc = step[calls]
        desk.record_many(r_order[calls], rec_time[calls], DESK_VERBS[sc], DESK_EXPEDITED[sc],
                         DESK_ITEM_ONLY[sc], DESK_CREDIT[sc])
    bits = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(bits, rec_case[skipped], np.left_shift(1, rec_pos[skipped]))
    steps = _steps_text(plan_of, n_done, bits, codes, plan_off) if n else np.empty(0, object)

    if n:
        case_df = pd.DataFrame({
            "case_id": np.arange(n, dtype=np.int64), "order_id": order,
            "kind": np.asarray(OBSERVED_KINDS, dtype=object)[kind_idx], "opened_at": opened_at, "first_handled_at": first,
            "closed_at": closed, "handling_hours": handling,
            "close_reason": np.asarray(CLOSE_REASONS, dtype=object)[reason], "steps": steps,
        }, copy=False)  # fmt: skip (fresh arrays: no need to copy them into blocks)
    else:  # the reference's frame of empty lists
        case_df = pd.DataFrame({c: [] for c in ("case_id", "order_id", "kind", "opened_at",
                                                "first_handled_at", "closed_at",
                                                "handling_hours", "close_reason", "steps")})
    outcome = np.where(opened, "opened_case", "merged_into_case").astype(object)
    out_alerts = alerts.assign(outcome=outcome, case_id=case_of)
    return RecoveryResult(out_alerts, case_df, float(busy), staffed_hours(rota, kpi_window))
