"""Carrier: handoff at scheduled pickups, scans, transit legs, loss, damage, delivery.

A shipment's path is origin hub (acceptance scan) -> destination hub -> out for delivery
-> delivery attempt(s).  Each leg's duration depends on nothing but its own draw and the
weather of the destination region, so legs are computed for all shipments at once with
numpy; weather closures pause the clocks (:mod:`sim.world.weather`).

Draws come as a ``(n, DRAW_WIDTH)`` matrix of uniforms, one row per shipment, a fixed
column per purpose (:data:`DRAW_COLUMNS`).  The world passes the rows of its per-order
stream; the policy stage passes rows from per-(order, attempt) streams for reshipments.
Same model, own randomness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from sim import feed
from sim.config import SERVICE_LEVELS, CarrierConfig, DurationConfig
from sim.world.calendar import HOURS_PER_DAY, Calendar, next_instant
from sim.world.weather import Closures, closed_at, pause_through_closures

MAX_ATTEMPTS = 8
MAX_TRANSIT_SCANS = 12
DRAW_COLUMNS = (
    "left_behind", "missed_acceptance", "acceptance_lag", "linehaul", "sort",
    "loss_linehaul", "loss_hub", "loss_van", "loss_position", "damage", "damage_return",
    "miss_hub_scan", "miss_ofd_scan", "weather_scan", "attempt_time",
    *(f"fail_{k}" for k in range(1, MAX_ATTEMPTS + 1)),
    *(f"miss_transit_{k}" for k in range(1, MAX_TRANSIT_SCANS + 1)),
)  # fmt: skip
DRAW_WIDTH = len(DRAW_COLUMNS)
_C = {name: i for i, name in enumerate(DRAW_COLUMNS)}

# loss leg codes in the truth table
NOT_LOST, LOST_LINEHAUL, LOST_AT_HUB, LOST_IN_VAN = 0, 1, 2, 3


def _lognormal(median: float | np.ndarray, sigma: float | np.ndarray, u: np.ndarray) -> np.ndarray:
    return median * np.exp(sigma * special.ndtri(np.clip(u, 1e-12, 1 - 1e-12)))


def duration_quantile(d: DurationConfig, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of a configured duration (hours) at uniforms ``u``."""
    u = np.clip(u, 1e-12, 1 - 1e-12)
    if d.dist == "lognormal":
        return d.median_hours * np.exp(d.shape * special.ndtri(u))
    if d.dist == "gamma":
        return special.gammaincinv(d.shape, u) * d.median_hours / special.gammaincinv(d.shape, 0.5)
    if d.dist == "weibull":
        return d.median_hours * (-np.log1p(-u) / np.log(2.0)) ** (1.0 / d.shape)
    raise ValueError(f"unknown duration distribution {d.dist!r}")


@dataclass
class Scans:
    """Carrier events as parallel arrays (one row per event, unsorted)."""

    shipment: np.ndarray  # row index into the shipments passed in
    time: np.ndarray
    status: np.ndarray
    sub_status: np.ndarray
    location: np.ndarray  # 0 = origin, r + 1 = region r


@dataclass
class ShipmentTruth:
    """Hidden state of each shipment (NaN where an event never happened)."""

    left_behind: np.ndarray
    missed_acceptance: np.ndarray
    accepted_at: np.ndarray
    hub_at: np.ndarray
    first_ofd_at: np.ndarray
    delivered_at: np.ndarray
    lost_leg: np.ndarray
    lost_at: np.ndarray
    damaged: np.ndarray
    returned: np.ndarray
    returned_at: np.ndarray
    attempts: np.ndarray
    weather_paused_hours: np.ndarray
    weather_first_at: np.ndarray
    missed_scans: np.ndarray  # scans the carrier should have posted but did not


class CarrierModel:
    """The carrier network for one scenario: schedules, parameters, closures."""

    def __init__(self, cfg: CarrierConfig, cal: Calendar, closures: Closures,
                 weather_scan_prob: float):
        self.cfg = cfg
        self.weather_scan_prob = weather_scan_prob
        self.cal = cal
        self.closures = closures
        self.pickups = cal.instants(cfg.pickup_days, cfg.pickup_hours)
        self.delivery_rounds = cal.instants(cfg.delivery_days, _round_hours(cfg))
        self.attempt_window = (cfg.delivery_round_every_hours or
                               cfg.delivery_end_hour - cfg.delivery_start_hour)

    def handoff_time(self, label_at: np.ndarray) -> np.ndarray:
        """The scheduled pickup a parcel labelled at ``label_at`` makes (cutoff before it)."""
        return next_instant(self.pickups, label_at + self.cfg.cutoff_minutes / 60.0)

    def _next_round(self, t: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Next delivery round at or after ``t`` that is not inside a closure."""
        out = next_instant(self.delivery_rounds, t)
        for _ in range(10):
            reopened = closed_at(out, region, self.closures)
            moved = reopened > out
            if not moved.any():
                break
            out[moved] = next_instant(self.delivery_rounds, reopened[moved])
        return out

    def ship(self, handoff_at: np.ndarray, service: np.ndarray, region: np.ndarray,
             u: np.ndarray, late_u: np.ndarray | None = None) -> tuple[ShipmentTruth, Scans]:
        """Carry ``n`` parcels handed over at ``handoff_at``; ``u`` is ``(n, DRAW_WIDTH)``.

        ``late_u`` (``(n, 2)``, own stream) draws the late-delivery component
        (``late_delay_prob``); None: no parcel takes it (reshipments).
        A parcel past the end of the calendar (a late reshipment) gets inf times."""
        with np.errstate(invalid="ignore"):
            return self._ship(handoff_at, service, region, u, late_u)

    def late_extra(self, late_u: np.ndarray | None, n: int) -> np.ndarray:
        """Extra line-haul hours of the late-delivery component (0 when it is off)."""
        c = self.cfg
        if late_u is None or c.late_delay_prob <= 0:
            return np.zeros(n)
        hit = late_u[:, 0] < c.late_delay_prob
        return np.where(hit, duration_quantile(c.late_delay, late_u[:, 1]), 0.0)

    def _ship(self, handoff_at: np.ndarray, service: np.ndarray, region: np.ndarray,
              u: np.ndarray, late_u: np.ndarray | None = None) -> tuple[ShipmentTruth, Scans]:
        c = self.cfg
        n = handoff_at.size
        if u.shape != (n, DRAW_WIDTH):
            raise ValueError(f"carrier draws must have shape ({n}, {DRAW_WIDTH}), got {u.shape}")
        loc = region.astype(np.int16) + 1
        nan = np.full(n, np.nan)
        left = u[:, _C["left_behind"]] < c.left_behind_prob
        moving = ~left
        missed_acc = moving & (u[:, _C["missed_acceptance"]] < c.missed_acceptance_scan_prob)

        accepted = handoff_at + _lognormal(c.acceptance_lag_median_hours, c.acceptance_lag_sigma,
                                           u[:, _C["acceptance_lag"]])
        linehaul = np.empty(n)
        for code, level in enumerate(SERVICE_LEVELS):
            m = service == code
            linehaul[m] = duration_quantile(c.transit[level], u[m, _C["linehaul"]])
        linehaul += self.late_extra(late_u, n)
        hub, paused1 = pause_through_closures(accepted, linehaul, region, self.closures)
        sort = _lognormal(c.sort_median_hours, c.sort_sigma, u[:, _C["sort"]])
        ready, paused2 = pause_through_closures(hub, sort, region, self.closures)
        ofd = self._next_round(ready, region)
        window = self.attempt_window
        offset = u[:, _C["attempt_time"]] * window  # the parcel's place on the route
        first_attempt, last_round, redispatched = self._dispatch(ofd, offset, region)
        paused = (paused1 + paused2 + (ofd - next_instant(self.delivery_rounds, ready))
                  + (last_round - ofd))  # fmt: skip

        # loss, by leg; a lost parcel emits nothing after the leg it vanished on
        lost_leg = np.zeros(n, np.int8)
        for code, col in ((LOST_LINEHAUL, "loss_linehaul"), (LOST_AT_HUB, "loss_hub"),
                          (LOST_IN_VAN, "loss_van")):  # fmt: skip
            lost_leg[moving & (lost_leg == 0) & (u[:, _C[col]] < c.loss_prob_per_leg)] = code
        leg_from = np.select([lost_leg == 1, lost_leg == 2, lost_leg == 3],
                             [accepted, hub, last_round], nan)  # fmt: skip
        leg_to = np.select([lost_leg == 1, lost_leg == 2, lost_leg == 3], [hub, ofd, first_attempt], nan)
        lost_at = leg_from + u[:, _C["loss_position"]] * (leg_to - leg_from)
        lost = lost_leg > 0

        damaged = moving & ~lost & (u[:, _C["damage"]] < c.damage_prob)
        damage_return = damaged & (u[:, _C["damage_return"]] < c.damage_return_share)

        scans = _ScanLog()
        scans.add(moving & ~missed_acc, accepted, feed.ACCEPTED, 0)
        reached_hub = moving & ~(lost_leg == LOST_LINEHAUL)
        missed_hub = reached_hub & (u[:, _C["miss_hub_scan"]] < c.scan_miss_prob)
        scans.add(reached_hub & ~missed_hub, hub, feed.HUB, loc)
        missed_transit = self._transit_scans(accepted, linehaul, region, moving, lost_leg,
                                             lost_at, u, loc, scans)
        returned_at = nan.copy()
        scans.add(damage_return, hub, feed.DAMAGED, loc)
        # sent back a day later, or when the region reopens
        returned_at[damage_return] = closed_at(hub[damage_return] + HOURS_PER_DAY,
                                               region[damage_return], self.closures)
        scans.add(damage_return, returned_at, feed.RETURNED, loc)

        out = moving & ~damage_return & ~(lost_leg == LOST_LINEHAUL) & ~(lost_leg == LOST_AT_HUB)
        missed_ofd = out & (u[:, _C["miss_ofd_scan"]] < c.scan_miss_prob)
        scans.add(out & ~missed_ofd, ofd, feed.OUT_FOR_DELIVERY, loc)
        for hit, round_at in redispatched:
            scans.add(out & hit, round_at, feed.OUT_FOR_DELIVERY, loc)
        delivered_at, attempts, paused3 = self._attempts(out & ~lost, first_attempt, offset, region,
                                                         u, loc, scans, returned_at)
        attempts[out & lost] = 0
        paused += paused3
        until = np.fmax(np.fmax(first_attempt, delivered_at), returned_at)
        weather_first = np.where(paused > 0, self._first_pause(accepted, until, region), np.nan)
        weather_scan = (moving & (paused > 0) & (u[:, _C["weather_scan"]] < self.weather_scan_prob)
                        & ~(lost & (lost_at < weather_first)))  # fmt: skip
        scans.add(weather_scan, weather_first, feed.WEATHER, loc)
        returned = damage_return | (attempts == c.max_attempts) & np.isnan(delivered_at) & out & ~lost
        truth = ShipmentTruth(
            left_behind=left, missed_acceptance=missed_acc,
            accepted_at=np.where(moving, accepted, np.nan),
            hub_at=np.where(reached_hub, hub, np.nan),
            first_ofd_at=np.where(out, ofd, np.nan),
            delivered_at=delivered_at, lost_leg=lost_leg, lost_at=lost_at, damaged=damaged,
            returned=returned, returned_at=returned_at, attempts=attempts,
            weather_paused_hours=np.where(moving, paused, 0.0),
            weather_first_at=np.where(moving, weather_first, np.nan),
            missed_scans=(missed_acc.astype(np.int8) + missed_hub + missed_ofd
                          + missed_transit).astype(np.int8),
        )  # fmt: skip
        return truth, scans.collect()

    def _transit_scans(self, accepted: np.ndarray, linehaul: np.ndarray, region: np.ndarray,
                       moving: np.ndarray, lost_leg: np.ndarray, lost_at: np.ndarray,
                       u: np.ndarray, loc: np.ndarray, scans: _ScanLog) -> np.ndarray:
        """Facility scans every ``linehaul_scan_every_hours`` of movement along the line-haul
        (mapped through weather pauses, so none falls inside a closure)."""
        every = self.cfg.linehaul_scan_every_hours
        missed = np.zeros(accepted.size, np.int8)
        if every <= 0:
            return missed
        for k in range(1, MAX_TRANSIT_SCANS + 1):
            due = moving & (k * every < linehaul)
            if not due.any():
                break
            at, _ = pause_through_closures(accepted[due], np.full(due.sum(), k * every),
                                           region[due], self.closures)
            when = np.full(accepted.size, np.nan)
            when[due] = at
            alive = due & ~((lost_leg == LOST_LINEHAUL) & (lost_at <= when))
            miss = alive & (u[:, _C[f"miss_transit_{k}"]] < self.cfg.scan_miss_prob)
            missed += miss
            scans.add(alive & ~miss, when, feed.IN_TRANSIT, loc)
        return missed

    def _first_pause(self, t0: np.ndarray, t1: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Start of the first closure that overlaps ``[t0, t1)`` in the parcel's region."""
        first = np.full(t0.size, np.inf)
        for r, s, e in zip(self.closures.region, self.closures.start, self.closures.end, strict=True):
            hit = (region == r) & (s < t1) & (e > t0)
            first[hit] = np.minimum(first[hit], np.maximum(s, t0[hit]))
        return np.where(np.isfinite(first), first, np.nan)

    def _dispatch(self, round_at: np.ndarray, offset: np.ndarray, region: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """The delivery attempt ``offset`` hours into the round that starts at ``round_at``.

        A closure that begins before the van reaches the parcel calls the round off (the
        parcel goes back to the depot, unscanned) and it goes out again on the next open
        round, at the same place on the route.  Returns ``(attempt, round it went out on,
        [(mask, round) of each re-dispatch]``, the latter for the out-for-delivery scans.
        """
        round_at = round_at.copy()
        redispatched = []
        for _ in range(20):
            stop = self._first_pause(round_at, round_at + offset, region)
            hit = ~np.isnan(stop)
            if not hit.any():
                break
            reopen = closed_at(stop[hit], region[hit], self.closures)
            round_at[hit] = self._next_round(reopen, region[hit])
            redispatched.append((hit, round_at.copy()))
        return round_at + offset, round_at, redispatched

    def _attempts(self, active: np.ndarray, first_attempt: np.ndarray, offset: np.ndarray,
                  region: np.ndarray, u: np.ndarray, loc: np.ndarray, scans: _ScanLog,
                  returned_at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.cfg
        paused = np.zeros(active.size)
        delivered_at = np.full(active.size, np.nan)
        attempts = np.zeros(active.size, np.int8)
        when = first_attempt.copy()
        pending = active.copy()
        for k in range(1, c.max_attempts + 1):
            attempts[pending] = k
            failed = pending & (u[:, _C[f"fail_{k}"]] < c.failed_attempt_prob)
            done = pending & ~failed
            delivered_at[done] = when[done]
            scans.add(done, when, feed.DELIVERED, loc)
            scans.add(failed, when, feed.ATTEMPT_FAILED, loc)
            pending = failed
            if not pending.any():
                break
            nxt = self._next_round(when + 1.0, region)
            if k < c.max_attempts:
                scans.add(pending, nxt, feed.OUT_FOR_DELIVERY, loc)
                # the same time of day as the first attempt: the route is the same
                idx = np.flatnonzero(pending)
                when[idx], last, redispatched = self._dispatch(nxt[idx], offset[idx], region[idx])
                paused[idx] += last - nxt[idx]
                for hit, round_at in redispatched:
                    scans.add_at(idx[hit], round_at[hit], feed.OUT_FOR_DELIVERY, loc)
            else:
                when = np.where(pending, nxt + offset, when)
        # out of attempts: back to the sender the next round
        rts = pending
        returned_at[rts] = self._next_round(when[rts] + 1.0, region[rts])
        scans.add(rts, returned_at, feed.RETURNED, loc)
        return delivered_at, attempts, paused


def _round_hours(cfg: CarrierConfig) -> list[float]:
    """Hours of day of the delivery rounds (one a day unless delivery_round_every_hours)."""
    if not cfg.delivery_round_every_hours:
        return [cfg.delivery_start_hour]
    return list(np.arange(cfg.delivery_start_hour, cfg.delivery_end_hour,
                          cfg.delivery_round_every_hours))


class _ScanLog:
    """Collects masked event columns and concatenates them once."""

    def __init__(self):
        self._parts: list[tuple[np.ndarray, ...]] = []

    def add(self, mask: np.ndarray, time: np.ndarray, kind: tuple[int, int],
            location: np.ndarray | int) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        loc = np.broadcast_to(np.asarray(location, np.int16), mask.shape)[idx]
        self._parts.append((idx, time[idx], np.full(idx.size, kind[0], np.int8),
                            np.full(idx.size, kind[1], np.int8), loc))  # fmt: skip

    def add_at(self, idx: np.ndarray, time: np.ndarray, kind: tuple[int, int],
               location: np.ndarray) -> None:
        """Events of the shipments ``idx`` at ``time`` (aligned with ``idx``)."""
        if idx.size:
            self._parts.append((idx, time, np.full(idx.size, kind[0], np.int8),
                                np.full(idx.size, kind[1], np.int8), location[idx]))  # fmt: skip

    def collect(self) -> Scans:
        if not self._parts:
            e = np.empty(0)
            return Scans(e.astype(np.int64), e, e.astype(np.int8), e.astype(np.int8), e.astype(np.int16))
        cols = [np.concatenate(x) for x in zip(*self._parts, strict=True)]
        return Scans(*cols)
