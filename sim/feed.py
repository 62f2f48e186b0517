"""The tracking vocabulary shared by the carrier model (which writes the feed) and the
policies (which read it): an AfterShip-like status with a sub-status.

Kept apart from both so that neither imports the other.
"""

from __future__ import annotations

STATUSES = ("InfoReceived", "InTransit", "OutForDelivery", "AttemptFail", "Delivered", "Exception")
SUB_STATUSES = (
    "accepted",  # InTransit: first carrier scan at the origin hub
    "in_transit",  # InTransit: departure/arrival scans at facilities along the line-haul
    "arrived_at_hub",  # InTransit: destination hub
    "out_for_delivery",
    "attempt_failed",
    "delivered",
    "weather",  # Exception: carrier-declared weather delay
    "damaged",  # Exception: carrier found the parcel damaged
    "returned_to_sender",  # Exception
)
ORIGIN = "origin"

STATUS = {s: i for i, s in enumerate(STATUSES)}
SUB = {s: i for i, s in enumerate(SUB_STATUSES)}

# (status, sub_status) of each kind of event the carrier model can emit
ACCEPTED = (STATUS["InTransit"], SUB["accepted"])
IN_TRANSIT = (STATUS["InTransit"], SUB["in_transit"])
HUB = (STATUS["InTransit"], SUB["arrived_at_hub"])
OUT_FOR_DELIVERY = (STATUS["OutForDelivery"], SUB["out_for_delivery"])
ATTEMPT_FAILED = (STATUS["AttemptFail"], SUB["attempt_failed"])
DELIVERED = (STATUS["Delivered"], SUB["delivered"])
WEATHER = (STATUS["Exception"], SUB["weather"])
DAMAGED = (STATUS["Exception"], SUB["damaged"])
RETURNED = (STATUS["Exception"], SUB["returned_to_sender"])
