"""Calibration settings: the column mapping of a user's export and the fit options.

A preset lives in ``conf/calibration/<preset>.yaml``; any field can be overridden with
``key=value`` pairs (OmegaConf dot-list), e.g. ``columns.region=customer_state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
    fit_fraction: float = 0.7  # time split: fit on the earlier share, check on the rest
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
        try:
            OmegaConf.update(cfg, key.strip(), value, merge=True)
        except Exception as err:  # noqa: BLE001 - OmegaConf raises several types
            raise ValueError(f"override {item!r}: {err}".splitlines()[0]) from err
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, CalibrationSettings)
    if not 0.1 <= obj.fit_fraction <= 1.0:
        raise ValueError(f"fit_fraction = {obj.fit_fraction}: must be in [0.1, 1.0]")
    if obj.replications < 5:
        raise ValueError(f"replications = {obj.replications}: must be >= 5 (t-interval)")
    if not 0.5 < obj.ci_level < 1:
        raise ValueError(f"ci_level = {obj.ci_level}: must be in (0.5, 1)")
    return obj
