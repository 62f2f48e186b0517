"""Statistics of the experiment layer: intervals, coverage, automatic N, pairing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from exp_helpers import TINY
from scipy import stats

import sim
from sim.config import ExperimentConfig
from sim.configbase import ConfigError
from sim.experiment import compare, paired_diff, replicate, summarize, t_interval, welch_diff
from sim.experiment.core import half_width, sequential_n
from sim.pipeline import RunResult
from sim.world.calendar import Calendar
from sim.world.orders import hourly_rate


def test_t_interval_matches_scipy():
    x = np.array([3.1, 2.7, 3.9, 3.3, 2.2, 3.0])
    s = t_interval(x, 0.95)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert s["n"] == 6 and s["mean"] == pytest.approx(x.mean())
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((lo, hi))
    assert s["sd"] == pytest.approx(x.std(ddof=1))


def test_one_replication_has_no_interval():
    s = t_interval([5.0])
    assert s["n"] == 1 and s["mean"] == 5.0 and math.isnan(s["half_width"])


def test_paired_and_welch_differences():
    a = pd.Series([1.0, 2.0, 3.0, 4.0])
    b = a + 0.5 + pd.Series([0.01, -0.01, 0.02, -0.02])
    p = paired_diff(a, b)
    assert p["significant"] and p["diff"] == pytest.approx(0.5)
    assert p["diff_low"] < 0.5 < p["diff_high"]
    w = welch_diff(a, b)  # the same numbers as independent samples: hopelessly wide
    assert not w["significant"] and w["diff_half_width"] > 10 * p["diff_half_width"]
    same = paired_diff(a, a)
    assert same["diff"] == 0 and not same["significant"] and same["p_value"] == 1.0


def test_ci_covers_known_mean_about_95_percent():
    """The orders count of a world is Poisson with mean = integral of the rate profile.

    300 experiments of N = 5 replications each: the 95 % t-interval must cover that mean
    in a share of experiments consistent with 0.95 (two-sided binomial 99.9 % band).  A
    normal (z) interval instead of t would cover ~88 % and fail."""
    cfg = sim.load_config("scenario.days=1", "scenario.orders.per_day=100", "progress=false")
    sc = cfg.scenario
    truth = hourly_rate(sc.orders, Calendar(sc.start_date, 10), sc.days).sum()
    m, n = 300, 5

    def orders_only(cfg, r, world):  # the world is all this KPI needs: skip the policy stage
        return RunResult(cfg.seed, r, {"orders": float(len(world.truth.orders))})

    covered = 0
    for k in range(m):
        reps = replicate(cfg, n, first=k * n, progress=False, run=orders_only)
        s = reps.summary().loc["orders"]
        assert s["n"] == n
        covered += s["ci_low"] <= truth <= s["ci_high"]
    lo, hi = stats.binom.ppf([0.0005, 0.9995], m, 0.95)
    assert lo <= covered <= hi, f"coverage {covered}/{m}, expected within [{lo}, {hi}]"


def test_auto_n_grows_until_precise():
    cfg = sim.load_config(*TINY, "replications=3", "experiment.target_kpi=on_time_share",
                          "experiment.rel_precision=0.004", "experiment.max_replications=40",
                          "experiment.min_replications=4")
    reps = replicate(cfg)
    s = reps.summary().loc["on_time_share"]
    assert 4 <= reps.n <= 40
    assert s["half_width"] <= 0.004 * s["mean"] or reps.n == 40
    if reps.n > 4:  # one fewer replication was not yet precise enough
        prev = summarize(reps.reps.iloc[:-1], ["on_time_share"]).iloc[0]
        assert prev["half_width"] > 0.004 * prev["mean"]
    capped = replicate(sim.load_config(*TINY, "replications=2", "experiment.target_kpi=orders",
                                       "experiment.rel_precision=1e-9",
                                       "experiment.max_replications=4"))
    assert capped.n == 4
    with pytest.raises(ConfigError, match="must be a KPI name"):  # refused before any world
        sim.load_config(*TINY, "replications=2", "experiment.target_kpi=nope")


def test_auto_n_starts_at_the_minimum():
    """A stream precise from N = 2 on (constant) still runs the minimum start; the cap wins."""
    calls = []

    def step(i: int) -> float:
        calls.append(i)
        return 5.0

    assert ExperimentConfig().min_replications == 10
    assert sequential_n(step, 10, 100, 0.01, 0.95) == 10 and calls == list(range(10))
    assert sequential_n(lambda i: 5.0, 10, 6, 0.01, 0.95) == 6


def test_stopping_half_width_is_the_reported_interval():
    x = list(np.random.default_rng(3).lognormal(2.0, 0.7, 17))
    assert half_width(x, 0.9) == pytest.approx(t_interval(x, 0.9)["half_width"], rel=1e-12)


def _auto_n_coverage(start: int, m: int = 600) -> tuple[int, float]:
    """m experiments of the automatic N on a synthetic KPI stream (normal, mean 10, sd 3,
    target +-14 %: N ~ 19 on average) through :func:`sequential_n`; returns how many final
    95 % intervals cover the true mean, and the mean N."""
    rng = np.random.default_rng(20261128)
    covered, ns = 0, []
    for _ in range(m):
        xs = rng.normal(10.0, 3.0, 300)
        n = sequential_n(lambda i, xs=xs: xs[i], start, 300, 0.14, 0.95)
        s = t_interval(xs[:n], 0.95)
        covered += s["ci_low"] <= 10.0 <= s["ci_high"]
        ns.append(n)
    return covered, float(np.mean(ns))


def test_auto_n_with_a_minimum_start_covers():
    """Stopping at the first N whose interval looks narrow enough undercovers: from N = 2 a
    lucky small sd stops early (measured ~0.89).  From the default minimum start (10) the
    final interval covers the mean consistently with >= 0.94 (99 % binomial interval from
    scipy's binomtest), and the old rule is shown to fail that same check."""
    m = 600
    start = ExperimentConfig().min_replications
    covered, mean_n = _auto_n_coverage(start, m)
    ci = stats.binomtest(covered, m).proportion_ci(0.99)
    assert mean_n > start + 5  # the rule, not the minimum, decides N here
    assert ci.high >= 0.94, f"coverage {covered / m:.3f}, 99 % CI [{ci.low:.3f}, {ci.high:.3f}]"
    old, _ = _auto_n_coverage(2, m)
    old_ci = stats.binomtest(old, m).proportion_ci(0.99)
    assert old_ci.high < 0.94, f"start 2: coverage {old / m:.3f} (the check must be able to fail)"


def test_settings_sharing_a_world_simulate_it_once():
    """A and B differ in nothing the world depends on: both run on the same N worlds."""
    from sim.experiment import WorldCache

    a = sim.load_config(*TINY, "write_tables=true")
    b = sim.load_config(*TINY, "write_tables=false")
    cache = WorldCache(None, memory=1)
    c = compare(a, b, 4, cache=cache)
    assert c.shared_worlds and c.paired
    assert cache.misses == 4 and cache.hits == 4
    assert (c.a.reps["world_key"] == c.b.reps["world_key"]).all()
    assert (c.diff["diff"] == 0).all()


def test_paired_ci_narrower_than_independent():
    """Common random numbers: a change of the missed-scan rate evaluated on paired
    replications has a much narrower CI than the same comparison on independent worlds."""
    a = sim.load_config(*TINY, "detection=reactive", "scenario.carrier.scan_miss_prob=0.01")
    b = sim.load_config(*TINY, "detection=reactive", "scenario.carrier.scan_miss_prob=0.08")
    paired = compare(a, b, 8)
    indep = compare(a, b, 8, independent=True)
    assert not paired.shared_worlds  # the scenario differs: same random numbers, not same world
    k = "contacts_per_order"
    hp, hi = paired.diff.loc[k, "diff_half_width"], indep.diff.loc[k, "diff_half_width"]
    assert hp < 0.5 * hi, (hp, hi)
    assert paired.diff.loc[k, "significant"]


def test_paired_ci_narrower_for_detection_windows():
    """The real question: 24 h vs 48 h no-movement rule on the same worlds."""
    a = sim.load_config(*TINY, "detection=no_movement_24h")
    b = sim.load_config(*TINY, "detection=no_movement_48h")
    paired = compare(a, b, 8)
    indep = compare(a, b, 8, independent=True)
    assert paired.shared_worlds
    for k in ("alerts_per_day", "cost_per_order"):
        assert paired.diff.loc[k, "diff_half_width"] < indep.diff.loc[k, "diff_half_width"], k
