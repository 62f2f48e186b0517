"""Orchestrate one calibration: load -> split by time -> estimate and fit on the earlier
part -> write the scenario -> simulate the later part and compare -> report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate import holdout
from sim.calibrate.estimate import (
    OrderEstimates,
    TrackingEstimates,
    estimate_orders,
    estimate_tracking,
    match_promise_corr,
)
from sim.calibrate.fit import Fit, fit_duration
from sim.calibrate.load import DataError, OrderHistory, TrackingEvents, load_orders, load_tracking
from sim.calibrate.scenario import scenario_overrides, to_scenario, write_scenario
from sim.calibrate.settings import CalibrationSettings
from sim.config import ScenarioConfig

ORDER_QUANTITIES = ("approval_delay", "processing", "order_to_handoff", "transit", "promise_lead")
LABELS = {
    "approval_delay": "order approval delay (purchase -> approval)",
    "processing": "warehouse processing (approval -> carrier handoff)",
    "order_to_handoff": "order to carrier handoff (purchase -> handoff; the scenario's handling delay)",
    "transit": "carrier transit (handoff -> delivery)",
    "promise_lead": "promise lead (purchase -> promised date)",
    "acceptance_lag": "acceptance lag (handoff -> first carrier scan)",
    "first_scan_after_label": "first-scan lag (label created -> first carrier scan)",
    "first_scan_to_delivery": "line-haul (first carrier scan -> delivery)",
    "scan_gap": "gap between consecutive carrier scans (descriptive: a mix of legs, not written to the scenario)",
}


@dataclass
class CalibrationResult:
    settings: CalibrationSettings
    history: OrderHistory
    tracking: TrackingEvents | None
    split_at: pd.Timestamp | None
    n_fit: int
    n_check: int
    estimates: OrderEstimates
    fits: dict[str, Fit]
    tracking_estimates: TrackingEstimates | None
    tracking_fits: dict[str, Fit]
    overrides: dict
    scenario: ScenarioConfig
    scenario_path: Path
    holdout: list[holdout.Row] = field(default_factory=list)
    holdout_reps: list[dict] = field(default_factory=list)
    insample: list[holdout.Row] = field(default_factory=list)
    periods: list[tuple[str, int, dict]] = field(default_factory=list)  # drift diagnostic
    report_path: Path | None = None
    pngs: list[Path] = field(default_factory=list)


def split_by_time(orders: pd.DataFrame, fit_fraction: float) -> pd.Timestamp | None:
    """Midnight at or after the ``fit_fraction`` quantile of purchase times (None: no check)."""
    if fit_fraction >= 1.0:
        return None
    t = np.sort(orders["purchase"].to_numpy())
    k = min(int(fit_fraction * t.size), t.size - 1)
    return pd.Timestamp(t[k]).ceil("D")


def calibrate(orders_path: str | Path, settings: CalibrationSettings, *,
              tracking_path: str | Path | None = None, config_dir: str | Path | None = None,
              out_dir: str | Path = "outputs/calibration", plots: bool = True) -> CalibrationResult:
    """Calibrate a scenario from an order history; see ``exsim-calibrate --help``."""
    from sim.api import CONF_DIR

    s = settings
    history = load_orders(orders_path, s)
    events = None
    if tracking_path is not None:
        events = load_tracking(tracking_path, s, set(history.orders["tracking_no"]))
    split_at = split_by_time(history.orders, s.fit_fraction)
    o = history.orders
    fit_part = o if split_at is None else o[o["purchase"] < split_at]
    check_part = o.iloc[0:0] if split_at is None else o[o["purchase"] >= split_at]
    if fit_part["complete"].sum() < 30:
        raise DataError(f"{history.path}: only {int(fit_part['complete'].sum())} complete orders "
                        "before the split; need at least 30 (raise fit_fraction or add data)")
    est = estimate_orders(fit_part, s.ci_level)
    fits = {q: fit_duration(q, est.durations[q], s.families, s.bootstrap, s.seed + i,
                            ci_level=s.ci_level)
            for i, q in enumerate(ORDER_QUANTITIES)}  # fmt: skip
    t_est, t_fits = None, {}
    if events is not None:
        t_est = estimate_tracking(fit_part, events, s.tracking)
        candidates = {
            "acceptance_lag": t_est.first_scan_after_handoff,
            "first_scan_after_label": t_est.first_scan_after_label,
            "first_scan_to_delivery": t_est.first_scan_to_delivery,
            "scan_gap": t_est.scan_gaps,
        }
        for i, (q, x) in enumerate(candidates.items()):
            x = x[np.isfinite(x) & (x >= 0)]
            if x.size >= 30:
                t_fits[q] = fit_duration(q, x, s.families, s.bootstrap, s.seed + 10 + i,
                                         ci_level=s.ci_level)
            else:
                t_est.notes.append(f"{LABELS[q]}: only {x.size} values, not fitted")
    # the copula correlation that makes the fitted model reproduce the observed late share
    linehaul = t_fits.get("first_scan_to_delivery", fits["transit"])
    other = [fits["order_to_handoff"].best.dist()]
    if "acceptance_lag" in t_fits:
        other.append(next(c for c in t_fits["acceptance_lag"].candidates
                          if c.family == "lognormal").dist())
    est.promise_transit_corr_matched, est.late_share_model = match_promise_corr(
        other, linehaul.best.dist(), fits["promise_lead"].best.dist(), est.late_share,
        seed=s.seed)
    if split_at is None:
        start, days = (est.end.normalize() + pd.Timedelta(days=1)), 30.0
    else:
        start = split_at
        days = (check_part["purchase"].max() - split_at) / pd.Timedelta(days=1)
    overrides = scenario_overrides(s.name, est, fits, t_est, t_fits, start.date().isoformat(),
                                   float(np.ceil(days)))
    scenario = to_scenario(overrides)
    header = (f"Calibrated by exsim-calibrate from {Path(history.path).name} "
              f"(preset columns: {s.name}); fitted on orders placed {est.start:%Y-%m-%d} .. "
              f"{(split_at or est.end):%Y-%m-%d} ({est.n_complete} complete orders).\n"
              f"Run: exsim scenario={overrides['name']}\n"
              "Report: calibration.md in the calibration output folder.")
    path = write_scenario(overrides, Path(config_dir) if config_dir else CONF_DIR / "scenario", header)
    result = CalibrationResult(s, history, events, split_at, len(fit_part), len(check_part), est,
                               fits, t_est, t_fits, overrides, scenario, path)
    check = check_part[check_part["complete"]]
    if split_at is not None and len(check) >= 30:
        obs = holdout.observed_figures(check, s.ci_level, max(s.bootstrap, 200), s.seed)
        sim, reps = holdout.simulated_figures(scenario, s.seed, s.replications, s.ci_level)
        result.holdout, result.holdout_reps = holdout.compare(obs, sim), reps
        # the same simulation against the fit part: model error vs drift between periods
        fit_obs = holdout.observed_figures(fit_part[fit_part["complete"]], s.ci_level,
                                           max(s.bootstrap, 200), s.seed)
        result.insample = holdout.compare(fit_obs, sim)
    result.periods = _periods(fit_part, check, s)
    from sim.calibrate.report import write_report

    write_report(result, Path(out_dir), plots=plots)
    return result


def _periods(fit_part: pd.DataFrame, check: pd.DataFrame, s: CalibrationSettings
             ) -> list[tuple[str, int, dict]]:
    """Observed late share and median lead time in the two halves of the fit part and in the
    check part: a history that drifts cannot be predicted by a stationary scenario."""
    c = fit_part[fit_part["complete"]].sort_values("purchase")
    half = len(c) // 2
    parts = [("fit part, first half", c.iloc[:half]), ("fit part, second half", c.iloc[half:])]
    if len(check):
        parts.append(("check part", check))
    out = []
    for label, part in parts:
        if len(part) < 30:
            continue
        span = f"{label} ({part['purchase'].min():%Y-%m-%d} .. {part['purchase'].max():%Y-%m-%d})"
        out.append((span, len(part), holdout.observed_figures(part, s.ci_level, 200, s.seed)))
    return out
