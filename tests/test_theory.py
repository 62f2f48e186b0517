"""The model against queueing and Poisson theory."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from sim.config import ScenarioConfig, ShiftConfig
from sim.world import simulate_world


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of an M/M/c queue (Erlang C)."""
    a = lam / mu
    rho = a / c
    assert rho < 1
    terms = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (terms + top)
    return p_wait / (c * mu - lam)


def mmc_scenario(per_day: float, pickers: int, minutes: float, days: float) -> ScenarioConfig:
    s = ScenarioConfig(name="mmc", days=days)
    s.orders.per_day = per_day
    s.orders.hour_profile = [1.0] * 24
    s.orders.weekday_profile = [1.0] * 7
    s.orders.extra_items_mean = 0.0
    w = s.warehouse
    w.shifts = [ShiftConfig(0.0, 24.0, pickers)]
    w.operating_days = list(range(7))
    w.pick_time_dist = "exponential"
    w.pick_minutes_base = minutes
    w.mispick_prob = 0.0
    return s


def test_picking_station_matches_erlang_c():
    per_day, c, minutes = 2000.0, 7, 4.0
    lam, mu = per_day / 24.0, 60.0 / minutes  # per hour; rho = 0.79
    expected = erlang_c_wait(lam, mu, c)
    warmup = 6.0  # hours; the station starts empty
    s = mmc_scenario(per_day, c, minutes, days=2.0)
    means, services = [], []
    for rep in range(30):
        tr = simulate_world(s, seed=11, replication=rep).truth.orders
        keep = tr["placed_at"] >= warmup
        means.append((tr["pick_start"] - tr["placed_at"])[keep].mean())
        services.append((tr["pick_end"] - tr["pick_start"])[keep].mean())
    means = np.asarray(means)
    lo, hi = stats.t.interval(0.99, len(means) - 1, loc=means.mean(), scale=stats.sem(means))
    assert lo <= expected <= hi, f"Erlang C wait {expected:.5f} h outside 99% CI [{lo:.5f}, {hi:.5f}]"
    lo, hi = stats.t.interval(0.99, len(services) - 1, loc=np.mean(services),
                              scale=stats.sem(services))
    assert lo <= 1 / mu <= hi


def test_erlang_c_helper_against_known_value():
    # M/M/1: Wq = rho / (mu - lam)
    assert math.isclose(erlang_c_wait(0.5, 1.0, 1), 1.0)
    # M/M/2, lam=1, mu=1: P(wait) = 1/3, Wq = 1/3
    assert math.isclose(erlang_c_wait(1.0, 1.0, 2), 1 / 3)


def test_arrivals_follow_the_rate_profile(world, scenario):
    o = scenario.orders
    hours = int(scenario.days * 24)
    hw = np.asarray(o.hour_profile) / np.mean(o.hour_profile)
    ww = np.asarray(o.weekday_profile) / np.mean(o.weekday_profile)
    weekday = world.calendar.weekday
    h = np.arange(hours)
    expected = o.per_day * o.volume_multiplier / 24 * hw[h % 24] * ww[weekday[h // 24]]
    observed = np.bincount(np.floor(world.truth.orders["placed_at"]).astype(int),
                           minlength=hours)
    assert observed.size == hours
    # independent Poisson counts per hour: Pearson statistic ~ chi2(hours)
    x2 = ((observed - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(x2, hours) > 0.01, x2
    # shape by hour of day (conditional on the total)
    by_hour = observed.reshape(-1, 24).sum(axis=0)
    exp_hour = expected.reshape(-1, 24).sum(axis=0)
    res = stats.chisquare(by_hour, exp_hour * by_hour.sum() / exp_hour.sum())
    assert res.pvalue > 0.01
    # the total: Poisson 99 % interval
    lo, hi = stats.poisson.interval(0.99, expected.sum())
    assert lo <= observed.sum() <= hi
