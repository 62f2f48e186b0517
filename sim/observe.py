"""What a real system can see, kept apart from the hidden truth by type.

Policies receive an :class:`Observation`: the order system's records, the carrier tracking
feed, the carrier's public service alerts and customer contacts.  It has no field for the
truth and refuses, at construction, any table that carries a truth column, so a rule
cannot read "is it lost?" even by accident.  :class:`GroundTruth` holds what really
happened; only the world (which writes it) and the outcome scoring (which grades
policies against it) touch it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

# The columns each observable table may carry, and nothing else.
ORDER_COLUMNS = (
    "order_id", "tracking_no", "placed_at", "value", "items", "service", "region",
    "promised_at", "label_at", "handed_over_at",
)  # fmt: skip
TRACKING_COLUMNS = ("tracking_no", "time", "status", "sub_status", "location", "seen_at")
CONTACT_COLUMNS = ("order_id", "time", "reason")
ALERT_COLUMNS = ("region", "start", "end")


class TruthLeakError(TypeError):
    """An observable table was given a column that only the ground truth may hold."""


def _check(name: str, df: pd.DataFrame, allowed: tuple[str, ...]) -> None:
    extra = [c for c in df.columns if c not in allowed]
    if extra:
        raise TruthLeakError(
            f"observable table '{name}' may only hold {list(allowed)}; got also {extra}"
        )


class _FrozenSlots:
    """Pickling for frozen dataclasses with hand-written ``__slots__`` (the default slot
    protocol restores state with ``setattr``, which a frozen class refuses).  Worlds are
    pickled by the experiment layer's world cache."""

    __slots__ = ()

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            object.__setattr__(self, name, value)


# Frozen with hand-written ``__slots__`` rather than ``slots=True``: on Python 3.11 the
# class that ``slots=True`` rebuilds breaks the frozen ``__setattr__`` (it raises a bare
# "super(type, obj)" TypeError instead of FrozenInstanceError; CPython gh-90562).
@dataclass(frozen=True)
class Observation(_FrozenSlots):
    """The observable side of a world: the only input of detection and recovery policies.

    ``orders``: order-system view (placed, value, promise, label created, handed over as
    scheduled: the order system believes every labelled order left on its pickup).
    ``tracking``: carrier events as the carrier posted them (polling lag is applied by the
    policy stage).  ``alerts``: carrier service alerts (weather) by region.
    ``contacts``: customer-service contacts of the status-quo world.
    """

    orders: pd.DataFrame
    tracking: pd.DataFrame
    contacts: pd.DataFrame
    alerts: pd.DataFrame
    horizon: float  # hours: orders were placed in [0, horizon)

    __slots__ = ("orders", "tracking", "contacts", "alerts", "horizon")  # no room for truth

    def __post_init__(self) -> None:
        _check("orders", self.orders, ORDER_COLUMNS)
        _check("tracking", self.tracking, TRACKING_COLUMNS)
        _check("contacts", self.contacts, CONTACT_COLUMNS)
        _check("alerts", self.alerts, ALERT_COLUMNS)


@dataclass(frozen=True)
class GroundTruth(_FrozenSlots):
    """What really happened to each order and shipment (one row per order) and the
    weather closures.  Never passed to a policy."""

    orders: pd.DataFrame
    closures: pd.DataFrame

    __slots__ = ("orders", "closures")

GOLDEN = 0.6180339887498949


def with_polling_lag(obs: Observation, poll_hours: float) -> Observation:
    """The feed as a tracker sees it: each event becomes known at the tracker's next poll
    of that shipment (``seen_at``).  Polls run every ``poll_hours`` with a fixed phase per
    tracking number (spread evenly by the golden ratio, no randomness needed)."""
    tr = obs.tracking
    phase = np.mod(tr["tracking_no"].to_numpy() * GOLDEN, 1.0) * poll_hours
    t = tr["time"].to_numpy()
    seen = phase + np.ceil((t - phase) / poll_hours) * poll_hours
    return replace(obs, tracking=tr.assign(seen_at=np.maximum(seen, t)))
