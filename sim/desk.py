"""The world's side of recovery actions: carrier traces, reshipments, claims, refunds.

Policies call these through :class:`policies.recovery.CarrierDesk` and get back only what
a real counterpart would tell them (a trace says "found" or "lost").  Here, on the world
side, the answers come from the ground truth, and reshipments travel through the same
carrier model as the world's parcels, with their own per-(order, attempt) streams — so a
policy that reships more does not change any other draw.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from policies.config import RecoveryConfig
from policies.recovery import TraceReply
from sim.config import SERVICE_LEVELS
from sim.rng import Streams
from sim.world import World
from sim.world.carrier import DRAW_WIDTH, CarrierModel
from sim.world.weather import Closures

ACTION_COLUMNS = ("order_id", "time", "action", "amount", "expedited", "item_only",
                  "delivered_at", "duplicate")  # fmt: skip
LOST_TERMINALS = ("lost", "never_received")


# (seed, replication, order, attempt) -> the replacement's carrier draws.  A sweep reships
# the same orders under many settings; seeding a generator costs ~30 us, a lookup nothing.
_RESHIP_DRAWS: dict[tuple[int, int, int, int], np.ndarray] = {}
RESHIP_DRAWS_KEPT = 200_000


def _reship_draws(streams: Streams, order_id: int, attempt: int) -> np.ndarray:
    key = (streams.seed, streams.replication, order_id, attempt)
    u = _RESHIP_DRAWS.get(key)
    if u is None:
        u = streams.generator("reship.carrier", order_id, attempt).random((1, DRAW_WIDTH))
        if len(_RESHIP_DRAWS) >= RESHIP_DRAWS_KEPT:
            _RESHIP_DRAWS.clear()
        _RESHIP_DRAWS[key] = u
    return u


class WorldDesk:
    def __init__(self, world: World, cfg: RecoveryConfig, streams: Streams,
                 goods_cost_share: float):
        self.cfg = cfg
        self.streams = streams
        truth = world.truth.orders  # order_id == row
        terminal = truth["terminal"]  # categorical: isin works on the codes
        self.lost = terminal.isin(LOST_TERMINALS).to_numpy()
        self.needed = terminal.isin((*LOST_TERMINALS, "returned", "delivered_damaged")).to_numpy()
        self.lost_at = truth["lost_at"].to_numpy()
        cl = world.truth.closures
        closures = Closures(cl["region"].cat.codes.to_numpy().astype(np.int16),
                            cl["start"].to_numpy(), cl["end"].to_numpy())
        sc = world.scenario
        self.carrier = CarrierModel(sc.carrier, world.calendar, closures,
                                    sc.weather.weather_scan_prob)
        orders = world.observation.orders
        self.region = orders["region"].cat.codes.to_numpy().astype(np.int16)
        self.value = orders["value"].to_numpy()
        self.goods_cost = goods_cost_share * self.value  # what the carrier owes at most
        self.attempts: dict[int, int] = defaultdict(int)
        n = len(orders)
        # per-order draws: row i belongs to order i, whatever the policy asks for
        self.trace_hours = cfg.trace_median_hours * np.exp(
            cfg.trace_sigma * streams.generator("desk.trace").standard_normal(n))
        self.claim_u = streams.uniforms("desk.claim", n)[:, 0]
        self.actions: list[tuple] = []
        self.reships: list[tuple[int, int, float, bool, bool]] = []
        self.batches: list[tuple[pd.DataFrame, tuple[np.ndarray, ...]]] = []

    def _record(self, order_id: int, at: float, action: str, amount: float = 0.0,
                expedited: bool = False, item_only: bool = False,
                delivered_at: float = np.nan, duplicate: bool = False) -> None:
        self.actions.append((order_id, at, action, amount, expedited, item_only, delivered_at,
                             duplicate))  # fmt: skip

    def trace(self, order_id: int, at: float) -> TraceReply:
        hours = float(self.trace_hours[order_id])
        lost = bool(self.lost[order_id]) and not (self.lost_at[order_id] > at + hours)
        self._record(order_id, at, "trace", amount=hours)
        return TraceReply(at + hours, not lost)

    def trace_delays(self, order_ids: np.ndarray) -> np.ndarray:
        """Hours until the carrier answers a trace of each order (a per-order draw; the
        answer itself comes from :meth:`trace_found`, at the time of the trace)."""
        return self.trace_hours[order_ids]

    def trace_found(self, order_ids: np.ndarray, at: np.ndarray) -> np.ndarray:
        """What traces sent at ``at`` answer, vectorised: the rule of :meth:`trace`."""
        hours = self.trace_hours[order_ids]
        return ~(self.lost[order_ids] & ~(self.lost_at[order_ids] > at + hours))

    def record_many(self, order_ids: np.ndarray, at: np.ndarray, verb: np.ndarray,
                    expedited: np.ndarray, item_only: np.ndarray, credit: np.ndarray) -> None:
        """Many actions at once, in call order, recorded exactly as the scalar calls
        (``verb``: notify, trace, reship, refund or claim; ``credit``: a notify with the
        goodwill credit).  The fast case engine's way in."""
        order_ids = np.asarray(order_ids, dtype=np.int64)
        at = np.asarray(at, dtype=float)
        rs = verb == "reship"
        o, t, v = order_ids[~rs], at[~rs], verb[~rs]
        amount = np.zeros(o.size)
        m = v == "notify"
        amount[m] = np.where(credit[~rs][m], self.cfg.credit, 0.0)
        m = v == "trace"
        amount[m] = self.trace_hours[o[m]]
        m = v == "refund"
        amount[m] = self.value[o[m]]
        m = v == "claim"
        amount[m] = self.claim_amounts(o[m], t[m])
        t = np.where(m, t + self.cfg.claim_delay_hours, t)
        rows = pd.DataFrame({
            "order_id": o, "time": t, "action": v.astype(object), "amount": amount,
            "expedited": np.zeros(o.size, bool), "item_only": np.zeros(o.size, bool),
            "delivered_at": np.full(o.size, np.nan), "duplicate": np.zeros(o.size, bool),
        })  # fmt: skip
        ro = order_ids[rs]
        # attempt numbers continue per order, in call order
        k = pd.Series(ro).groupby(ro).cumcount().to_numpy() + 1
        k += np.asarray([self.attempts[int(x)] for x in ro], dtype=np.int64)
        for x, kk in zip(ro, k, strict=True):
            self.attempts[int(x)] = max(self.attempts[int(x)], int(kk))
        self.batches.append((rows, (ro, k, at[rs], expedited[rs], item_only[rs])))

    def reship(self, order_id: int, at: float, expedited: bool, item_only: bool) -> None:
        """Book a replacement; it is carried when the table is made (the policy never
        sees the replacement's tracking, so nothing depends on carrying it now)."""
        k = self.attempts[order_id] = self.attempts[order_id] + 1
        self.reships.append((order_id, k, at, expedited, item_only))

    def _carry_reships(self) -> pd.DataFrame | None:
        parts = [tuple(np.array(x) for x in zip(*self.reships, strict=True))] if self.reships else []
        parts += [b[1] for b in self.batches if b[1][0].size]
        if not parts:
            return None
        order, k, at, expedited, item_only = (np.concatenate(x) for x in zip(*parts, strict=True))
        order = order.astype(np.int64)
        at = at.astype(float)
        expedited = expedited.astype(bool)
        item_only = item_only.astype(bool)
        u = np.vstack([_reship_draws(self.streams, int(o), int(a))
                       for o, a in zip(order, k, strict=True)])
        level = np.where(expedited, SERVICE_LEVELS.index("next_day"),
                         SERVICE_LEVELS.index("ground")).astype(np.int8)
        handoff = self.carrier.handoff_time(at + self.cfg.reship_prep_hours)
        ship, _ = self.carrier.ship(handoff, level, self.region[order], u)
        # a replacement parcel is a duplicate when the original reaches the customer intact
        duplicate = ~item_only & ~self.needed[order]
        return pd.DataFrame({
            "order_id": order, "time": at, "action": np.full(order.size, "reship", object),
            "amount": np.zeros(order.size), "expedited": expedited, "item_only": item_only,
            "delivered_at": np.asarray(ship.delivered_at, dtype=float), "duplicate": duplicate,
        })  # fmt: skip

    def claim_amounts(self, order_ids: np.ndarray, at: np.ndarray) -> np.ndarray:
        """What the carrier pays on claims filed for ``order_ids`` at times ``at``.

        The one place of the rule (both case engines call it): a carrier pays the actual
        value of the goods (their cost, not the retail price), at most its liability, and
        only for a loss it confirms (the parcel was lost or never received by the time the
        claim is filed), with probability ``claim_approval_prob``.  Damage claims are not
        modelled (they pay 0).  So a claim never exceeds the goods' cost, and no order can
        turn a profit from a loss.
        """
        o = np.asarray(order_ids, dtype=np.int64)
        t = np.asarray(at, dtype=float)
        confirmed = self.lost[o] & ~(self.lost_at[o] > t)  # never received: lost_at is NaN
        approved = confirmed & (self.claim_u[o] < self.cfg.claim_approval_prob)
        return np.where(approved, np.minimum(self.goods_cost[o], self.cfg.carrier_liability), 0.0)

    def claim(self, order_id: int, at: float) -> None:
        amount = float(self.claim_amounts(np.array([order_id]), np.array([at]))[0])
        self._record(order_id, at + self.cfg.claim_delay_hours, "claim", amount=amount)

    def refund(self, order_id: int, at: float) -> None:
        self._record(order_id, at, "refund", amount=float(self.value[order_id]))

    def notify(self, order_id: int, at: float, credit: float) -> None:
        self._record(order_id, at, "notify", amount=credit)

    def table(self) -> pd.DataFrame:
        """Every action taken, reshipments carried, sorted by time."""
        parts = []
        if self.actions:
            parts.append(pd.DataFrame.from_records(self.actions, columns=list(ACTION_COLUMNS)))
        parts += [b[0] for b in self.batches if len(b[0])]
        reships = self._carry_reships()
        if reships is not None:
            parts.append(reships)
        if not parts:
            # no action at all (a quiet tiny world): order ids stay integers, they index arrays
            return pd.DataFrame({c: pd.Series(dtype=np.int64 if c == "order_id" else float)
                                 for c in ACTION_COLUMNS})  # fmt: skip
        df = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        return df.sort_values(["time", "order_id"], kind="stable").reset_index(drop=True)
