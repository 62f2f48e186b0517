"""Property tests: any config drawn around the schema's ranges either validates and then
runs (a tiny world whose orders are all conserved), or is refused with our ConfigError --
never another exception; dates round-trip through the config and the calendar."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import ConfigError, ExsimConfig, validate
from sim.configbase import iso_date
from sim.limits import DATE_MAX, DATE_MIN
from sim.pipeline import run_once
from sim.world import TERMINALS, simulate_world
from sim.world.calendar import Calendar


def _around(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Values inside [lo, hi] and a margin outside it (where the checks must bite)."""
    span = hi - lo
    return st.one_of(st.floats(lo, hi), st.floats(lo - span, hi + span),
                     st.sampled_from([lo, hi, 0.0, -1.0, float("inf"), float("nan")]))  # fmt: skip


# (inside the schema's ranges, around and beyond them); tiny worlds: <= 3 days x 400 orders
RANGES = {
    "seed": (st.integers(0, 2**63 - 1), st.integers(-3, 2**64)),
    "days": (st.floats(0.5, 3.0), _around(0.5, 3.0)),
    "per_day": (st.floats(50.0, 400.0), _around(50.0, 400.0)),
    "warmup": (st.floats(0.0, 0.4), _around(0.0, 1.0)),
    "start_date": (st.dates(DATE_MIN, DATE_MAX).map(dt.date.isoformat),
                   st.one_of(st.dates(dt.date(1800, 1, 1), dt.date(2400, 12, 31))
                             .map(dt.date.isoformat),
                             st.sampled_from(["2026-02-30", "tomorrow", "", "2026-1-5"]))),
    "extra_items_mean": (st.floats(0.0, 100.0), _around(0.0, 100.0)),
    "mispick_prob": (st.floats(0.0, 1.0), _around(0.0, 1.0)),
    "scan_miss_prob": (st.floats(0.0, 1.0), _around(0.0, 1.0)),
    "loss_prob_per_leg": (st.floats(0.0, 0.3), _around(0.0, 0.3)),
    "max_attempts": (st.integers(1, 10), st.integers(-1, 12)),
    "closure_days": (st.floats(3.0, 60.0), _around(1.0, 60.0)),
    "events": (st.floats(0.01, 5.0), _around(0.0, 5.0)),  # weights: not all zero
    "poll_hours": (st.floats(0.5, 24.0), _around(0.5, 48.0)),
}  # fmt: skip
INSIDE = st.fixed_dictionaries({k: v[0] for k, v in RANGES.items()})
ANYWHERE = st.fixed_dictionaries({k: v[1] for k, v in RANGES.items()})


def _config(d: dict) -> ExsimConfig:
    cfg = ExsimConfig(seed=d["seed"], progress=False, write_tables=False,
                      warmup_days=d["warmup"])  # fmt: skip
    s = cfg.scenario
    s.days, s.start_date = d["days"], d["start_date"]
    s.orders.per_day, s.orders.extra_items_mean = d["per_day"], d["extra_items_mean"]
    s.warehouse.mispick_prob = d["mispick_prob"]
    s.carrier.scan_miss_prob, s.carrier.loss_prob_per_leg = d["scan_miss_prob"], d["loss_prob_per_leg"]
    s.carrier.max_attempts = d["max_attempts"]
    s.weather.duration_days_max = d["closure_days"]
    s.weather.events_per_region_month = [d["events"]] * 12
    cfg.detection.poll_hours = d["poll_hours"]
    return cfg


def _runs_conserved(cfg: ExsimConfig) -> None:
    w = simulate_world(cfg)
    res = run_once(cfg, 0, w)
    t = w.truth.orders
    assert 0 < res.kpis["orders"] <= len(t) == len(res.tables["outcomes"])
    assert t["terminal"].notna().all() and set(t["terminal"].astype(str)) <= set(TERMINALS)
    assert w.observation.tracking["tracking_no"].isin(w.observation.orders["tracking_no"]).all()
    assert w.observation.contacts["order_id"].isin(w.observation.orders["order_id"]).all()
    assert np.isfinite(res.kpis["cost_per_order"]) and res.kpis["cost_per_order"] >= 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INSIDE)
def test_a_config_inside_the_ranges_validates_and_runs_conserved(d):
    cfg = _config(d)
    validate(cfg)
    _runs_conserved(cfg)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANYWHERE)
def test_any_drawn_config_runs_conserved_or_raises_config_error(d):
    cfg = _config(d)
    try:
        validate(cfg)
    except ConfigError as err:  # the only exception allowed, one line per problem
        assert err.problems and all(isinstance(p, str) and p for p in err.problems)
        return
    _runs_conserved(cfg)


@given(st.dates(DATE_MIN, DATE_MAX))
def test_dates_round_trip(d):
    text = d.isoformat()
    assert iso_date(text) is None
    cal = Calendar(text, 3)
    assert cal.start == d
    assert cal.to_datetime(np.array([0.0]))[0] == np.datetime64(text, "s")
    assert cal.weekday[0] == d.weekday()


@given(st.text(max_size=12))
def test_any_date_text_is_accepted_or_refused_with_a_message(text):
    msg = iso_date(text)
    if msg is None:
        assert dt.date.fromisoformat(text).isoformat()  # it really is a date
    else:
        assert msg == "a date as YYYY-MM-DD"
