"""Shared fixtures: small worlds with rates raised so that statistical checks have power.

Worlds are built from the dataclass configs directly (no Hydra compose) to keep the suite
fast; ``test_config_errors`` and ``test_baseline_yaml`` cover the Hydra side.
"""

from __future__ import annotations

import pytest

from sim.config import ScenarioConfig
from sim.world import World, simulate_world

SEED = 20261126


def stress_scenario(**top) -> ScenarioConfig:
    """A 7-day, ~2,000 orders/day scenario whose exception rates are raised for power."""
    s = ScenarioConfig(name="stress", days=7.0)
    s.orders.per_day = 2000.0
    w, c, wx = s.warehouse, s.carrier, s.weather
    w.mispick_prob = 0.05
    c.left_behind_prob = 0.02
    c.missed_acceptance_scan_prob = 0.05
    c.scan_miss_prob = 0.05
    c.loss_prob_per_leg = 0.02
    c.damage_prob = 0.03
    c.failed_attempt_prob = 0.10
    wx.events_per_region_month = [3.0] * 12
    for k, v in top.items():
        setattr(s, k, v)
    return s


@pytest.fixture(scope="session")
def scenario() -> ScenarioConfig:
    return stress_scenario()


@pytest.fixture(scope="session")
def world(scenario) -> World:
    """The shared world of the structural and rate tests (do not mutate its tables)."""
    return simulate_world(scenario, seed=SEED)
