"""Limits a config must respect before anything is simulated: size, ranges the code can
represent, windows that fit the horizon, KPI names that exist.

Why a module of its own: each field's own check (``sim.configbase``) sees one value; these
limits relate several (orders x days against memory, a polling interval against the
horizon) or guard representation limits (an int16 item count, a calendar that must end
before year 10000) that would otherwise surface late as an OverflowError, a MemoryError,
SimPy's "Negative delay" or a nonsense KPI.  Pure arithmetic on the dataclasses (no numpy),
so ``exsim`` refuses a bad config in about a second.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.config import ExsimConfig, ScenarioConfig

# Peak memory per order of one run (world + policy stage + tables): ``ru_maxrss`` of
# ``run_once`` on 10.8k vs 60.5k orders grew by 1.6 KB per order; rounded up for the
# cache and the Parquet writes (the command is in the closing note of issue 12).
BYTES_PER_ORDER = 2500
MIN_EXPECTED_ORDERS = 10  # below this a world may draw no order at all (P <= e^-10)
SEED_MAX = 2**63 - 1  # seeds are stored in int64 columns (replications.parquet)
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
DAYS_MAX = 3660.0  # ten years of orders
EXTRA_ITEMS_MAX = 100.0  # items are int16: 1 + Poisson(mean) stays far below 32767
PROMISE_DAYS_MAX = 60  # business days; the calendar drains 120 days past the last order
DURATION_HOURS_MAX = 60 * 24.0  # transit, seller handling, promise lead medians
CLOSURE_DAYS_MAX = 60.0  # a weather closure of a hub
ATTEMPTS_MAX = 10
CONTACTS_MAX = 20


def machine_memory_bytes() -> int | None:
    """Physical memory of this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def expected_orders(s: ScenarioConfig) -> float:
    """Mean number of orders of a world (the weekday profile averages to 1)."""
    return s.orders.per_day * s.orders.volume_multiplier * s.days


def _num(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x == x


def scenario_limits(s: ScenarioConfig, prefix: str = "scenario") -> Iterator[str]:
    o, w, c, wx = s.orders, s.warehouse, s.carrier, s.weather
    try:
        start = dt.date.fromisoformat(str(s.start_date))
    except ValueError:
        start = None  # reported by the field's own check
    if start is not None and not DATE_MIN <= start <= DATE_MAX:
        yield (f"{prefix}.start_date = {s.start_date!r}: must be a date between "
               f"{DATE_MIN} and {DATE_MAX}")  # fmt: skip
    if _num(s.days) and s.days > DAYS_MAX:
        yield f"{prefix}.days = {s.days!r}: must be at most {DAYS_MAX:g} (ten years)"
    if _num(o.extra_items_mean) and o.extra_items_mean > EXTRA_ITEMS_MAX:
        yield (f"{prefix}.orders.extra_items_mean = {o.extra_items_mean!r}: must be at most "
               f"{EXTRA_ITEMS_MAX:g} (items per order = 1 + Poisson(mean))")  # fmt: skip
    for k, v in o.promise_business_days.items():
        if isinstance(v, int) and v > PROMISE_DAYS_MAX:
            yield (f"{prefix}.orders.promise_business_days.{k} = {v!r}: must be at most "
                   f"{PROMISE_DAYS_MAX} business days")  # fmt: skip
    durations = {f"carrier.transit.{k}": d for k, d in c.transit.items()}
    durations["orders.promise_lead"] = o.promise_lead
    durations["warehouse.handling_delay"] = w.handling_delay
    for name, d in durations.items():
        if d is not None and _num(d.median_hours) and d.median_hours > DURATION_HOURS_MAX:
            yield (f"{prefix}.{name}.median_hours = {d.median_hours!r}: must be at most "
                   f"{DURATION_HOURS_MAX:g} hours (60 days)")  # fmt: skip
    for name in ("duration_days_min", "duration_days_max"):
        v = getattr(wx, name)
        if _num(v) and v > CLOSURE_DAYS_MAX:
            yield (f"{prefix}.weather.{name} = {v!r}: must be at most {CLOSURE_DAYS_MAX:g} "
                   "days (a hub closure)")  # fmt: skip
    if isinstance(c.max_attempts, int) and c.max_attempts > ATTEMPTS_MAX:
        yield f"{prefix}.carrier.max_attempts = {c.max_attempts}: must be at most {ATTEMPTS_MAX}"
    cm = s.customer.max_contacts
    if isinstance(cm, int) and cm > CONTACTS_MAX:
        yield f"{prefix}.customer.max_contacts = {cm}: must be at most {CONTACTS_MAX}"


def size_limits(cfg: ExsimConfig) -> Iterator[str]:
    """Zero expected orders, and more orders than the memory cap or the machine allows."""
    s = cfg.scenario
    if not all(_num(x) and x > 0 for x in (s.orders.per_day, s.orders.volume_multiplier, s.days)):
        return  # reported by the fields' own checks
    n = expected_orders(s)
    scored = n * max(s.days - cfg.warmup_days, 0.0) / s.days
    if scored < MIN_EXPECTED_ORDERS:
        yield (f"scenario: {scored:.3g} expected orders to score (scenario.orders.per_day = "
               f"{s.orders.per_day:g} x volume_multiplier = {s.orders.volume_multiplier:g} x "
               f"(scenario.days = {s.days:g} - warmup_days = {cfg.warmup_days:g})): must be at "
               f"least {MIN_EXPECTED_ORDERS}; raise scenario.days or scenario.orders.per_day")
    need = n * BYTES_PER_ORDER
    cap_gb = cfg.experiment.max_memory_gb
    machine = machine_memory_bytes()
    limits = []
    if _num(cap_gb) and cap_gb > 0:
        limits.append((cap_gb * 2**30, f"experiment.max_memory_gb = {cap_gb:g}"))
    if machine:
        limits.append((0.8 * machine, f"80 % of this machine's {machine / 2**30:.1f} GB"))
    for limit, what in limits:
        if need > limit:
            yield (f"scenario: {n:.3g} expected orders (scenario.orders.per_day = "
                   f"{s.orders.per_day:g} x volume_multiplier = {s.orders.volume_multiplier:g}"
                   f" x scenario.days = {s.days:g}) need about {need / 2**30:.1f} GB of memory "
                   f"(~{BYTES_PER_ORDER} bytes per order); allowed: {what}.  Shorten "
                   "scenario.days or lower scenario.orders.per_day"
                   + (" (or raise experiment.max_memory_gb)" if "max_memory" in what else ""))
            break


def run_limits(cfg: ExsimConfig) -> Iterator[str]:
    """Limits of a whole run config (scenario, size, seed, polling against the horizon)."""
    yield from scenario_limits(cfg.scenario)
    yield from size_limits(cfg)
    if isinstance(cfg.seed, int) and cfg.seed > SEED_MAX:
        yield f"seed = {cfg.seed}: must be an integer in [0, 2**63 - 1]"
    horizon = cfg.scenario.days * 24.0 if _num(cfg.scenario.days) else None
    d = cfg.detection
    for name in ("poll_hours", "check_every_hours"):
        v = getattr(d, name, None)
        if horizon and _num(v) and v > max(horizon, 24.0):
            yield (f"detection.{name} = {v!r}: must be at most the order horizon "
                   f"(scenario.days x 24 = {horizon:g} h) or 24 h, whichever is longer")


@cache
def kpi_names() -> tuple[str, ...]:
    """The KPI names a run reports (from a tiny world, once per process): what
    ``experiment.target_kpi`` and report options may name."""
    from sim.config import ExsimConfig
    from sim.pipeline import run_once

    cfg = ExsimConfig(progress=False, write_tables=False)
    cfg.scenario.days = 1.0
    cfg.scenario.orders.per_day = 200.0
    return tuple(run_once(cfg, 0).kpis)


def kpi_problems(field: str, name: str) -> list[str]:
    """``field = name`` is not a KPI -> one problem line listing the KPIs."""
    if not name or name in kpi_names():
        return []
    import difflib

    close = difflib.get_close_matches(name, kpi_names(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return [f"{field} = {name!r}: must be a KPI name{hint}; allowed: {sorted(kpi_names())}"]
