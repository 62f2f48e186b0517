"""The world fields added for calibrated scenarios are additive: off by default, new draws
on new streams only, validated like every other field."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sim
from sim.config import ConfigError, DurationConfig, ExsimConfig, validate
from sim.world import simulate_world


def small():
    cfg = sim.load_config("scenario.days=2", "scenario.orders.per_day=400")
    return cfg.scenario


def test_defaults_are_off_and_documented_in_baseline_yaml():
    s = ExsimConfig().scenario
    assert s.warehouse.handling_delay is None and s.orders.promise_lead is None
    assert s.orders.promise_transit_corr == 0.0 and s.carrier.delivery_round_every_hours == 0.0
    # baseline.yaml lists them with the defaults
    assert sim.load_config().scenario == ExsimConfig().scenario


def test_new_fields_leave_every_other_draw_unchanged():
    base = simulate_world(small(), seed=5).truth.orders
    s = small()
    s.warehouse.handling_delay = DurationConfig("gamma", 30.0, 2.0)
    s.orders.promise_lead = DurationConfig("lognormal", 100.0, 0.3)
    s.orders.promise_transit_corr = 0.5
    new = simulate_world(s, seed=5).truth.orders
    same = ["placed_at", "label_at", "pick_start", "mispick", "left_behind", "damaged"]
    for col in same:
        assert base[col].equals(new[col]), col
    assert (new["handoff_at"] >= base["handoff_at"]).all()
    assert not np.allclose(new["promised_at"], base["promised_at"])
    # line-haul draws are shared: accepted -> hub times equal where no weather intervened
    calm = (base["weather_paused_hours"] == 0) & (new["weather_paused_hours"] == 0)
    lh_base = (base["hub_at"] - base["accepted_at"])[calm]
    lh_new = (new["hub_at"] - new["accepted_at"])[calm]
    assert np.allclose(lh_base.dropna(), lh_new.dropna())


def test_promise_lead_correlates_with_transit():
    s = small()
    s.orders.promise_lead = DurationConfig("lognormal", 100.0, 0.3)
    s.orders.promise_transit_corr = 0.8
    w = simulate_world(s, seed=5)
    t = w.truth.orders[(w.observation.orders["service"] == "ground")
                       & (w.truth.orders["weather_paused_hours"] == 0)].dropna(subset=["hub_at"])
    r = np.corrcoef(np.log(t["promised_at"] - t["placed_at"]), np.log(t["hub_at"] - t["accepted_at"]))[0, 1]
    assert r > 0.6


def test_delivery_rounds_every_hours():
    s = small()
    s.carrier.delivery_start_hour, s.carrier.delivery_end_hour = 0.0, 24.0
    s.carrier.delivery_round_every_hours = 0.5
    s.weather.events_per_region_month = [1e-6] * 12
    s.carrier.delivery_days = [0, 1, 2, 3, 4, 5, 6]
    s.carrier.failed_attempt_prob = 0.0
    t = simulate_world(s, seed=5).truth.orders
    wait = (t["delivered_at"] - t["hub_at"]).dropna()
    assert wait.quantile(0.99) < 0.5 + 0.5 + 4 * 1.5 * np.exp(0.4 * 2.5)  # sort + round + slot


@pytest.mark.parametrize("path, value, message", [
    ("warehouse.handling_delay", DurationConfig("gamma", -1.0, 2.0), "handling_delay.median_hours"),
    ("orders.promise_lead", DurationConfig("pareto", 10.0, 2.0), "promise_lead.dist"),
    ("orders.promise_transit_corr", 1.5, "promise_transit_corr = 1.5"),
    ("carrier.delivery_round_every_hours", 30.0, "delivery_round_every_hours = 30.0"),
])  # fmt: skip
def test_new_fields_are_validated(path, value, message):
    s = dataclasses.replace(small())
    group, name = path.split(".")
    setattr(getattr(s, group), name, value)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        validate(s)


def test_late_component_delays_a_share_of_parcels_and_nothing_else():
    """carrier.late_delay_prob: that share of parcels gets the extra line-haul delay (own
    stream); every other draw, and every other parcel, is unchanged."""
    s = small()
    s.weather.events_per_region_month = [1e-6] * 12
    base = simulate_world(s, seed=5).truth.orders
    s.carrier.late_delay_prob = 0.2
    s.carrier.late_delay = DurationConfig("lognormal", 240.0, 0.3)
    new = simulate_world(s, seed=5).truth.orders
    for col in ("placed_at", "label_at", "handoff_at", "accepted_at", "promised_at", "damaged"):
        assert base[col].equals(new[col]), col
    extra = (new["hub_at"] - base["hub_at"]).dropna()
    hit = extra > 1e-9
    assert 0.15 < hit.mean() < 0.25
    assert np.median(extra[hit]) == pytest.approx(240.0, rel=0.15)
    assert (extra[~hit].abs() < 1e-9).all()


def test_late_component_is_validated():
    s = small()
    s.carrier.late_delay_prob = 1.5
    with pytest.raises(ConfigError, match="late_delay_prob = 1.5"):
        validate(s)
