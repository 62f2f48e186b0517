"""Real data: the Olist sample calibrates with the shipped mapping, and the held-out check
is run and reported.  Skipped when the shared data folder is absent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from sim.api import CONF_DIR, to_config
from sim.calibrate import calibrate, load_settings
from sim.config import register_configs

DATA_DIR = Path(os.environ.get("EXSIM_DATA_DIR",
                               Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
OLIST = DATA_DIR / "olist_orders_5k.csv"
pytestmark = pytest.mark.skipif(not OLIST.exists(),
                                reason=f"real data not found at {OLIST} (set EXSIM_DATA_DIR)")


@pytest.fixture(scope="module")
def olist(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("olist")
    conf = tmp / "conf"
    shutil.copytree(CONF_DIR, conf)
    settings = load_settings("olist", ["bootstrap=100", "replications=5"])
    res = calibrate(OLIST, settings, config_dir=conf / "scenario", out_dir=tmp / "report",
                    plots=False)
    return res, conf


def test_olist_rows_screened_by_reason(olist):
    res, _ = olist
    h = res.history
    assert h.n_rows == 4998
    neg = h.issues.counts["negative duration: carrier handoff before approval"]
    assert 0.01 < neg / h.n_rows < 0.02  # ~1.5 % data errors, reported not dropped silently
    assert h.issues.counts["not delivered (status 'canceled')"] == 25
    assert int(h.orders["complete"].sum()) + h.issues.total() == h.n_rows
    report = res.report_path.read_text()
    assert "carrier handoff before approval | 73 |" in report


def test_olist_fits_and_scenario_runs(olist):
    res, conf = olist
    for q in ("processing", "transit"):
        f = res.fits[q]
        assert {c.family for c in f.candidates} == {"lognormal", "gamma", "weibull"}
        assert f.best.aic == min(c.aic for c in f.candidates)
        assert f.median_ci[0] < f.best.median < f.median_ci[1]
    # Olist: about 2 days to the carrier, about a week in transit
    assert 24 < res.fits["processing"].best.median < 96
    assert 120 < res.fits["transit"].best.median < 260
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        cfg = to_config(compose("config", overrides=["scenario=calibrated_olist"]))
    assert cfg.scenario == res.scenario
    assert res.pngs == []  # plots=False; the round trip checks the PNGs


def test_olist_period_drift_is_visible(olist):
    """The check period (from mid-April 2018) is much faster than the fit period: Olist's
    own lead times fell from ~11 to ~8 days.  This is why the held-out check below fails."""
    res, _ = olist
    held = {r.figure: r for r in res.holdout}
    fit = {r.figure: r for r in res.insample}
    p50_held, p50_fit = held["lead time p50 (d)"], fit["lead time p50 (d)"]
    assert p50_held.obs_hi < p50_fit.obs_lo  # disjoint observed CIs: the data drifted
    # the model error in-sample is much smaller than the drift
    assert abs(p50_fit.simulated - p50_fit.observed) < 0.25 * (p50_fit.observed - p50_held.observed)
    assert "**Drift**" in res.report_path.read_text()  # the report says so before the check
    # in-sample the simulated world reproduces the late share it was calibrated to
    assert fit["late share"].within


@pytest.mark.xfail(strict=True, reason="Olist drifts: lead times and late share fall after April "
                   "2018, so a model fitted on the earlier 70 % over-predicts the later 30 % "
                   "(see test_olist_period_drift_is_visible and calibration.md)")
def test_olist_heldout_check_passes(olist):
    res, _ = olist
    rows = {r.figure: r for r in res.holdout}
    assert rows["late share"].within
    assert rows["lead time p50 (d)"].within
