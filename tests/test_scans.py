"""The two silent handoff failures: a missed acceptance scan and a left-behind parcel."""

from __future__ import annotations

import pytest
from conftest import SEED, stress_scenario

from sim.world import simulate_world


@pytest.fixture(scope="module")
def world():
    s = stress_scenario(days=3.0)
    c = s.carrier
    c.missed_acceptance_scan_prob = 0.3
    c.left_behind_prob = 0.05
    c.scan_miss_prob = 0.0  # every later scan is posted
    s.weather.weather_scan_prob = 0.0  # no weather notice can come first
    return simulate_world(s, seed=SEED)


def _first_events(world):
    feed = world.observation.tracking.sort_values(["tracking_no", "time"], kind="stable")
    first = feed.groupby("tracking_no", observed=True).head(1).set_index("tracking_no")
    tr = world.truth.orders.set_index("tracking_no")
    return first.join(tr, how="right")


def test_missed_acceptance_scan_first_event_is_a_later_hub_scan(world):
    f = _first_events(world)
    missed = f["missed_acceptance_scan"]
    assert missed.sum() > 300
    reached_hub = f["hub_at"].notna()
    m = missed & reached_hub
    # the first event is a later facility scan on the way (or the destination hub's)
    assert f.loc[m, "sub_status"].isin(["in_transit", "arrived_at_hub"]).all()
    assert (f.loc[m, "time"] > f.loc[m, "accepted_at"]).all()
    assert (f.loc[m, "time"] <= f.loc[m, "hub_at"]).all()
    hub_first = m & (f["sub_status"] == "arrived_at_hub")
    assert hub_first.sum() > 30  # short line-hauls: no facility scan before the hub
    assert (f.loc[hub_first, "time"] == f.loc[hub_first, "hub_at"]).all()
    assert (f.loc[m, "location"].astype(str) != "origin").all()
    # the parcel did move: accepted by the carrier, just not scanned
    assert (f.loc[missed, "accepted_at"] >= f.loc[missed, "handoff_at"]).all()
    # lost before the destination hub: at most facility scans before the loss
    lost_early = missed & ~reached_hub & f["time"].notna()
    assert (f.loc[lost_early, "sub_status"] == "in_transit").all()
    assert (f.loc[lost_early, "time"] < f.loc[lost_early, "lost_at"]).all()
    # a scanned acceptance is the first event, at the origin
    ok = ~missed & ~f["left_behind"]
    assert (f.loc[ok, "sub_status"] == "accepted").all()
    assert (f.loc[ok, "time"] == f.loc[ok, "accepted_at"]).all()
    assert (f.loc[ok, "location"].astype(str) == "origin").all()


def test_left_behind_has_no_event_at_all(world):
    f = _first_events(world)
    left = f["left_behind"]
    assert left.sum() > 100
    assert f.loc[left, "time"].isna().all()
    tr = world.truth.orders
    lb = tr[tr["left_behind"]]
    assert lb[["accepted_at", "hub_at", "first_ofd_at", "delivered_at"]].isna().all().all()
    assert (lb["terminal"] == "never_received").all()
    # the order system still believes they were handed over (labelled, pickup scheduled)
    orders = world.observation.orders.set_index("tracking_no").loc[lb["tracking_no"]]
    assert orders["handed_over_at"].notna().all()
