"""Orchestrate one calibration: load and screen -> fit the whole history (or the
``since``/``until`` window) -> write the scenario and the outcome config -> validate twice
(a random split checks the structure, a later-period split checks forecasting and shows
drift) -> reviews -> report."""

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
)
from sim.calibrate.fit import Fit, fit_duration
from sim.calibrate.lateness import LatenessFit, bootstrap_se, fit_lateness, moment_vector
from sim.calibrate.load import DataError, OrderHistory, TrackingEvents, load_orders, load_tracking
from sim.calibrate.scenario import (
    scenario_overrides,
    simulation_overrides,
    to_scenario,
    write_outcomes,
    write_scenario,
)
from sim.calibrate.settings import CalibrationSettings
from sim.config import ScenarioConfig

ORDER_QUANTITIES = ("approval_delay", "processing", "order_to_handoff", "transit", "promise_lead")
LABELS = {
    "approval_delay": "order approval delay (purchase -> approval)",
    "processing": "warehouse processing (approval -> carrier handoff)",
    "order_to_handoff": "order to carrier handoff (purchase -> handoff; the scenario's handling delay)",
    "transit": "carrier transit (handoff -> delivery)",
    "promise_lead": "promise lead (purchase -> promised day, see late_definition)",
    "acceptance_lag": "acceptance lag (handoff -> first carrier scan)",
    "first_scan_after_label": "first-scan lag (label created -> first carrier scan)",
    "first_scan_to_delivery": "line-haul (first carrier scan -> delivery)",
    "scan_gap": "gap between consecutive carrier scans (descriptive: a mix of legs, not written to the scenario)",
}
SIM_DAYS = 30.0  # validation worlds: sim_orders spread over this many days


@dataclass
class Model:
    """One fit of the door-to-door model on a set of orders."""

    est: OrderEstimates
    fits: dict[str, Fit]
    t_est: TrackingEstimates | None
    t_fits: dict[str, Fit]
    lateness: LatenessFit
    overrides: dict


@dataclass
class Validation:
    kind: str  # "random" or "later"
    title: str
    description: str
    n_fit: int
    n_check: int
    rows: list[holdout.Row]
    drift: list[str] = field(default_factory=list)
    model: Model | None = None


@dataclass
class CalibrationResult:
    settings: CalibrationSettings
    history: OrderHistory
    tracking: TrackingEvents | None
    window: tuple[pd.Timestamp, pd.Timestamp]
    n_window: int
    model: Model
    overrides: dict
    scenario: ScenarioConfig
    scenario_path: Path
    outcomes: dict
    outcomes_path: Path
    validations: list[Validation] = field(default_factory=list)
    periods: list[tuple[str, int, dict]] = field(default_factory=list)  # drift diagnostic
    reviews: object | None = None  # reviews.ReviewFit
    review_rows: int = 0
    world_stars: dict | None = None  # on time / late mean stars in the calibrated world
    censored: tuple[int, pd.Timestamp | None] = (0, None)  # right-censored orders, cut-off
    report_path: Path | None = None
    pngs: list[Path] = field(default_factory=list)

    @property
    def estimates(self) -> OrderEstimates:
        return self.model.est

    @property
    def fits(self) -> dict[str, Fit]:
        return self.model.fits

    @property
    def tracking_estimates(self) -> TrackingEstimates | None:
        return self.model.t_est

    @property
    def tracking_fits(self) -> dict[str, Fit]:
        return self.model.t_fits

    def validation(self, kind: str) -> Validation | None:
        return next((v for v in self.validations if v.kind == kind), None)


def random_split_validation(o: pd.DataFrame, events, s: CalibrationSettings, model: Model
                            ) -> Validation | None:
    """Validation 1: a random share of the orders fits the model's structure (chosen on the
    whole history), the others -- same period, never seen by the fit -- check it."""
    rng = np.random.default_rng(s.seed + 11)
    pick = np.zeros(len(o), bool)
    pick[rng.permutation(len(o))[: int(round(s.random_fit_share * len(o)))]] = True
    e = model.est
    return _validate("random", "Validation 1 — random split (structure)",
                     f"a random {s.random_fit_share:.0%} of the orders ({e.start:%Y-%m-%d} .. "
                     f"{e.end:%Y-%m-%d}) fit the model; the others, from the same period and "
                     "never seen by the fit, check it", o[pick], o[~pick], events, s, model)


def split_by_time(orders: pd.DataFrame, fit_fraction: float) -> pd.Timestamp:
    """Midnight at or after the ``fit_fraction`` quantile of purchase times."""
    t = np.sort(orders["purchase"].to_numpy())
    k = min(int(fit_fraction * t.size), t.size - 1)
    return pd.Timestamp(t[k]).ceil("D")


def fit_model(orders: pd.DataFrame, events: TrackingEvents | None, s: CalibrationSettings,
              name: str, *, bootstrap: int, start: LatenessFit | None = None,
              mode: str | None = None) -> Model:
    """Estimate, fit the durations (AIC), fit the lateness structure, build overrides."""
    complete = orders[orders["complete"]]
    if len(complete) < 30:
        raise DataError(f"only {len(complete)} complete orders to fit; need at least 30 "
                        "(widen since/until or add data)")
    est = estimate_orders(orders, s.ci_level, s.late_definition)
    fits = {q: fit_duration(q, est.durations[q], s.families, bootstrap, s.seed + i,
                            ci_level=s.ci_level)
            for i, q in enumerate(ORDER_QUANTITIES)}  # fmt: skip
    t_est, t_fits = None, {}
    if events is not None:
        t_est = estimate_tracking(orders, events, s.tracking)
        candidates = {
            "acceptance_lag": t_est.first_scan_after_handoff,
            "first_scan_after_label": t_est.first_scan_after_label,
            "first_scan_to_delivery": t_est.first_scan_to_delivery,
            "scan_gap": t_est.scan_gaps,
        }
        for i, (q, x) in enumerate(candidates.items()):
            x = x[np.isfinite(x) & (x >= 0)]
            if x.size >= 30:
                t_fits[q] = fit_duration(q, x, s.families, bootstrap, s.seed + 10 + i,
                                         ci_level=s.ci_level)
            else:
                t_est.notes.append(f"{LABELS[q]}: only {x.size} values, not fitted")
    linehaul = t_fits.get("first_scan_to_delivery", fits["transit"])
    other = [fits["order_to_handoff"].best.dist()]
    if "acceptance_lag" in t_fits:
        other.append(next(c for c in t_fits["acceptance_lag"].candidates
                          if c.family == "lognormal").dist())
    lead, late = holdout.order_figures(complete, s.late_definition)
    observed = moment_vector(lead, late)
    se = bootstrap_se(lead, late, 200, s.seed + 3)
    hour = (complete["purchase"].dt.hour + complete["purchase"].dt.minute / 60).to_numpy(float)
    lateness = fit_lateness(other, linehaul.best.dist(), fits["promise_lead"].best.dist(),
                            observed, se, hour, s.late_definition, mode=mode or s.late_component,
                            start=start, seed=s.seed, level=1 - s.alpha)
    est.promise_transit_corr_matched = lateness.rho
    est.late_share_model = float(lateness.model[0])
    start_day = est.end.normalize() + pd.Timedelta(days=1)
    overrides = scenario_overrides(name, est, fits, t_est, t_fits, lateness,
                                   start_day.date().isoformat(), SIM_DAYS)
    return Model(est, fits, t_est, t_fits, lateness, overrides)


def _validate(kind: str, title: str, description: str, fit_rows: pd.DataFrame,
              check_rows: pd.DataFrame, events, s: CalibrationSettings, main: Model,
              drift: bool = False) -> Validation | None:
    check = check_rows[check_rows["complete"]]
    if len(check) < 30 or fit_rows["complete"].sum() < 30:
        return None
    # the structure chosen on the whole history, its parameters refitted on the fit part
    m = fit_model(fit_rows, events, s, f"{s.name}_{kind}", bootstrap=0, start=main.lateness,
                  mode="on" if main.lateness.kept else "off")
    scenario = to_scenario(simulation_overrides(m.overrides, s.sim_orders, SIM_DAYS))
    nboot = max(s.bootstrap, 200)
    obs = holdout.observed_figures(check, s.late_definition, s.ci_level, nboot, s.seed)
    sim, _ = holdout.simulated_figures(scenario, s.seed, s.replications, s.ci_level,
                                       s.late_definition)
    ref = holdout.observed_figures(fit_rows[fit_rows["complete"]], s.late_definition,
                                   s.ci_level, nboot, s.seed + 1)
    rows = holdout.compare(obs, sim, s.alpha, s.replications, ref)
    v = Validation(kind, title, description, int(fit_rows["complete"].sum()), len(check), rows,
                   model=m)
    if drift:
        v.drift = holdout.drift(rows, s.alpha)
    return v


def calibrate(orders_path: str | Path, settings: CalibrationSettings, *,
              tracking_path: str | Path | None = None, reviews_path: str | Path | None = None,
              config_dir: str | Path | None = None, out_dir: str | Path = "outputs/calibration",
              plots: bool = True, progress=None) -> CalibrationResult:
    """Calibrate a scenario from an order history; see ``exsim-calibrate --help``.

    ``progress(text)`` is called before each long step."""
    from sim.api import CONF_DIR

    say = progress or (lambda text: None)
    s = settings
    say("reading and screening the orders")
    history = load_orders(orders_path, s)
    o = history.orders
    lo = pd.Timestamp(str(s.since)) if s.since else o["purchase"].min()
    hi = pd.Timestamp(str(s.until)) if s.until else o["purchase"].max() + pd.Timedelta(seconds=1)
    o = o[(o["purchase"] >= lo) & (o["purchase"] < hi)].reset_index(drop=True)
    if o.empty:
        raise DataError(f"{history.path}: no order placed in since={s.since} .. until={s.until} "
                        f"(the file spans {history.orders['purchase'].min():%Y-%m-%d} .. "
                        f"{history.orders['purchase'].max():%Y-%m-%d})")
    o, result_censored = _right_censoring(o, s)
    events = None
    if tracking_path is not None:
        events = load_tracking(tracking_path, s, set(o["tracking_no"]))
    say(f"fitting {int(o['complete'].sum())} complete orders")
    model = fit_model(o, events, s, s.name, bootstrap=s.bootstrap)
    scenario = to_scenario(model.overrides)
    est = model.est
    window = f"{est.start:%Y-%m-%d} .. {est.end:%Y-%m-%d}"
    header = (f"Calibrated by exsim-calibrate from {Path(history.path).name} "
              f"(preset columns: {s.name}); fitted on orders placed {window} "
              f"({est.n_complete} complete orders"
              + (f"; window since={s.since} until={s.until}" if s.since or s.until else "")
              + f").\nRun: exsim scenario={model.overrides['name']} "
              f"+outcomes={model.overrides['name']}\n"
              "Report: calibration.md in the calibration output folder.")
    scen_dir = Path(config_dir) if config_dir else CONF_DIR / "scenario"
    path = write_scenario(model.overrides, scen_dir, header)

    reviews = None
    from sim.outcomes import PADDED_PROMISE_DAY_PENALTY

    # no reviews: the promise-day penalty of padded per-order promises (Olist), written
    # explicitly -- a calibrated scenario's promises are padded estimates
    outcomes = {"promise_day_penalty": PADDED_PROMISE_DAY_PENALTY}
    if reviews_path is not None:
        from sim.calibrate.reviews import calibrate_reviews, load_reviews

        say("fitting the reviews")
        rv = load_reviews(str(reviews_path), s)
        reviews = calibrate_reviews(rv, s)
        reviews.n_rows = rv.n_rows
        reviews.skipped = rv.skipped
        outcomes = reviews.outcome_overrides(s.reviews.on_time_stars)
    out_path = write_outcomes(outcomes, scen_dir.parent / "outcomes", model.overrides["name"],
                              header)
    result = CalibrationResult(s, history, events, (lo, hi), len(o), model, model.overrides,
                               scenario, path, outcomes, out_path, reviews=reviews)

    # validation 1: a random split (same period) checks the structure
    say("validation 1: random split")
    v1 = random_split_validation(o, events, s, model)
    # validation 2: a later-period split checks forecasting and shows drift
    split_at = split_by_time(o, s.fit_fraction)
    early, late = o[o["purchase"] < split_at], o[o["purchase"] >= split_at]
    say("validation 2: later period")
    v2 = _validate("later", "Validation 2 — later period (forecasting)",
                   f"orders placed {est.start:%Y-%m-%d} .. {split_at:%Y-%m-%d} (the earlier "
                   f"{s.fit_fraction:.0%}) fit the model; those placed from "
                   f"{split_at:%Y-%m-%d} check it", early, late, events, s, model, drift=True)
    result.validations = [v for v in (v1, v2) if v is not None]
    result.censored = result_censored
    result.periods = _periods(o, s)
    say("stars in the calibrated world")
    result.world_stars = world_stars(model.overrides, outcomes, s)
    from sim.calibrate.report import write_report

    write_report(result, Path(out_dir), plots=plots)
    return result


def _right_censoring(orders: pd.DataFrame, s: CalibrationSettings
                     ) -> tuple[pd.DataFrame, tuple[int, pd.Timestamp | None]]:
    """Orders placed within the p99 lead time before the last delivery in the file may
    still have been travelling at export time: only their fast trips are in the file
    (long ones show as 'shipped').  They count for arrivals but not for durations or
    checks, else the latest period looks faster than it was."""
    if not s.censor_guard:
        return orders, (0, None)
    c = orders[orders["complete"]]
    lead = (c["delivery"] - c["purchase"]).quantile(0.99)
    cut = c["delivery"].max() - lead
    hit = orders["complete"] & (orders["purchase"] > cut)
    if not hit.any():
        return orders, (0, cut)
    out = orders.copy()
    out.loc[hit, "complete"] = False
    return out, (int(hit.sum()), cut)


def world_stars(overrides: dict, outcomes: dict, s: CalibrationSettings) -> dict:
    """Mean expected stars of on-time and late orders in the calibrated world (the outcome
    model's lateness penalty; item problems and recovery left out), t-interval over
    replications: the figure Olist's public analyses give as 4.28 vs 2.55."""
    from scipy import stats

    from sim.config import OutcomeConfig
    from sim.outcomes import lateness_penalty
    from sim.world import simulate_world

    cfg = OutcomeConfig(**outcomes)
    sc = to_scenario(simulation_overrides(overrides, s.sim_orders, SIM_DAYS))
    on, late = [], []
    for r in range(s.replications):
        t = simulate_world(sc, seed=s.seed + 1, replication=r).truth.orders
        t = t[np.isfinite(t["delivered_at"].to_numpy(float))]
        d = np.floor(t["delivered_at"].to_numpy(float) / 24) - np.floor(
            t["promised_at"].to_numpy(float) / 24)
        stars = cfg.stars_on_time - lateness_penalty(d, cfg)
        on.append(stars[d <= 0].mean())
        late.append(stars[d > 0].mean())
    tq = stats.t.ppf(0.5 + s.ci_level / 2, s.replications - 1)

    def ci(v):
        v = np.asarray(v)
        h = tq * v.std(ddof=1) / np.sqrt(v.size)
        return (float(v.mean()), float(v.mean() - h), float(v.mean() + h))

    return {"on time": ci(on), "late": ci(late)}


def _periods(orders: pd.DataFrame, s: CalibrationSettings) -> list[tuple[str, int, dict]]:
    """Observed late share and lead time by calendar quarter (quarters with >= 30 complete
    orders): a history that drifts cannot be predicted by a stationary scenario."""
    c = orders[orders["complete"]]
    out = []
    for q, part in c.groupby(c["purchase"].dt.to_period("Q")):
        if len(part) < 30:
            continue
        out.append((str(q), len(part), holdout.observed_figures(part, s.late_definition,
                                                                s.ci_level, 200, s.seed)))
    return out


