"""The world stage: orders -> warehouse -> carrier -> customer, for one scenario and seed.

It depends only on the scenario config and the seed (never on a policy), and returns the
ground truth and the observable tables separately (:mod:`sim.observe`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim import feed
from sim.config import MISPICK_KINDS, SERVICE_LEVELS, ExsimConfig, ScenarioConfig, validate
from sim.observe import GroundTruth, Observation
from sim.rng import Streams
from sim.world import customer as cust
from sim.world.calendar import HOURS_PER_DAY, Calendar
from sim.world.carrier import DRAW_COLUMNS, DRAW_WIDTH, CarrierModel
from sim.world.marketplace import promised_from_lead, seller_delay
from sim.world.orders import make_orders
from sim.world.warehouse import NO_MISPICK, run_warehouse
from sim.world.weather import draw_closures

LINEHAUL_COLUMN = DRAW_COLUMNS.index("linehaul")
DRAIN_DAYS = 120  # calendar beyond the last order, for parcels still moving
TRACKING_BASE = 1_000_000_000  # tracking numbers are not order ids
TERMINALS = ("delivered", "delivered_with_mispick", "delivered_damaged", "lost",
             "never_received", "returned")  # fmt: skip
EXCEPTIONS = ("none", "never_received", "lost", "damaged", "returned", *MISPICK_KINDS,
              "weather_delay", "late")  # fmt: skip


@dataclass(frozen=True)
class World:
    """A simulated world: truth, observation and the keys that identify it."""

    scenario: ScenarioConfig
    seed: int
    replication: int
    truth: GroundTruth
    observation: Observation
    calendar: Calendar

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables of a run, by file name stem."""
        return {
            "orders": self.observation.orders,
            "tracking": self.observation.tracking,
            "contacts": self.observation.contacts,
            "truth": self.truth.orders,
        }


def _cat(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int16), categories=list(names))


def simulate_world(cfg: ExsimConfig | ScenarioConfig, seed: int | None = None,
                   replication: int = 0, progress=None) -> World:
    """Simulate one world.  ``progress(fraction, text)`` is called as the run goes."""
    validate(cfg)
    if isinstance(cfg, ExsimConfig):
        scenario, seed = cfg.scenario, cfg.seed if seed is None else seed
    elif seed is None:
        raise ValueError("a seed is needed with a bare ScenarioConfig")
    else:
        scenario = cfg
    report = progress or (lambda frac, text: None)
    streams = Streams(seed, replication)
    cal = Calendar(scenario.start_date, int(np.ceil(scenario.days)) + DRAIN_DAYS)

    report(0.0, "orders")
    orders = make_orders(scenario.orders, cal, scenario.days, streams)
    n = len(orders)
    n_days = int(np.ceil(scenario.days))
    wh = run_warehouse(scenario.warehouse, orders, cal, streams,
                       on_day=lambda d: report(0.05 + 0.6 * min(d / n_days, 1.0), "picking"))

    report(0.65, "carrier")
    closures = draw_closures(scenario.weather, orders.region_names, cal, streams)
    carrier = CarrierModel(scenario.carrier, cal, closures, scenario.weather.weather_scan_prob)
    carrier_u = streams.uniforms("carrier", n, DRAW_WIDTH)
    # calibration additions (off by default): seller delays, promise lead from data
    handoff = carrier.handoff_time(wh.label_at + seller_delay(scenario.warehouse, n, streams))
    if scenario.orders.promise_lead is not None:
        orders.promised_at = promised_from_lead(scenario.orders, orders.placed_at,
                                                carrier_u[:, LINEHAUL_COLUMN], streams)
    late_u = (streams.uniforms("carrier.late_delay", n, 2)
              if scenario.carrier.late_delay_prob > 0 else None)
    ship, scans = carrier.ship(handoff, orders.service, orders.region, carrier_u, late_u)

    report(0.85, "customers")
    mispicked = (wh.mispick != NO_MISPICK) & ~wh.mispick_caught
    problem = np.where(ship.damaged, cust.REASON["damaged"],
                       np.where(mispicked, wh.mispick + 1, -1))
    arrived = np.where(np.isnan(ship.delivered_at), np.inf, ship.delivered_at)
    # one sort of the feed by (order, time): the customers' view and the tracking table
    order_idx = np.lexsort((scans.time, scans.shipment))
    # a scan "after the end of the calendar" (a closure outlasting the run) never happened
    # within the run: it has time inf and is no event of the feed
    order_idx = order_idx[np.isfinite(scans.time[order_idx])]
    contacts = cust.contacts(scenario.customer, cust.CustomerDraws.draw(scenario.customer, n, streams),
                             orders.promised_at, wh.label_at, arrived, problem,
                             scans.shipment[order_idx], scans.time[order_idx])

    report(0.95, "tables")
    tracking_no = TRACKING_BASE + np.arange(n, dtype=np.int64)
    region_cat = _cat(orders.region, orders.region_names)
    service_cat = _cat(orders.service, SERVICE_LEVELS)
    obs_orders = pd.DataFrame({
        "order_id": np.arange(n, dtype=np.int64), "tracking_no": tracking_no,
        "placed_at": orders.placed_at, "value": orders.value, "items": orders.items,
        "service": service_cat, "region": region_cat, "promised_at": orders.promised_at,
        "label_at": wh.label_at, "handed_over_at": handoff,
    })  # fmt: skip
    tracking = pd.DataFrame({
        "tracking_no": tracking_no[scans.shipment[order_idx]],
        "time": scans.time[order_idx],
        "status": _cat(scans.status[order_idx], feed.STATUSES),
        "sub_status": _cat(scans.sub_status[order_idx], feed.SUB_STATUSES),
        "location": _cat(scans.location[order_idx], (feed.ORIGIN, *orders.region_names)),
    })  # fmt: skip
    contact_df = pd.DataFrame({
        "order_id": contacts.order.astype(np.int64), "time": contacts.time,
        "reason": _cat(contacts.reason, cust.CONTACT_REASONS),
    })
    closure_df = pd.DataFrame({
        "region": _cat(closures.region, orders.region_names), "start": closures.start,
        "end": closures.end,
    })
    truth = _truth_table(obs_orders, wh, ship, handoff, mispicked)
    observation = Observation(obs_orders, tracking, contact_df, closure_df,
                              horizon=scenario.days * HOURS_PER_DAY)
    report(1.0, "done")
    return World(scenario, seed, replication, GroundTruth(truth, closure_df), observation, cal)


def _truth_table(obs_orders: pd.DataFrame, wh, ship, handoff: np.ndarray,
                 mispicked: np.ndarray) -> pd.DataFrame:
    n = len(obs_orders)
    delivered = ~np.isnan(ship.delivered_at)
    lost = ship.lost_leg > 0
    terminal = np.select(
        [ship.left_behind, lost, ship.returned, delivered & ship.damaged, delivered & mispicked,
         delivered],
        [4, 3, 5, 2, 1, 0], -1,
    )  # fmt: skip
    if (terminal < 0).any():
        raise AssertionError(f"{(terminal < 0).sum()} orders without a terminal state")
    promised = obs_orders["promised_at"].to_numpy()
    late_hours = ship.delivered_at - promised
    late = ~delivered | (late_hours > 0)
    weather = ship.weather_paused_hours > 0
    ix = EXCEPTIONS.index
    kind = np.select(
        [ship.left_behind, lost, ship.damaged, ship.returned, mispicked, weather & late, late],
        [ix("never_received"), ix("lost"), ix("damaged"), ix("returned"),
         ix(MISPICK_KINDS[0]) + wh.mispick.astype(int), ix("weather_delay"), ix("late")],
        ix("none"),
    )  # fmt: skip
    exception_at = np.select(
        [kind == ix("never_received"), kind == ix("lost"), kind == ix("damaged"),
         kind == ix("returned"), np.isin(kind, [ix(k) for k in MISPICK_KINDS]),
         kind == ix("weather_delay"), kind == ix("late")],
        [handoff, ship.lost_at, np.where(np.isnan(ship.hub_at), ship.delivered_at, ship.hub_at),
         ship.first_ofd_at, wh.label_at, ship.weather_first_at, promised],
        np.nan,
    )  # fmt: skip
    return pd.DataFrame({
        "order_id": obs_orders["order_id"], "tracking_no": obs_orders["tracking_no"],
        "placed_at": obs_orders["placed_at"], "promised_at": promised,
        "pick_start": wh.pick_start, "pick_end": wh.pick_end, "label_at": wh.label_at,
        "handoff_at": handoff,
        "mispick": _cat(wh.mispick + 1, ("none", *MISPICK_KINDS)),
        "mispick_caught": wh.mispick_caught,
        "left_behind": ship.left_behind, "missed_acceptance_scan": ship.missed_acceptance,
        "accepted_at": ship.accepted_at, "hub_at": ship.hub_at, "first_ofd_at": ship.first_ofd_at,
        "delivered_at": ship.delivered_at,
        "lost_leg": _cat(ship.lost_leg, ("none", "linehaul", "hub", "van")),
        "lost_at": ship.lost_at, "damaged": ship.damaged, "returned": ship.returned,
        "returned_at": ship.returned_at, "attempts": ship.attempts,
        "missed_scans": ship.missed_scans,
        "weather_paused_hours": ship.weather_paused_hours,
        "weather_first_at": ship.weather_first_at,
        "terminal": _cat(terminal, TERMINALS),
        "exception": _cat(kind, EXCEPTIONS), "exception_at": exception_at,
        "late_hours": late_hours, "on_time": delivered & (late_hours <= 0),
    }, index=pd.RangeIndex(n))  # fmt: skip
