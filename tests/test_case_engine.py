"""The fast case engine against the SimPy reference team, and the team against Erlang C.

Equivalence is exact, not statistical: the fast engine replays the reference's event
order, so on the same world and seed both must give the same cases, alerts, actions,
outcome tables and KPIs, for every detection preset x recovery preset x scenario below —
including a storm that floods a one-analyst team and leaves a backlog at the end.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from policies.cases import open_cases, work_cases_fast
from policies.config import RecoveryConfig, TierConfig
from sim.api import load_config
from sim.pipeline import evaluate_many, polled_feed, run_once
from sim.world import simulate_world

DETECTION = ("reactive", "no_movement_48h", "no_movement_24h", "industry_default")
RECOVERY = ("tiered_default", "reship_expedited_all", "refund_only", "notify_only")
SCENARIOS = {
    # a small everyday world: the team keeps up, ties on the hour grid abound
    "everyday": ("scenario=baseline", "scenario.days=3", "scenario.orders.per_day=500"),
    # a storm that floods the team: one analyst on Mondays, 80 h triages, against
    # weeks of stalled parcels; work is still queued when the simulation ends
    "storm_flood": ("scenario=winter_storm", "scenario.days=3", "scenario.orders.per_day=600",
                    "scenario.weather.events_per_region_month=[6,6,6,6,6,6,6,6,6,6,6,6]",
                    "recovery.team.analysts=1", "recovery.team.operating_days=[0]",
                    "recovery.team.handling_median_hours=80",
                    # the loss rates before the defaults moved into the public 0.5-1 % range
                    "scenario.carrier.loss_prob_per_leg=0.002",
                    "scenario.carrier.left_behind_prob=0.002"),
}


@cache
def _config(scenario: str, detection: str, recovery: str, engine: str):
    return load_config(*SCENARIOS[scenario], f"detection={detection}", f"recovery={recovery}",
                       f"recovery.engine={engine}")


@cache
def _world(scenario: str):
    return simulate_world(_config(scenario, "reactive", "tiered_default", "fast"))


def _assert_same(ref, fast) -> None:
    assert ref.tables.keys() == fast.tables.keys()
    for name in ref.tables:
        pd.testing.assert_frame_equal(ref.tables[name], fast.tables[name], obj=name)
    assert ref.kpis.keys() == fast.kpis.keys()
    for k, v in ref.kpis.items():
        assert v == fast.kpis[k] or (math.isnan(v) and math.isnan(fast.kpis[k])), k


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("detection", DETECTION)
def test_fast_engine_equals_the_simpy_reference(scenario, detection):
    """Each detection preset with two recovery presets (rotating, so that every recovery
    preset meets two detection presets per scenario): 16 settings, both engines."""
    world = _world(scenario)
    i = DETECTION.index(detection)
    for recovery in (RECOVERY[i], RECOVERY[(i + 1) % len(RECOVERY)]):
        ref = run_once(_config(scenario, detection, recovery, "simpy"), 0, world)
        fast = run_once(_config(scenario, detection, recovery, "fast"), 0, world)
        _assert_same(ref, fast)


def test_the_storm_floods_the_team_and_leaves_a_backlog():
    """The storm case of the matrix really exercises a flooded queue (else the
    equivalence above would not cover it)."""
    r = run_once(_config("storm_flood", "reactive", "reship_expedited_all", "fast"), 0,
                 _world("storm_flood"))  # one of the matrix's settings
    cases = r.tables["cases"]
    assert (cases["close_reason"] == "backlog_at_end").sum() >= 5
    waited = cases["first_handled_at"] - cases["opened_at"]
    assert waited.max() > 24.0 * 60  # two months' wait: the analyst is the bottleneck


def test_evaluate_many_equals_one_run_per_config_and_shares_the_feed():
    world = _world("everyday")
    cfgs = [_config("everyday", d, "tiered_default", "fast") for d in DETECTION[:3]]
    many = evaluate_many(world, cfgs)
    for cfg, got in zip(cfgs, many, strict=True):
        _assert_same(run_once(cfg, 0, world), got)
    _, a = polled_feed(world, 6.0)
    _, b = polled_feed(world, 6.0)
    assert a is b  # one polled feed per (world, poll interval)
    _, c = polled_feed(world, 3.0)
    assert c is not a


def test_cases_open_on_the_first_alert_per_order_and_family():
    alerts = pd.DataFrame({
        "order_id": [7, 7, 3, 7, 3, 7], "time": [1.0, 2.0, 2.0, 3.0, 4.0, 50.0],
        "rule": ["r"] * 6,
        "kind": ["missing_parcel", "weather", "damaged", "mispick", "mispick",
                 "failed_delivery"],
    })  # fmt: skip
    opener, case_of, opened = open_cases(alerts)
    # order 7: parcel family opens at row 0 (rows 1, 5 merge), item family at row 3;
    # order 3: item family opens at row 2 (row 4 merges)
    assert opener.tolist() == [0, 2, 3]
    assert case_of.tolist() == [0, 0, 1, 2, 1, 0]
    assert opened.tolist() == [True, False, True, True, False, False]


# --- the team against queueing theory --------------------------------------------------


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """P(wait) and mean wait in queue Wq of an M/M/c queue (Erlang C)."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait, p_wait / (c * mu - lam)


class _NoDesk:
    """A desk that answers nothing: the plan below has no carrier step."""

    def trace_delays(self, order_ids):
        return np.zeros(len(order_ids))

    def trace_found(self, order_ids, at):
        return np.ones(len(order_ids), dtype=bool)

    def record_many(self, *args) -> None:
        return None


def _mmc_run(lam: float, mu: float, c: int, hours: float, seed: int) -> tuple[float, ...]:
    """One replication of an M/M/c team: Poisson alerts for ``hours``, one triage of
    exponential hours each, ``c`` analysts on duty around the clock.  Returns the mean
    wait and the share that waited of the cases opened after a warm-up of hours / 20,
    and the realised load (arrival rate x mean service / c), whose expectation is rho."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(lam * hours)
    times = np.sort(rng.uniform(0.0, hours, n))
    service = rng.exponential(1.0 / mu, n)
    alerts = pd.DataFrame({"order_id": np.arange(n), "time": times, "rule": "customer_contact",
                           "kind": "damaged"})  # item family: no feed checks
    orders = pd.DataFrame({"order_id": np.arange(n), "value": np.full(n, 10.0)})
    plan = {k: [] for k in ("missing_parcel", "weather", "failed_delivery", "mispick")}
    cfg = RecoveryConfig(tiers=[TierConfig(0.0, math.inf, {**plan, "damaged": ["refund"]})])
    rota = [np.array([[0.0, 2 * hours]]) for _ in range(c)]
    res = work_cases_fast(alerts, orders, np.full(n, np.inf),
                          lambda rows, t: np.full(len(rows), np.inf), cfg, _NoDesk(), rota,
                          service, 2 * hours, (0.0, hours))
    cases = res.cases[res.cases["opened_at"] >= hours / 20]
    wait = (cases["first_handled_at"] - cases["opened_at"]).to_numpy()
    return wait.mean(), (wait > 0).mean(), n / hours * service.mean() / c


# (rho, simulated hours per replication, largest interval half-width as a share of theory):
# at rho 0.95 the mean wait converges slowly (relaxation ~ 1 / (c mu (1 - sqrt rho)^2));
# a 5 % half-width there needs ~4x the simulated time (~25 s CPU), so it is held to 10 %
# for Wq (P(wait) stays under 1 %).
ERLANG_LOADS = [(0.5, 20_000.0, 0.05), (0.8, 26_000.0, 0.05), (0.95, 60_000.0, 0.10)]


@pytest.mark.parametrize(("rho", "hours", "precision"), ERLANG_LOADS)
def test_team_matches_erlang_c(rho, hours, precision):
    """Wq and P(wait) of the team within 99 % intervals over 10 replications (6 checks:
    family-wise level at most 6 %).  The realised load is a control variate with a known
    mean (rho), which halves the interval at high load; each half-width is under
    ``precision`` x theory, so an error of that size in the queue would be caught."""
    c, mu = 4, 1.0  # analysts; tasks per analyst-hour
    lam = rho * c * mu
    p_theory, wq_theory = erlang_c(lam, mu, c)
    runs = np.array([_mmc_run(lam, mu, c, hours, seed) for seed in range(10)])
    load = runs[:, 2]
    for name, y, theory in (("Wq", runs[:, 0], wq_theory), ("P(wait)", runs[:, 1], p_theory)):
        fit = stats.linregress(load - rho, y)  # y = mean + slope * (load - rho)
        dof = y.size - 2
        half = stats.t.ppf(0.995, dof) * fit.intercept_stderr
        lo, hi = fit.intercept - half, fit.intercept + half
        assert lo <= theory <= hi, f"rho {rho}: {name} {theory:.4f} outside [{lo:.4f}, {hi:.4f}]"
        assert half < precision * theory, (f"rho {rho}: {name} half-width {half / theory:.1%} "
                                           f">= {precision:.0%}")
