"""Weather: while its region is closed a parcel neither moves nor is scanned (only the
carrier's Exception/weather notice may appear), and it resumes when the closure ends."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SEED, stress_scenario

from sim.world import simulate_world


def _scenario(events_per_month: float):
    s = stress_scenario(days=5.0)
    s.weather.events_per_region_month = [events_per_month] * 12
    s.weather.duration_days_min = 0.5
    s.weather.duration_days_max = 2.0
    s.weather.weather_scan_prob = 0.5
    return s


@pytest.fixture(scope="module")
def stormy():
    w = simulate_world(_scenario(12.0), seed=SEED)
    assert len(w.truth.closures) > 20
    return w


@pytest.fixture(scope="module")
def calm():
    w = simulate_world(_scenario(1e-9), seed=SEED)  # the same world without closures
    assert len(w.truth.closures) == 0
    return w


def _inside_closure(world, region: np.ndarray, t: np.ndarray) -> np.ndarray:
    """True where ``t`` lies strictly inside a closure of ``region``."""
    cl = world.truth.closures
    inside = np.zeros(t.size, bool)
    for r, s, e in zip(cl["region"].astype(str), cl["start"], cl["end"], strict=True):
        inside |= (region == r) & (t > s) & (t < e)
    return inside


def _advance(t: float, work: float, closed: list[tuple[float, float]]) -> float:
    """Reference: the instant ``work`` hours of movement from ``t`` are done, not moving
    while closed (closures may overlap)."""
    for s, e in sorted(closed):
        if e <= t:
            continue
        if s > t:
            if t + work <= s:
                return t + work
            work -= s - t
        t = max(t, e)
    return t + work


def test_no_scans_inside_a_closure(stormy):
    feed = stormy.observation.tracking
    in_region = feed["location"].astype(str) != "origin"
    notice = feed["sub_status"] == "weather"
    assert notice.any()
    ev = feed[in_region & ~notice]
    inside = _inside_closure(stormy, ev["location"].astype(str).to_numpy(), ev["time"].to_numpy())
    assert not inside.any(), ev[inside].head(10)


def test_no_movement_inside_a_closure(stormy):
    tr = stormy.truth.orders
    region = stormy.observation.orders["region"].astype(str).to_numpy()
    for col in ("hub_at", "first_ofd_at", "delivered_at", "returned_at"):
        t = tr[col].to_numpy()
        inside = _inside_closure(stormy, region, t)
        assert not inside.any(), (col, tr.loc[inside, ["order_id", col]].head())


def test_weather_notice_is_posted_at_the_pause(stormy):
    tr = stormy.truth.orders
    feed = stormy.observation.tracking
    notice = feed[feed["sub_status"] == "weather"].merge(
        tr[["tracking_no", "weather_first_at", "weather_paused_hours"]], on="tracking_no")
    np.testing.assert_array_equal(notice["time"], notice["weather_first_at"])
    assert (notice["weather_paused_hours"] > 0).all()


def test_parcels_resume_when_the_closure_ends(stormy, calm):
    """The line-haul to the destination hub needs the same hours of movement with or
    without weather (same seed: same draws); with weather it stops exactly for the
    closures of its region and resumes at their end."""
    a, b = stormy.truth.orders, calm.truth.orders
    np.testing.assert_array_equal(a["accepted_at"], b["accepted_at"])
    region = stormy.observation.orders["region"].astype(str).to_numpy()
    cl = stormy.truth.closures
    by_region = {r: list(zip(g["start"], g["end"], strict=True))
                 for r, g in cl.groupby(cl["region"].astype(str), observed=True)}
    both = a["hub_at"].notna() & b["hub_at"].notna()
    work = (b["hub_at"] - b["accepted_at"])[both]
    expected = np.array([
        _advance(t, w, by_region.get(r, []))
        for t, w, r in zip(a.loc[both, "accepted_at"], work, region[both], strict=True)
    ])  # fmt: skip
    paused = expected > a.loc[both, "accepted_at"].to_numpy() + work.to_numpy() + 1e-9
    assert paused.sum() > 100  # the check is not vacuous
    np.testing.assert_allclose(a.loc[both, "hub_at"], expected, rtol=0, atol=1e-6)
    # and nobody is stuck: every parcel still reaches a terminal state after the storms
    assert (a["terminal"].astype(str) == b["terminal"].astype(str)).mean() > 0.95


def test_a_calm_scenario_has_no_closures_and_negative_rates_are_refused():
    """All-zero weather rates are a valid scenario (no closures), unlike normalised weights."""
    import pytest

    import sim
    from sim.configbase import ConfigError

    calm = "scenario.weather.events_per_region_month=[0,0,0,0,0,0,0,0,0,0,0,0]"
    cfg = sim.load_config("scenario.days=3", "scenario.orders.per_day=300", calm)
    assert len(sim.run_world(cfg).truth.closures) == 0
    with pytest.raises(ConfigError, match=r"events_per_region_month .*rates >= 0"):
        sim.load_config("scenario.weather.events_per_region_month=[0,-1,0,0,0,0,0,0,0,0,0,0]")


def test_a_closure_that_outlasts_the_run_puts_no_event_at_infinity_in_the_feed():
    """Parcels held past the end of the calendar have no later scans: the feed holds only
    events that happened (before, scans 'at time inf' leaked into the observation)."""
    import numpy as np

    import sim

    cfg = sim.load_config("scenario.days=3", "scenario.orders.per_day=400",
                          "scenario.weather.events_per_region_month=[30,30,30,30,30,30,30,30,30,30,30,30]",
                          "scenario.weather.duration_days_min=30",
                          "scenario.weather.duration_days_max=60")  # fmt: skip
    world = sim.run_world(cfg)
    assert len(world.truth.closures) > 0
    assert np.isfinite(world.observation.tracking["time"].to_numpy()).all()
    held = ~np.isfinite(world.truth.orders["delivered_at"].to_numpy(dtype=float))
    assert held.sum() > 0  # the closures really kept parcels past the end
