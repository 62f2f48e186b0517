"""Configured rates are reproduced within exact (Clopper-Pearson) 99 % binomial intervals.

The shared stress world raises every rate (see ``conftest.stress_scenario``) so that a
model that ignores a rate, applies it twice or to the wrong population is caught.

The 99 % is family-wise: the module makes ``N_CHECKS`` binomial checks on one world, so each
uses a Bonferroni-corrected exact interval at ``1 - 0.01 / N_CHECKS``.  (At 99 % each, a
correct model would fail one of them for about one seed in eight.)  With ~14,000 orders this
still detects a rate that is off by ~10-15 % of its value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

N_CHECKS = 14  # calls of assert_rate below
LEVEL = 1 - 0.01 / N_CHECKS


def assert_rate(hits, trials, p: float, what: str) -> None:
    k, n = int(np.sum(hits)), int(np.sum(trials))
    assert n >= 300, f"{what}: only {n} trials, no power"
    ci = stats.binomtest(k, n, p).proportion_ci(LEVEL, method="exact")
    assert ci.low <= p <= ci.high, (
        f"{what}: {k}/{n} = {k / n:.4f}, configured {p}, "
        f"{LEVEL:.2%} CI [{ci.low:.4f}, {ci.high:.4f}]"
    )


def _has_event(world, sub: str, at: str | None = None) -> pd.Series:
    feed = world.observation.tracking
    ev = feed[feed["sub_status"] == sub]
    tr = world.truth.orders
    if at is None:
        return tr["tracking_no"].isin(ev["tracking_no"])
    keys = pd.MultiIndex.from_arrays([ev["tracking_no"], ev["time"]])
    return pd.Series(pd.MultiIndex.from_arrays([tr["tracking_no"], tr[at]]).isin(keys),
                     index=tr.index)


def test_mispick_rate_and_kinds(world, scenario):
    tr = world.truth.orders
    w = scenario.warehouse
    mis = tr["mispick"] != "none"
    assert_rate(mis, np.ones(len(tr)), w.mispick_prob, "mis-pick")
    assert_rate(tr.loc[mis, "mispick_caught"], mis[mis], w.pack_check_catch, "pack check catch")
    total = sum(w.mispick_kinds.values())
    assert_rate(tr.loc[mis, "mispick"] == "missing_item", mis[mis],
                w.mispick_kinds["missing_item"] / total, "missing-item share")


def test_left_behind_rate(world, scenario):
    tr = world.truth.orders
    assert_rate(tr["left_behind"], np.ones(len(tr)), scenario.carrier.left_behind_prob,
                "left behind")


def test_loss_rate_per_leg(world, scenario):
    tr = world.truth.orders
    p = scenario.carrier.loss_prob_per_leg
    leg = tr["lost_leg"].astype(str)
    on_linehaul = ~tr["left_behind"]
    assert_rate(leg[on_linehaul] == "linehaul", on_linehaul[on_linehaul], p, "loss on line-haul")
    at_hub = tr["hub_at"].notna()  # reached the destination hub
    assert (at_hub == (on_linehaul & (leg != "linehaul"))).all()
    assert_rate(leg[at_hub] == "hub", at_hub[at_hub], p, "loss at hub")
    in_van = tr["first_ofd_at"].notna()  # went out for delivery
    assert_rate(leg[in_van] == "van", in_van[in_van], p, "loss in van")


def test_damage_rate(world, scenario):
    tr = world.truth.orders
    c = scenario.carrier
    eligible = ~tr["left_behind"] & (tr["lost_leg"] == "none")
    assert_rate(tr.loc[eligible, "damaged"], eligible[eligible], c.damage_prob, "damage")
    dmg = tr["damaged"]
    returned = tr["returned"] & tr["delivered_at"].isna()
    assert_rate(returned[dmg], dmg[dmg], c.damage_return_share, "damaged returned")


def test_missed_scan_rates(world, scenario):
    tr = world.truth.orders
    c = scenario.carrier
    moving = ~tr["left_behind"]
    assert_rate(tr.loc[moving, "missed_acceptance_scan"], moving[moving],
                c.missed_acceptance_scan_prob, "missed acceptance scan")
    # the feed itself: acceptance scans present exactly when not missed
    has_acc = _has_event(world, "accepted", "accepted_at")
    assert (has_acc[moving] == ~tr.loc[moving, "missed_acceptance_scan"]).all()
    at_hub = tr["hub_at"].notna()
    hub_scan = _has_event(world, "arrived_at_hub", "hub_at")
    assert_rate(~hub_scan[at_hub], at_hub[at_hub], c.scan_miss_prob, "missed hub scan")
    out = tr["first_ofd_at"].notna()
    ofd_scan = _has_event(world, "out_for_delivery", "first_ofd_at")
    assert_rate(~ofd_scan[out], out[out], c.scan_miss_prob, "missed out-for-delivery scan")
    # the truth's own count of missed scans: the three above plus the facility scans along
    # the line-haul, whose misses must follow the same per-scan rate
    missed = (tr["missed_acceptance_scan"].astype(int) + (at_hub & ~hub_scan).astype(int)
              + (out & ~ofd_scan).astype(int))
    transit_missed = tr["missed_scans"].to_numpy() - missed.to_numpy()
    assert (transit_missed >= 0).all()
    fd = world.observation.tracking
    shown = fd[fd["sub_status"] == "in_transit"].groupby("tracking_no").size()
    transit_shown = shown.reindex(tr["tracking_no"], fill_value=0).to_numpy()
    assert transit_shown.sum() > 1000
    assert_rate(int(transit_missed.sum()), int(transit_missed.sum() + transit_shown.sum()),
                c.scan_miss_prob, "missed facility scan")


def test_failed_attempt_rate(world, scenario):
    tr = world.truth.orders
    feed = world.observation.tracking
    fails = int((feed["status"] == "AttemptFail").sum())
    attempts = int(tr["attempts"].sum())
    assert_rate(fails, attempts, scenario.carrier.failed_attempt_prob, "failed attempt")
