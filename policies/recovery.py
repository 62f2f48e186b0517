"""Recovery: the exception team works alerts as cases and acts by a value-tiered plan.

The team is a FIFO task queue (:class:`simpy.Store`) worked by analyst processes that
follow their shifts and finish the task in hand past the shift end, as people do.  (A
``simpy.PriorityResource`` with "off duty" requests models the same, but it re-sorts its
whole queue on every request: 127 of 139 s of a run when a storm floods the team.)  Each
case is a SimPy process: wait for an analyst, triage, then run the plan's steps in order.  Steps that need the carrier (trace, reship, claim)
go through a :class:`CarrierDesk`: the policy asks, the desk answers only what a real
carrier would answer.  The policy never sees the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
import simpy

from policies.config import AUTOMATED_STEPS, RecoveryConfig, tier_of

# a case groups alerts of one order that call for the same kind of remedy
FAMILY = {"missing_parcel": "parcel", "weather": "parcel", "failed_delivery": "parcel",
          "damaged": "item", "mispick": "item"}  # fmt: skip
AUTOMATED = AUTOMATED_STEPS  # no analyst needed


@dataclass(frozen=True)
class TraceReply:
    replied_at: float
    found: bool  # the carrier located the parcel (False: loss confirmed)


class CarrierDesk(Protocol):
    """Actions that reach outside the company.  Implemented by the pipeline over the
    world; every call is recorded there for scoring."""

    def trace(self, order_id: int, at: float) -> TraceReply: ...
    def reship(self, order_id: int, at: float, expedited: bool, item_only: bool) -> None: ...
    def claim(self, order_id: int, at: float) -> None: ...
    def refund(self, order_id: int, at: float) -> None: ...
    def notify(self, order_id: int, at: float, credit: float) -> None: ...


@dataclass
class Case:
    case_id: int
    order_id: int
    kind: str
    opened_at: float
    value: float
    first_handled_at: float = np.nan
    closed_at: float = np.nan
    handling_hours: float = 0.0
    close_reason: str = ""
    steps_done: list[str] = field(default_factory=list)


@dataclass
class RecoveryResult:
    alerts: pd.DataFrame  # the alerts with their outcome and case id
    cases: pd.DataFrame
    busy_hours: float
    staffed_hours: float


def staffed_hours(rota: list[np.ndarray], kpi_window: tuple[float, float]) -> float:
    """Analyst hours on duty inside the KPI window (both engines)."""
    start, end = kpi_window
    return float(sum(np.clip(np.minimum(w[:, 1], end) - np.maximum(w[:, 0], start), 0, None).sum()
                     for w in rota))


def _analyst(env: simpy.Environment, queue: simpy.Store, windows: np.ndarray, busy: list[float]):
    """One analyst: on duty in ``windows``, takes the oldest waiting task, works it.

    A task is ``(hours, done_event, still_needed)``; a task taken is finished even past the
    shift end.  ``still_needed(now)`` is checked when the task is taken: a case whose
    parcel moved or arrived meanwhile is closed by the system without an analyst's time.
    ``busy = [hours worked, from, until]`` counts work done inside ``[from, until)`` (the
    KPI window).
    """
    for start, end in windows:
        if env.now < start:
            yield env.timeout(start - env.now)
        while env.now < end:
            get = queue.get()
            yield get | env.timeout(end - env.now)
            # the get may have been granted in the very step the shift ended: test the
            # event itself, not the condition's value, or that task would be lost
            if not get.triggered:
                get.cancel()
                break
            hours, done, still_needed = get.value
            if not still_needed(env.now):
                done.succeed(None)
                continue
            busy[0] += max(min(env.now + hours, busy[2]) - max(env.now, busy[1]), 0.0)
            yield env.timeout(hours)
            done.succeed(env.now)


def work_cases(alerts: pd.DataFrame, orders: pd.DataFrame,
               delivered_seen: Callable[[int, float], bool],
               moved_since: Callable[[int, float, float], bool], cfg: RecoveryConfig,
               desk: CarrierDesk, rota: list[np.ndarray], handling: Callable[[int], float],
               horizon: float, kpi_window: tuple[float, float]) -> RecoveryResult:
    """Run the exception team over ``alerts`` (sorted by time).

    ``delivered_seen(order_id, t)``: whether the polled feed showed delivery by ``t``;
    ``moved_since(order_id, t0, t1)``: whether a new carrier event was seen in ``(t0, t1]``.
    ``handling(order_id)``: triage hours of the order's case (drawn by the caller on the
    order's own stream, so that it does not depend on which alerts opened cases).
    ``rota``: per analyst, the ``(k, 2)`` on-duty windows.  Busy and staffed hours are
    measured over ``kpi_window = (start, end)`` hours (the measured days: after the warm-up,
    up to the order horizon), where the load is representative; every KPI uses that window.
    Notices are automated (templated messages): a plan of notices only never waits for an
    analyst; the first manual step (trace, reship, refund, claim, resend) needs a triage.
    """
    env = simpy.Environment()
    queue = simpy.Store(env)  # FIFO of tasks waiting for an analyst
    value = dict(zip(orders["order_id"].to_numpy(), orders["value"].to_numpy(), strict=True))
    cases: list[Case] = []
    open_case: dict[tuple[int, str], Case] = {}
    outcome = np.empty(len(alerts), dtype=object)
    case_of = np.full(len(alerts), -1, dtype=np.int64)
    busy = [0.0, *kpi_window]

    def analyst_time(case: Case, hours: float, still_needed=lambda now: True):
        """Wait for an analyst and work ``hours``; False if the system closed it first."""
        done = env.event()
        yield queue.put((hours, done, still_needed))
        finished = yield done
        if finished is None:
            return False
        if np.isnan(case.first_handled_at):
            case.first_handled_at = finished - hours
        case.handling_hours += hours
        return True

    def run_case(case: Case):
        yield env.timeout(case.opened_at - env.now)
        parcel = FAMILY[case.kind] == "parcel"
        plan = tier_of(cfg.tiers, case.value).plans.get(case.kind, [])
        lost_confirmed: bool | None = None
        triaged = False

        def still_stalled(now: float) -> bool:
            return not (parcel and moved_since(case.order_id, case.opened_at, now))

        for step in plan:
            if parcel and delivered_seen(case.order_id, env.now):
                case.close_reason = "delivered"
                break
            if step not in AUTOMATED and not triaged:
                triaged = True
                if not (yield from analyst_time(case, handling(case.order_id), still_stalled)):
                    case.close_reason = "moved_again"
                    break
                if parcel and delivered_seen(case.order_id, env.now):
                    case.close_reason = "delivered"
                    break
            case.steps_done.append(step)
            if step in ("notify", "notify_credit"):
                desk.notify(case.order_id, env.now, cfg.credit if step == "notify_credit" else 0.0)
            elif step == "trace":
                reply = desk.trace(case.order_id, env.now)
                yield env.timeout(max(reply.replied_at - env.now, 0.0))
                lost_confirmed = not reply.found
                yield from analyst_time(case, handling(case.order_id) * cfg.team.followup_share)
            elif step == "wait_recheck":
                yield env.timeout(cfg.recheck_hours)
            elif step in ("reship_standard", "reship_expedited"):
                desk.reship(case.order_id, env.now, step == "reship_expedited", False)
            elif step in ("reship_if_lost", "reship_expedited_if_lost", "refund_if_lost"):
                if lost_confirmed is False:
                    case.steps_done[-1] += ":skipped_found"
                    continue
                if step == "refund_if_lost":
                    desk.refund(case.order_id, env.now)
                else:
                    desk.reship(case.order_id, env.now, step == "reship_expedited_if_lost", False)
            elif step == "refund":
                desk.refund(case.order_id, env.now)
            elif step == "claim":
                if lost_confirmed is False:
                    case.steps_done[-1] += ":skipped_found"
                    continue
                desk.claim(case.order_id, env.now)
            elif step == "resend_item":
                desk.reship(case.order_id, env.now, False, True)
        case.closed_at = env.now
        case.close_reason = case.close_reason or "plan_done"

    order_ids = alerts["order_id"].to_numpy()
    kinds = alerts["kind"].to_numpy()
    times = alerts["time"].to_numpy()
    for i in range(len(alerts)):
        key = (int(order_ids[i]), FAMILY[kinds[i]])
        if key in open_case:
            outcome[i] = "merged_into_case"
            case_of[i] = open_case[key].case_id
            continue
        case = Case(len(cases), key[0], str(kinds[i]), float(times[i]), float(value[key[0]]))
        cases.append(case)
        open_case[key] = case
        outcome[i] = "opened_case"
        case_of[i] = case.case_id
        env.process(run_case(case))
    for windows in rota:
        env.process(_analyst(env, queue, windows, busy))
    env.run(until=horizon)
    for c in cases:  # an overloaded team leaves a backlog: say so, do not crash a sweep
        if np.isnan(c.closed_at):
            c.close_reason = "backlog_at_end"
    staffed = staffed_hours(rota, kpi_window)
    case_df = pd.DataFrame({
        "case_id": [c.case_id for c in cases], "order_id": [c.order_id for c in cases],
        "kind": [c.kind for c in cases], "opened_at": [c.opened_at for c in cases],
        "first_handled_at": [c.first_handled_at for c in cases],
        "closed_at": [c.closed_at for c in cases],
        "handling_hours": [c.handling_hours for c in cases],
        "close_reason": [c.close_reason for c in cases],
        "steps": [" > ".join(c.steps_done) for c in cases],
    })  # fmt: skip
    out = alerts.assign(outcome=outcome, case_id=case_of)
    return RecoveryResult(out, case_df, busy[0], staffed)
