"""Configs of detection rules and recovery policies (Hydra structured configs).

Each rule is a dataclass with an ``enabled`` switch so that a preset turns rules on and a
sweep varies their parameters (``detection.no_movement.hours=12,24,48``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.configbase import (
    ShiftConfig,
    _f,
    days_of_week,
    int_at_least,
    nonneg,
    one_of,
    optional_int_at_least,
    positive,
    prob,
    shift_problems,
    value_bound,
)

OBSERVED_KINDS = ("missing_parcel", "weather", "failed_delivery", "damaged", "mispick")
ACTIONS = (
    "notify", "notify_credit", "trace", "wait_recheck", "reship_standard", "reship_expedited",
    "reship_if_lost", "reship_expedited_if_lost", "refund", "refund_if_lost", "claim",
    "resend_item",
)  # fmt: skip
RULES = ("no_first_scan", "no_movement", "long_in_transit", "past_promise", "failed_attempts",
         "carrier_exception", "warehouse_delay", "customer_contact")  # fmt: skip
CARRIER_EXCEPTIONS = ("weather", "damaged", "returned_to_sender")
AUTOMATED_STEPS = frozenset({"notify", "notify_credit", "wait_recheck"})  # no analyst needed


@dataclass
class HoursRule:
    """A rule with a window in hours and the common options."""

    enabled: bool = False
    hours: float = _f(48.0, positive)
    business_hours: bool = False  # count only Mon-Fri 9-17 hours (Onward, AfterShip option)
    suppress_weather: bool = False  # hold while the carrier reports weather in the region
    realert_hours: float = _f(0.0, nonneg)  # 0: alert once; else repeat while it still holds


@dataclass
class FailedAttemptsRule:
    enabled: bool = False
    attempts: int = _f(2, int_at_least(1))


@dataclass
class CarrierExceptionRule:
    enabled: bool = False
    sub_statuses: list[str] = _f(["damaged", "returned_to_sender"])


@dataclass
class CustomerContactRule:
    """The reactive status quo: a case opens when the customer complains."""

    enabled: bool = True


@dataclass
class DetectionConfig:
    name: str = "no_movement_48h"  # the default preset (conf/config.yaml); reactive: status quo
    poll_hours: float = _f(6.0, positive)  # trackers poll carriers every 3-12 h (AfterShip)
    check_every_hours: float = _f(1.0, positive)  # how often rules are evaluated
    no_first_scan: HoursRule = field(default_factory=lambda: HoursRule(hours=72.0))
    no_movement: HoursRule = field(default_factory=lambda: HoursRule(enabled=True, hours=48.0))
    long_in_transit: HoursRule = field(default_factory=lambda: HoursRule(hours=168.0))
    past_promise: HoursRule = field(default_factory=lambda: HoursRule(hours=24.0))
    warehouse_delay: HoursRule = field(default_factory=lambda: HoursRule(hours=72.0))
    failed_attempts: FailedAttemptsRule = field(default_factory=FailedAttemptsRule)
    carrier_exception: CarrierExceptionRule = field(default_factory=CarrierExceptionRule)
    customer_contact: CustomerContactRule = field(default_factory=CustomerContactRule)


@dataclass
class TierConfig:
    """Orders with ``min_value <= value < max_value``: the action plan per observed kind."""

    min_value: float = _f(0.0, value_bound)
    max_value: float = _f(math.inf, value_bound)
    plans: dict[str, list[str]] = field(default_factory=dict)


def default_tiers() -> list[TierConfig]:
    return [
        TierConfig(0.0, 50.0, {
            "missing_parcel": ["notify", "trace", "refund_if_lost"],
            "weather": ["notify"], "failed_delivery": ["notify", "wait_recheck"],
            "damaged": ["refund"], "mispick": ["resend_item"],
        }),
        TierConfig(50.0, 200.0, {
            "missing_parcel": ["trace", "reship_if_lost", "claim"],
            "weather": ["notify"], "failed_delivery": ["notify", "wait_recheck"],
            "damaged": ["reship_standard", "claim"], "mispick": ["resend_item"],
        }),
        TierConfig(200.0, math.inf, {
            "missing_parcel": ["reship_expedited", "trace", "claim"],
            "weather": ["notify_credit"], "failed_delivery": ["notify", "wait_recheck"],
            "damaged": ["reship_expedited", "claim"], "mispick": ["resend_item"],
        }),
    ]  # fmt: skip


@dataclass
class TeamConfig:
    """The exception team: analysts on shifts working a FIFO case queue."""

    shifts: list[ShiftConfig] = field(
        default_factory=lambda: [ShiftConfig(8.0, 17.0, 8), ShiftConfig(17.0, 22.0, 3)]
    )
    # analysts on every shift (a decision to sweep: 1, 2, ...); null: each shift's own count
    analysts: int | None = _f(None, optional_int_at_least(1))
    operating_days: list[int] = _f([0, 1, 2, 3, 4, 5], days_of_week)
    handling_median_hours: float = _f(0.2, positive)  # triage and first actions of a case
    handling_sigma: float = _f(0.5, nonneg)
    followup_share: float = _f(0.5, nonneg)  # handling after a trace/recheck, as a share


@dataclass
class RecoveryConfig:
    name: str = "tiered_default"
    tiers: list[TierConfig] = field(default_factory=default_tiers)
    team: TeamConfig = field(default_factory=TeamConfig)
    trace_median_hours: float = _f(72.0, positive)  # carrier trace answers in ~3 days
    trace_sigma: float = _f(0.4, nonneg)
    recheck_hours: float = _f(48.0, positive)
    credit: float = _f(10.0, nonneg)  # goodwill credit with notify_credit
    reship_prep_hours: float = _f(2.0, nonneg)  # pick and pack the replacement
    claim_approval_prob: float = _f(0.7, prob)
    claim_delay_hours: float = _f(12 * 24.0, nonneg)  # 8-15 business days (UPS)
    carrier_liability: float = _f(100.0, nonneg)  # $100 default (UPS)
    # the team's engine: "fast" (array steps + a compiled queue) or "simpy" (the reference
    # model, one process per case); both give the same results (tests/test_case_engine.py)
    engine: str = _f("fast", one_of("fast", "simpy"))


def check_policy(detection: DetectionConfig, recovery: RecoveryConfig) -> list[str]:
    """Cross-field checks of the policy configs; one line per problem."""
    problems: list[str] = []
    for sub in detection.carrier_exception.sub_statuses:
        if sub not in CARRIER_EXCEPTIONS:
            problems.append(f"detection.carrier_exception.sub_statuses: unknown {sub!r}; "
                            f"allowed: {list(CARRIER_EXCEPTIONS)}")  # fmt: skip
    if not any(getattr(detection, r).enabled for r in RULES):
        problems.append(f"detection: no rule is enabled; enable at least one of {list(RULES)}")
    tiers = recovery.tiers
    if not tiers:
        problems.append("recovery.tiers = []: must cover order values from 0 to .inf")
    for i, t in enumerate(tiers):
        if t.max_value <= t.min_value:
            problems.append(f"recovery.tiers[{i}]: max_value {t.max_value} must exceed "
                            f"min_value {t.min_value}")  # fmt: skip
        for kind, plan in t.plans.items():
            if kind not in OBSERVED_KINDS:
                problems.append(f"recovery.tiers[{i}].plans: unknown exception kind {kind!r}; "
                                f"allowed: {list(OBSERVED_KINDS)}")  # fmt: skip
            for step in plan:
                if step not in ACTIONS:
                    problems.append(f"recovery.tiers[{i}].plans.{kind}: unknown action {step!r}; "
                                    f"allowed: {list(ACTIONS)}")  # fmt: skip
        missing = [k for k in OBSERVED_KINDS if k not in t.plans]
        if missing:
            problems.append(f"recovery.tiers[{i}].plans: no plan for {missing} "
                            f"(every tier needs a plan, possibly [], for each of {list(OBSERVED_KINDS)})")  # fmt: skip
    ordered = sorted(tiers, key=lambda t: t.min_value)
    if ordered and ordered[0].min_value != 0:
        problems.append(f"recovery.tiers: values from 0 to {ordered[0].min_value} are not "
                        "covered (the lowest tier must start at min_value 0)")  # fmt: skip
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.min_value < a.max_value:
            problems.append(f"recovery.tiers overlap: [{a.min_value}, {a.max_value}) and "
                            f"[{b.min_value}, {b.max_value})")  # fmt: skip
        elif b.min_value > a.max_value:
            problems.append(f"recovery.tiers leave a gap: no tier covers [{a.max_value}, "
                            f"{b.min_value})")  # fmt: skip
    if ordered and ordered[-1].max_value != math.inf:
        problems.append(f"recovery.tiers: values above {ordered[-1].max_value} are not covered "
                        "(the highest tier must end at max_value .inf)")  # fmt: skip
    problems.extend(team_problems(recovery))
    return problems


def needs_analyst(recovery: RecoveryConfig) -> bool:
    """Whether some plan has a manual step (anything but automated notices and waits)."""
    return any(step not in AUTOMATED_STEPS
               for t in recovery.tiers for plan in t.plans.values() for step in plan)


def team_problems(recovery: RecoveryConfig) -> list[str]:
    """The exception team's rota, checked exactly like the warehouse's (shared code), and
    at least one analyst on some shift when a plan needs one."""
    team = recovery.team
    valid = isinstance(team.analysts, int) and team.analysts >= 1  # else its own message
    heads = [team.analysts] * len(team.shifts) if valid else None
    problems = list(shift_problems(team.shifts, "recovery.team.shifts", "analysts", heads))
    no_one = [p for p in problems if "must have analysts > 0" in p]
    if no_one and not needs_analyst(recovery):  # a notices-only plan runs without a team
        problems.remove(no_one[0])
    elif no_one:
        problems[problems.index(no_one[0])] = (
            f"{no_one[0]} (recovery '{recovery.name}' has manual steps such as trace, "
            "reship, refund or claim)")
    return problems


def tier_of(tiers: list[TierConfig], value: Any) -> TierConfig:
    for t in tiers:
        if t.min_value <= value < t.max_value:
            return t
    raise ValueError(f"no recovery tier covers order value {value}")


__all__ = ["ACTIONS", "AUTOMATED_STEPS", "OBSERVED_KINDS", "RULES", "DetectionConfig",
           "RecoveryConfig", "TeamConfig", "TierConfig", "check_policy", "needs_analyst",
           "one_of", "team_problems", "tier_of"]  # fmt: skip
