"""The decision a planner declares (DESIGN §11): objective, constraints, search space,
budget and the statistical guarantee of the final choice.

``conf/decision/*.yaml`` holds presets; every field is a Hydra override
(``decision.budget.trials=50``, ``decision.constraints.case_wait.bound=6``).  The fields
are checked like every other config (field, value, what is allowed; exit 2) before any
world is simulated; KPI names are checked against :data:`KPI_NAMES`, the KPIs a run
writes into ``kpis.json``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from policies.config import ACTIONS, OBSERVED_KINDS
from sim.configbase import _f, int_at_least, nonneg, one_of, positive

HOURS_RULES = ("no_first_scan", "no_movement", "long_in_transit", "past_promise",
               "warehouse_delay")  # fmt: skip
SENSES = ("at_most", "at_least")  # words: "<=" needs quoting in an override
DIRECTIONS = ("minimize", "maximize")
SAMPLERS = ("tpe", "random")
STAGES = ("all", "search", "cleanup")
# KPIs of kpis.json that a decision may name (interfaces.md §7 keeps these names).  Names
# added later by the outcome model are accepted when they end in a known suffix.
KPI_NAMES = (
    "cost_per_order", "stars_mean", "detractor_share", "repurchase_prob", "on_time_share",
    "contacts_per_order", "alerts_per_day", "cases_per_day", "case_wait_hours",
    "cases_backlogged_share", "team_utilisation", "precision", "recall",
    "detection_latency_hours", "proactive_catch_share", "lost_caught_before_contact",
    "reships_per_1000", "duplicates_per_1000",
)  # fmt: skip
KPI_PATTERNS = ("cost_", "_per_order", "_per_day", "_share", "_per_1000", "precision", "_hours")


def kpi_name(x: Any) -> str | None:
    ok = isinstance(x, str) and (x in KPI_NAMES or (x.isidentifier() and any(
        p in x for p in KPI_PATTERNS)))  # fmt: skip
    return None if ok else f"a KPI name of kpis.json, e.g. one of {list(KPI_NAMES)}"


def level(x: Any) -> str | None:
    ok = isinstance(x, int | float) and not isinstance(x, bool) and 0.5 <= x < 1
    return None if ok else "a confidence level in [0.5, 1)"


def finite(x: Any) -> str | None:
    ok = isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
    return None if ok else "a finite number"


@dataclass
class ObjectiveConfig:
    """The KPI to optimise (a mean over worlds) and which way is better."""

    kpi: str = _f("cost_per_order", kpi_name)
    direction: str = _f("minimize", one_of(*DIRECTIONS))


@dataclass
class ConstraintConfig:
    """``kpi sense bound`` must hold with probability ``confidence`` (one-sided interval).

    ``relative: true`` compares with the status quo on the same worlds: the paired
    difference ``kpi - kpi(status quo)`` must satisfy ``sense bound`` (e.g. stars at least the status
    quo: ``sense: at_least, bound: 0, relative: true``).
    """

    kpi: str = _f("stars_mean", kpi_name)
    sense: str = _f("at_least", one_of(*SENSES))
    bound: float = _f(0.0, finite)
    relative: bool = False
    confidence: float = _f(0.9, level)


@dataclass
class RuleSpace:
    """A detection rule's window in the search: hours in [low, high] on a grid of ``step``
    hours (0: continuous), and whether the search may switch the rule off."""

    low: float = _f(12.0, positive)
    high: float = _f(96.0, positive)
    step: float = _f(6.0, nonneg)  # the tracker polls every 6 h: finer windows add nothing
    optional: bool = True


def _default_plan_menu() -> dict[str, dict[str, list[str]]]:
    return {"missing_parcel": {
        "notify_trace_refund": ["notify", "trace", "refund_if_lost"],
        "trace_reship_claim": ["trace", "reship_if_lost", "claim"],
        "reship_expedited_now": ["reship_expedited", "trace", "claim"],
        "refund_now": ["refund"],
    }}  # fmt: skip


@dataclass
class SpaceConfig:
    """What the search may change; everything else stays as composed (``detection=``,
    ``recovery=`` and any override)."""

    rules: dict[str, RuleSpace] = field(default_factory=lambda: {"no_movement": RuleSpace()})
    business_hours: bool = True  # search business-hour counting of the searched rules
    weather_hold: bool = True  # search holding the clock while the carrier reports weather
    # for each observed kind, the named plans every value tier may pick from
    plans: dict[str, dict[str, list[str]]] = field(default_factory=_default_plan_menu)
    analysts: list[int] = _f([2, 12])  # analysts per shift: [low, high]; [] = not searched


@dataclass
class BudgetConfig:
    """How much simulation the choice may cost."""

    trials: int = _f(100, int_at_least(1))  # completed trials of the search (whole study)
    worlds: int = _f(5, int_at_least(1))  # search worlds: replications 0..worlds-1, all trials
    candidates: int = _f(4, int_at_least(1))  # best feasible trials taken to the clean-up
    n0: int = _f(10, int_at_least(2))  # first stage of the clean-up (per system)
    max_worlds: int = _f(200, int_at_least(2))  # clean-up cap per system (then no guarantee)
    cleanup_first_replication: int = _f(100_000, int_at_least(0))  # fresh worlds start here


@dataclass
class DecisionConfig:
    """Objective, constraints, search space, budget and the guarantee (DESIGN §11)."""

    name: str = "default"
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    constraints: dict[str, ConstraintConfig] = field(default_factory=dict)
    status_quo: list[str] = _f(["detection=reactive", "recovery=tiered_default"])
    space: SpaceConfig = field(default_factory=SpaceConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    delta: float = _f(0.05, positive)  # indifference zone, in the objective's units
    pcs: float = _f(0.95, level)  # 1 - alpha: probability of correct selection
    sampler: str = _f("tpe", one_of(*SAMPLERS))
    sampler_seed: int = _f(0, int_at_least(0))
    stage: str = _f("all", one_of(*STAGES))  # cluster workers: search; then one cleanup
    storage: str = ""  # empty: sqlite study.db in the run folder; *.log/*.journal: journal file
    study_name: str = "exsim"


def decision_problems(d: DecisionConfig, prefix: str = "decision") -> Iterator[str]:
    """Cross-field checks (the per-field checks run with every config's)."""
    s = d.space
    for rule, rs in s.rules.items():
        where = f"{prefix}.space.rules.{rule}"
        if rule not in HOURS_RULES:
            yield f"{where}: unknown rule {rule!r}; allowed: {list(HOURS_RULES)}"
        if rs.high < rs.low:
            yield f"{where}.high = {rs.high}: must be >= low = {rs.low}"
        if rs.step > 0 and rs.step > rs.high - rs.low and rs.high > rs.low:
            yield (f"{where}.step = {rs.step}: must be <= high - low = {rs.high - rs.low} "
                   "(or 0 for a continuous window)")  # fmt: skip
    for kind, menu in s.plans.items():
        where = f"{prefix}.space.plans.{kind}"
        if kind not in OBSERVED_KINDS:
            yield f"{where}: unknown exception kind {kind!r}; allowed: {list(OBSERVED_KINDS)}"
        if not menu:
            yield f"{where} = {{}}: must name at least one plan (or remove the kind)"
        for name, plan in menu.items():
            bad = [a for a in plan if a not in ACTIONS]
            if bad:
                yield f"{where}.{name} = {list(plan)}: unknown actions {bad}; allowed: {list(ACTIONS)}"
    a = list(s.analysts)
    if a and (len(a) != 2 or not all(isinstance(x, int) and x >= 1 for x in a) or a[1] < a[0]):
        yield (f"{prefix}.space.analysts = {a}: must be [low, high], integers >= 1 with "
               "low <= high (or [] to keep the composed team)")  # fmt: skip
    b = d.budget
    if b.candidates > b.trials:
        yield (f"{prefix}.budget.candidates = {b.candidates}: must be <= budget.trials = "
               f"{b.trials}")  # fmt: skip
    if b.max_worlds < b.n0:
        yield f"{prefix}.budget.max_worlds = {b.max_worlds}: must be >= budget.n0 = {b.n0}"
    if b.cleanup_first_replication < b.worlds:
        yield (f"{prefix}.budget.cleanup_first_replication = {b.cleanup_first_replication}: "
               f"must be >= budget.worlds = {b.worlds} (clean-up worlds must be fresh)")  # fmt: skip
    if not d.status_quo:
        yield f"{prefix}.status_quo = []: must list the overrides of the status quo policy"
    for o in d.status_quo:
        if "=" not in o:
            yield f"{prefix}.status_quo: {o!r} must be an override key=value"
