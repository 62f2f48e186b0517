"""Calibration settings: the column mapping of a user's export and the fit options.

A preset lives in ``conf/calibration/<preset>.yaml``; any field can be overridden with
``key=value`` pairs (OmegaConf dot-list), e.g. ``columns.region=customer_state``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml
from omegaconf import OmegaConf

from sim.api import CONF_DIR

CALIBRATION_CONF = CONF_DIR / "calibration"  # the checkout's conf/ or the wheel's sim/conf
REQUIRED = ("purchase", "approval", "handoff", "delivery", "promise")


@dataclass
class OrderColumns:
    """Names of the order-history columns (null: the export does not have it)."""

    order_id: str | None = None
    purchase: str = "purchase"
    approval: str = "approval"
    handoff: str = "handoff"
    delivery: str = "delivery"
    promise: str = "promise"
    status: str | None = None
    value: str | None = None
    region: str | None = None
    tracking_no: str | None = None
    label: str | None = None  # label creation, for the first-scan lag


@dataclass
class TrackingColumns:
    tracking_no: str = "tracking_no"
    time: str = "time"
    status: str = "status"
    location: str = "location"


@dataclass
class TrackingSettings:
    columns: TrackingColumns = field(default_factory=TrackingColumns)
    # events that are not carrier scans (shipper data sent to the carrier)
    ignore_statuses: list[str] = field(default_factory=lambda: ["InfoReceived"])
    # a shipment's acceptance scan is its first event at one of these locations;
    # empty: the first event of any kind counts as the first scan
    origin_locations: list[str] = field(default_factory=lambda: ["origin"])


@dataclass
class ReviewColumns:
    """Names of the review-file columns (``--reviews``)."""

    score: str = "review_score"  # stars 1..5
    promise: str = "order_estimated_delivery_date"
    delivery: str = "order_delivered_customer_date"  # empty: never delivered
    status: str | None = None  # rows whose status is canceled etc. are left out if set


@dataclass
class ReviewSettings:
    columns: ReviewColumns = field(default_factory=ReviewColumns)
    # null: the on-time level is fitted from the reviews; a number: keep this on-time level
    # and fit only the penalties (differences) -- for samples that over-represent
    # complaints, such as Olist's classified-reviews release (24 % one-star vs 12 %)
    on_time_stars: float | None = None
    delivered_statuses: list[str] = field(default_factory=lambda: ["delivered"])
    holdout_share: float = 0.5  # reviews held out to check the fitted curve


@dataclass
class ScreenSettings:
    """Rows whose dates lie far outside the file's span are skipped: a date is "far" when it
    is more than ``far_k`` inter-quartile ranges of the purchase dates (at least
    ``far_min_days`` days) before their first quartile or after their third."""

    far_k: float = 3.0
    far_min_days: float = 90.0


@dataclass
class CalibrationSettings:
    name: str = "calibrated"
    columns: OrderColumns = field(default_factory=OrderColumns)
    # "auto" tries ISO 8601, m/d/YYYY H:MM and dd-mm-YYYY HH:MM (with or without
    # seconds, date only); else a strftime format
    date_format: str = "auto"
    # tz-aware values are converted to this zone; naive values are taken as local time in it
    timezone: str = "UTC"
    encoding: str = "utf-8"
    # rows whose status is not one of these are not delivered (null/empty: every row with a
    # delivery date counts as delivered)
    delivered_statuses: list[str] = field(default_factory=lambda: ["delivered"])
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    delimiter: str = ","  # CSV field separator
    # the scenario is fitted on the whole history in [since, until) (dates; null: open)
    since: str | None = None
    until: str | None = None
    # "later_day": late = delivered on a later calendar day than the promised day (the
    # usual definition when the promise is a date); "after_timestamp": after the promised
    # instant (a date-only promise then means 00:00 of that day)
    late_definition: str = "later_day"
    # late-delivery component (sim.calibrate.lateness): auto = keep it when it fits the
    # lateness moments significantly better (J test), on, off
    late_component: str = "auto"
    screen: ScreenSettings = field(default_factory=ScreenSettings)
    reviews: ReviewSettings = field(default_factory=ReviewSettings)
    # validation 1 (structure): a random split of the orders; this share fits, the rest checks
    random_fit_share: float = 0.5
    # validation 2 (forecasting): a time split; the earlier share fits, the later checks
    fit_fraction: float = 0.7
    alpha: float = 0.05  # family-wise error level of each validation table (Bonferroni)
    # leave out of durations and checks the orders placed within the p99 lead time before
    # the file's last delivery (right-censored: their long trips are not delivered yet)
    censor_guard: bool = True
    sim_orders: int = 6000  # orders per simulated replication in the validations
    families: list[str] = field(default_factory=lambda: ["lognormal", "gamma", "weibull"])
    bootstrap: int = 200
    replications: int = 5
    seed: int = 20261126
    ci_level: float = 0.95


def load_settings(preset: str | Path | None = None, overrides: list[str] | None = None
                  ) -> CalibrationSettings:
    """A preset name (``conf/calibration/<name>.yaml``) or a YAML path, plus overrides."""
    base = OmegaConf.structured(CalibrationSettings)
    parts = [base]
    if preset:
        path = Path(preset)
        if not path.suffix:
            path = CALIBRATION_CONF / f"{preset}.yaml"
        if not path.exists():
            known = sorted(p.stem for p in CALIBRATION_CONF.glob("*.yaml"))
            raise FileNotFoundError(f"calibration preset {str(preset)!r} not found (known: {known})")
        parts.append(OmegaConf.load(path))
    cfg = OmegaConf.merge(*parts)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r}: expected key=value")
        try:  # YAML scalars and lists; anything YAML cannot read (e.g. '%d.%m.%Y') is a string
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if isinstance(value, dt.date):  # since=2018-04-01: keep the text
            value = raw.strip()
        try:
            OmegaConf.update(cfg, key.strip(), value, merge=True)
        except Exception as err:  # noqa: BLE001 - OmegaConf raises several types
            raise ValueError(f"override {item!r}: {err}".splitlines()[0]) from err
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, CalibrationSettings)
    _check(obj)
    return obj


def _check(obj: CalibrationSettings) -> None:
    """Every setting a run depends on, checked before any data is read."""
    import zoneinfo

    if not 0.1 <= obj.fit_fraction < 1.0:
        raise ValueError(f"fit_fraction = {obj.fit_fraction}: must be in [0.1, 1.0) "
                         "(the share of the history, by time, that fits the forecasting check)")
    if not 0.1 <= obj.random_fit_share <= 0.9:
        raise ValueError(f"random_fit_share = {obj.random_fit_share}: must be in [0.1, 0.9]")
    if not 0 < obj.alpha < 0.5:
        raise ValueError(f"alpha = {obj.alpha}: must be in (0, 0.5)")
    if obj.late_definition not in ("later_day", "after_timestamp"):
        raise ValueError(f"late_definition = {obj.late_definition!r}: allowed: "
                         "'later_day', 'after_timestamp'")
    # YAML 1.1 reads on/off as booleans
    obj.late_component = {"True": "on", "False": "off"}.get(str(obj.late_component),
                                                          str(obj.late_component))
    if obj.late_component not in ("auto", "on", "off"):
        raise ValueError(f"late_component = {obj.late_component!r}: allowed: auto, on, off")
    try:
        zoneinfo.ZoneInfo(obj.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"timezone = {obj.timezone!r}: not a known IANA time zone "
                         "(e.g. UTC, America/Sao_Paulo, Europe/Berlin)") from err
    if len(obj.delimiter) != 1:
        raise ValueError(f"delimiter = {obj.delimiter!r}: must be one character, e.g. ';'")
    for key in ("since", "until"):
        v = getattr(obj, key)
        if v is not None:
            try:
                pd.Timestamp(str(v))
            except ValueError as err:
                raise ValueError(f"{key} = {v!r}: not a date (use YYYY-MM-DD)") from err
    if obj.since and obj.until and pd.Timestamp(str(obj.since)) >= pd.Timestamp(str(obj.until)):
        raise ValueError(f"since = {obj.since} is not before until = {obj.until}")
    if obj.sim_orders < 500:
        raise ValueError(f"sim_orders = {obj.sim_orders}: must be >= 500")
    if obj.screen.far_k <= 0 or obj.screen.far_min_days <= 0:
        raise ValueError(f"screen.far_k = {obj.screen.far_k}, screen.far_min_days = "
                         f"{obj.screen.far_min_days}: must be > 0")
    r = obj.reviews
    if not 0.1 <= r.holdout_share <= 0.9:
        raise ValueError(f"reviews.holdout_share = {r.holdout_share}: must be in [0.1, 0.9]")
    if r.on_time_stars is not None and not 1 <= r.on_time_stars <= 5:
        raise ValueError(f"reviews.on_time_stars = {r.on_time_stars}: must be in [1, 5] or null")
    if obj.replications < 5:
        raise ValueError(f"replications = {obj.replications}: must be >= 5 (t-interval)")
    if not 0.5 < obj.ci_level < 1:
        raise ValueError(f"ci_level = {obj.ci_level}: must be in (0.5, 1)")
