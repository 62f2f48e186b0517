"""Turn estimates and fits into a scenario: a dict of overrides on the baseline, a
validated :class:`ScenarioConfig` for the held-out simulation, and the YAML file that
``exsim scenario=calibrated_<name>`` composes."""

from __future__ import annotations

import copy
import datetime as dt
import math
from pathlib import Path

import numpy as np
import yaml
from omegaconf import OmegaConf

from sim.calibrate.estimate import OrderEstimates, TrackingEstimates
from sim.calibrate.fit import Fit
from sim.calibrate.lateness import LatenessFit
from sim.config import SERVICE_LEVELS, ScenarioConfig, validate

EVERY_HOURS = 0.25  # pickups and delivery rounds: the door-to-door times come from the data
ALL_DAYS = [0, 1, 2, 3, 4, 5, 6]


def scenario_overrides(name: str, est: OrderEstimates, fits: dict[str, Fit],
                       tracking: TrackingEstimates | None, tfits: dict[str, Fit],
                       lateness: LatenessFit, start_date: str, days: float) -> dict:
    """Overrides on ``conf/scenario/baseline.yaml`` that reproduce the fitted marketplace.

    Door to door, the data already hold every delay (queues, weekends, weather), so the
    scenario turns the structural delays of the US model into near-continuous ones: a
    round-the-clock picking shift, pickups and delivery rounds every 15 minutes, almost no
    sort time and (unless tracking events say otherwise) almost no acceptance lag; the
    fitted line-haul then carries the transit time.
    """
    linehaul = tfits.get("first_scan_to_delivery", fits["transit"])
    transit = linehaul.as_duration()
    # the lateness fit rescales the line-haul so that the door-to-door sum of the fitted
    # families reproduces the lead-time quantiles (sim.calibrate.lateness)
    transit["median_hours"] = round(transit["median_hours"] * lateness.transit_scale, 4)
    base_regions = ScenarioConfig().orders.regions
    regions = {r: 0.0 for r in base_regions}  # Hydra merges maps: zero the baseline's regions
    regions.update(est.regions or {"all": 1.0})
    orders = {
        "per_day": round(est.per_day, 4),
        "hour_profile": [float(x) for x in est.hour_profile],
        "weekday_profile": [float(x) for x in est.weekday_profile],
        "service_mix": {"ground": 1.0, "two_day": 0.0, "next_day": 0.0},
        "regions": regions,
        "promise_lead": fits["promise_lead"].as_duration(),
        "promise_transit_corr": round(float(np.clip(lateness.rho, -0.99, 0.99)), 4),
    }
    if est.value_median:
        orders["value_median"] = round(est.value_median, 4)
        orders["value_sigma"] = round(max(est.value_sigma or 0.0, 1e-3), 4)
    carrier = {
        "pickup_hours": [float(h) for h in np.arange(0, 24, EVERY_HOURS)],
        "pickup_days": ALL_DAYS, "cutoff_minutes": 0.0,
        "acceptance_lag_median_hours": 0.01, "acceptance_lag_sigma": 0.0,
        "transit": {level: transit for level in SERVICE_LEVELS},
        "sort_median_hours": 0.01, "sort_sigma": 0.0,
        "delivery_days": ALL_DAYS, "delivery_start_hour": 0.0, "delivery_end_hour": 24.0,
        "delivery_round_every_hours": EVERY_HOURS, "failed_attempt_prob": 0.0,
        # the late-delivery component (sim.calibrate.lateness); 0 when the J test drops it
        "late_delay_prob": round(lateness.late_prob, 6),
        "late_delay": {"dist": "lognormal", "median_hours": round(lateness.late_median_hours, 4),
                       "shape": round(max(lateness.late_sigma, 1e-3), 4)},
    }  # fmt: skip
    if tracking is not None:
        lag = tfits.get("acceptance_lag")
        if lag is not None:
            # the scenario's acceptance lag is lognormal: write the lognormal fit
            ln = next(c for c in lag.candidates if c.family == "lognormal")
            carrier["acceptance_lag_median_hours"] = round(ln.median, 4)
            carrier["acceptance_lag_sigma"] = round(ln.shape, 4)
        n = max(tracking.n_shipments, 1)
        carrier["left_behind_prob"] = round(tracking.no_scan_k / n, 6)
        carrier["missed_acceptance_scan_prob"] = round(
            tracking.missing_first_k / max(n - tracking.no_scan_k, 1), 6)
    return {
        "name": f"calibrated_{name}",
        "start_date": start_date,
        "days": float(max(1.0, round(days, 2))),
        "orders": orders,
        "warehouse": {
            "shifts": [{"start_hour": 0.0, "end_hour": 24.0,
                        "pickers": _pickers(est.per_day, est.hour_profile)}],
            "operating_days": ALL_DAYS,
            # purchase -> handoff: approval and processing in one (approval delays are a
            # mix of instant and next-day approvals that no single family fits)
            "handling_delay": fits["order_to_handoff"].as_duration(),
        },
        "carrier": carrier,
        # weather is inside the fitted times: closures (almost) off
        "weather": {"events_per_region_month": [1e-6] * 12},
    }


def _pickers(per_day: float, hour_profile: list[float]) -> int:
    """Pickers of the round-the-clock shift: never the bottleneck (the fitted handling
    delay holds the seller's time)."""
    return int(max(2, math.ceil(per_day / 24 * max(hour_profile) / 6) + 2))


def simulation_overrides(overrides: dict, n_orders: int, days: float) -> dict:
    """The same marketplace with ``n_orders`` orders over ``days`` days (validation worlds:
    shares and quantiles do not depend on the volume, their precision does)."""
    out = copy.deepcopy(overrides)
    per_day = n_orders / days
    out["orders"]["per_day"] = round(per_day, 4)
    out["days"] = float(days)
    out["warehouse"]["shifts"][0]["pickers"] = _pickers(per_day, out["orders"]["hour_profile"])
    return out


def write_outcomes(outcomes: dict, outcomes_dir: Path, name: str, header: str) -> Path:
    """``conf/outcomes/<name>.yaml``: the outcome fields the calibration sets (a Hydra
    group file: ``exsim scenario=<name> +outcomes=<name>``)."""
    outcomes_dir = Path(outcomes_dir)
    outcomes_dir.mkdir(parents=True, exist_ok=True)
    path = outcomes_dir / f"{name}.yaml"
    body = yaml.dump(outcomes, Dumper=_PlainDumper, sort_keys=False, width=100)
    lines = [f"# {line}" if line else "#" for line in header.strip().splitlines()]
    path.write_text("\n".join(["# @package outcomes", *lines,
                               "# customer model fields (sim.outcomes) set by the calibration",
                               body]))
    return path


def baseline_scenario() -> ScenarioConfig:
    from sim.api import CONF_DIR

    node = OmegaConf.merge(OmegaConf.structured(ScenarioConfig),
                           OmegaConf.load(CONF_DIR / "scenario" / "baseline.yaml"))
    return OmegaConf.to_object(node)  # type: ignore[return-value]


def to_scenario(overrides: dict) -> ScenarioConfig:
    """Baseline + overrides, merged the way Hydra merges the YAML, and validated."""
    node = OmegaConf.merge(OmegaConf.structured(baseline_scenario()), OmegaConf.create(overrides))
    scenario = OmegaConf.to_object(node)
    assert isinstance(scenario, ScenarioConfig)
    validate(scenario)
    return scenario


class _PlainDumper(yaml.SafeDumper):
    """No YAML anchors/aliases: the file is for people to read and edit."""

    def ignore_aliases(self, data) -> bool:
        return True


def write_scenario(overrides: dict, config_dir: Path, header: str) -> Path:
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / f"{overrides['name']}.yaml"
    body = yaml.dump({"defaults": ["baseline", "_self_"], **overrides}, Dumper=_PlainDumper,
                     sort_keys=False, default_flow_style=None, width=100)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {line}" if line else "#" for line in header.strip().splitlines()]
    path.write_text("\n".join([*lines, f"# written {stamp} by exsim-calibrate", body]))
    return path
