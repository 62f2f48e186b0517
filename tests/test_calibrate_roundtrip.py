"""Round trip: simulate a world with known parameters, export its order history and tracking
feed as CSV, calibrate, and recover the parameters within their bootstrap CIs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from sim.api import CONF_DIR, to_config
from sim.calibrate import calibrate, load_settings
from sim.calibrate.cli import main
from sim.calibrate.estimate import wilson
from sim.calibrate.export import export_world
from sim.calibrate.scenario import to_scenario
from sim.config import DurationConfig, register_configs
from sim.world import simulate_world

TRUE = {
    "handling": DurationConfig("gamma", 30.0, 2.0),
    "linehaul": DurationConfig("weibull", 60.0, 1.8),
    "promise": DurationConfig("lognormal", 140.0, 0.3),
    "acceptance_median": 3.0, "acceptance_sigma": 0.5,
    "missed_acceptance": 0.03, "left_behind": 0.01,
}  # fmt: skip
EVERY = [float(h) for h in np.arange(0, 24, 0.25)]
ALL = [0, 1, 2, 3, 4, 5, 6]


def known_scenario():
    t = TRUE
    return to_scenario({
        "name": "roundtrip", "start_date": "2026-03-02", "days": 16,
        "orders": {"per_day": 280, "service_mix": {"ground": 1, "two_day": 0, "next_day": 0},
                   "promise_lead": vars(t["promise"]), "promise_transit_corr": 0.4},
        "warehouse": {"shifts": [{"start_hour": 0, "end_hour": 24, "pickers": 20}],
                      "operating_days": ALL, "handling_delay": vars(t["handling"])},
        "carrier": {"pickup_hours": EVERY, "pickup_days": ALL, "cutoff_minutes": 0,
                    "acceptance_lag_median_hours": t["acceptance_median"],
                    "acceptance_lag_sigma": t["acceptance_sigma"],
                    "transit": {k: vars(t["linehaul"]) for k in ("ground", "two_day", "next_day")},
                    "sort_median_hours": 0.01, "sort_sigma": 0.0, "delivery_days": ALL,
                    "delivery_start_hour": 0, "delivery_end_hour": 24,
                    "delivery_round_every_hours": 0.25, "failed_attempt_prob": 0.0,
                    "missed_acceptance_scan_prob": t["missed_acceptance"],
                    "left_behind_prob": t["left_behind"]},
        "weather": {"events_per_region_month": [1e-6] * 12},
    })  # fmt: skip


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roundtrip")
    world = simulate_world(known_scenario(), seed=11)
    orders_csv, tracking_csv = export_world(world, tmp / "export")
    conf = tmp / "conf"
    shutil.copytree(CONF_DIR, conf)
    settings = load_settings("exsim", ["name=roundtrip", "bootstrap=150", "ci_level=0.99",
                                       "replications=5", "sim_orders=3000"])
    res = calibrate(orders_csv, settings, tracking_path=tracking_csv,
                    config_dir=conf / "scenario", out_dir=tmp / "report")
    return res, conf, world, (orders_csv, tracking_csv)


def _inside(fit, true: DurationConfig):
    b = fit.best
    assert b.family == true.dist, f"{fit.quantity}: AIC chose {b.family}, truth {true.dist}"
    assert fit.median_ci[0] <= true.median_hours <= fit.median_ci[1], (fit.quantity, b, fit.median_ci)
    assert fit.shape_ci[0] <= true.shape <= fit.shape_ci[1], (fit.quantity, b, fit.shape_ci)


def test_recovers_handling_delay(roundtrip):
    res, _, _, _ = roundtrip
    # label -> handoff: handling delay plus the wait for the next 15-minute pickup (~0.1 h)
    _inside(res.fits["processing"], TRUE["handling"])


def test_recovers_promise_lead_and_correlation(roundtrip):
    res, _, _, _ = roundtrip
    _inside(res.fits["promise_lead"], TRUE["promise"])
    # the copula correlation is with the whole handoff->delivery time, which adds the
    # acceptance lag to the line-haul: a little below 0.4
    assert 0.3 < res.estimates.promise_transit_corr < 0.45
    # the correlation fitted to the lateness moments under the fitted model: the truth,
    # and no late component where the world has none (the J test does not keep it)
    lf = res.model.lateness
    assert lf.rho == pytest.approx(0.4, abs=0.1)
    assert not lf.kept and res.overrides["carrier"]["late_delay_prob"] == 0
    assert lf.transit_scale == pytest.approx(1.0, abs=0.05)
    assert res.overrides["orders"]["promise_transit_corr"] == pytest.approx(lf.rho, abs=1e-4)


def test_recovers_linehaul_and_acceptance_lag_from_tracking(roundtrip):
    res, _, _, _ = roundtrip
    _inside(res.tracking_fits["first_scan_to_delivery"], TRUE["linehaul"])
    lag = res.tracking_fits["acceptance_lag"]
    _inside(lag, DurationConfig("lognormal", TRUE["acceptance_median"], TRUE["acceptance_sigma"]))


def test_recovers_missing_first_scan_shares(roundtrip):
    res, _, _, _ = roundtrip
    t = res.tracking_estimates
    lo, hi = wilson(t.no_scan_k, t.n_shipments, 0.99)
    assert lo <= TRUE["left_behind"] <= hi
    lo, hi = wilson(t.missing_first_k, t.n_shipments - t.no_scan_k, 0.99)
    assert lo <= TRUE["missed_acceptance"] <= hi


def test_recovers_volume_and_no_rows_skipped_but_undelivered(roundtrip):
    res, _, world, _ = roundtrip
    assert res.estimates.per_day == pytest.approx(280, rel=0.08)
    reasons = set(res.history.issues.counts)
    assert reasons <= {"not delivered (status 'not_delivered')"}, reasons
    undelivered = world.truth.orders["delivered_at"].isna().sum()
    assert res.history.issues.total() == undelivered


def test_written_scenario_composes_and_heldout_check_passes(roundtrip):
    res, conf, _, _ = roundtrip
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        cfg = to_config(compose("config", overrides=["scenario=calibrated_roundtrip"]))
    assert cfg.scenario.warehouse.handling_delay.dist == "gamma"
    assert cfg.scenario.carrier.transit["ground"].dist == "weibull"
    assert cfg.scenario == res.scenario
    for kind in ("random", "later"):  # a stationary world passes both validations
        v = res.validation(kind)
        assert all(r.within for r in v.rows), [r for r in v.rows if not r.within]
        assert not v.drift or kind == "random"
    assert res.report_path.exists() and len(res.pngs) >= 5


def test_cli_runs_on_the_export(roundtrip, tmp_path, capsys):
    _, _, _, (orders_csv, tracking_csv) = roundtrip
    code = main([str(orders_csv), "--preset", "exsim", "--name", "cli", "--tracking",
                 str(tracking_csv), "--config-dir", str(tmp_path), "--out", str(tmp_path / "r"),
                 "--no-plots", "bootstrap=20", "sim_orders=1000"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Validation 1 — random split" in out and (tmp_path / "calibrated_cli.yaml").exists()
    assert (tmp_path.parent / "outcomes" / "calibrated_cli.yaml").exists()
    assert (tmp_path / "r" / "calibration.md").exists()
