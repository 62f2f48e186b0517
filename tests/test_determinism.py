"""Determinism and stream independence (common random numbers)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import SEED, stress_scenario

from sim.world import simulate_world


def _short():
    return stress_scenario(days=3.0)


@pytest.fixture(scope="module")
def reference():
    return simulate_world(_short(), seed=SEED)


def test_same_seed_gives_identical_tables(reference):
    again = simulate_world(_short(), seed=SEED)
    for name, df in reference.tables().items():
        pd.testing.assert_frame_equal(df, again.tables()[name], check_exact=True, obj=name)
    pd.testing.assert_frame_equal(reference.truth.closures, again.truth.closures,
                                  check_exact=True)
    pd.testing.assert_frame_equal(reference.observation.alerts, again.observation.alerts,
                                  check_exact=True)


def test_other_seed_or_replication_gives_other_tables(reference):
    for other in (simulate_world(_short(), seed=SEED + 1),
                  simulate_world(_short(), seed=SEED, replication=1)):
        a, b = reference.observation.orders, other.observation.orders
        if len(a) == len(b):
            assert not np.array_equal(a["placed_at"], b["placed_at"])
        assert not np.array_equal(a["value"].head(100), b["value"].head(100))


def _pick_times(world) -> pd.Series:
    tr = world.truth.orders
    return tr["pick_end"] - tr["pick_start"]


def test_weather_change_leaves_pick_times_unchanged(reference):
    s = _short()
    s.weather.events_per_region_month = [9.0] * 12
    s.weather.weather_scan_prob = 0.1
    stormy = simulate_world(s, seed=SEED)
    # the change did change the world ...
    assert len(stormy.truth.closures) > len(reference.truth.closures)
    assert not np.array_equal(stormy.truth.orders["delivered_at"],
                              reference.truth.orders["delivered_at"], equal_nan=True)
    # ... but not the warehouse
    pd.testing.assert_series_equal(_pick_times(stormy), _pick_times(reference), check_exact=True)
    for col in ("placed_at", "pick_start", "label_at", "handoff_at", "mispick"):
        pd.testing.assert_series_equal(stormy.truth.orders[col], reference.truth.orders[col],
                                       check_exact=True)


def test_carrier_change_leaves_orders_unchanged(reference):
    s = _short()
    c = s.carrier
    c.loss_prob_per_leg = 0.1
    c.scan_miss_prob = 0.2
    c.transit = {k: dataclasses.replace(d, median_hours=2 * d.median_hours)
                 for k, d in c.transit.items()}
    slow = simulate_world(s, seed=SEED)
    assert not np.array_equal(slow.truth.orders["delivered_at"],
                              reference.truth.orders["delivered_at"], equal_nan=True)
    pd.testing.assert_frame_equal(slow.observation.orders, reference.observation.orders,
                                  check_exact=True)
    pd.testing.assert_series_equal(_pick_times(slow), _pick_times(reference), check_exact=True)


def test_warehouse_change_leaves_carrier_draws_unchanged(reference):
    """More pickers move labels earlier, but per-parcel carrier luck stays with the parcel."""
    s = _short()
    for sh in s.warehouse.shifts:
        sh.pickers += 20
    fast = simulate_world(s, seed=SEED)
    a, b = fast.truth.orders, reference.truth.orders
    assert not np.array_equal(a["pick_start"], b["pick_start"])
    for col in ("left_behind", "missed_acceptance_scan", "lost_leg", "damaged"):
        pd.testing.assert_series_equal(a[col], b[col], check_exact=True)
    pd.testing.assert_series_equal(a["accepted_at"] - a["handoff_at"],
                                   b["accepted_at"] - b["handoff_at"], check_exact=False,
                                   rtol=0, atol=1e-9)
