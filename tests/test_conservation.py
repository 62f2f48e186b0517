"""Conservation: every order ends in exactly one terminal state, every shipment is
accounted for once, and the feed agrees with the truth about what happened."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.world import TERMINALS


def _events(world, status=None, sub=None) -> pd.Series:
    """Number of feed events per order (indexed like the truth table)."""
    feed = world.observation.tracking
    m = np.ones(len(feed), bool)
    if status is not None:
        m &= (feed["status"] == status).to_numpy()
    if sub is not None:
        m &= (feed["sub_status"] == sub).to_numpy()
    counts = feed.loc[m, "tracking_no"].value_counts()
    tr = world.truth.orders
    return counts.reindex(tr["tracking_no"], fill_value=0).set_axis(tr.index)


def test_every_order_has_exactly_one_terminal_state(world):
    tr = world.truth.orders
    assert len(tr) > 10_000
    assert tr["terminal"].notna().all()
    assert set(tr["terminal"].unique()) <= set(TERMINALS)
    # the terminal state agrees with the flags it is derived from, which are exclusive
    delivered = tr["delivered_at"].notna()
    lost = tr["lost_leg"] != "none"
    flags = pd.DataFrame({
        "never_received": tr["left_behind"], "lost": lost, "returned": tr["returned"],
        "delivered": delivered,
    })  # fmt: skip
    assert (flags.sum(axis=1) == 1).all(), flags[flags.sum(axis=1) != 1].head()
    term = tr["terminal"].astype(str)
    assert (term.str.startswith("delivered") == delivered).all()
    assert ((term == "never_received") == tr["left_behind"]).all()
    assert ((term == "lost") == lost).all()
    assert ((term == "returned") == tr["returned"]).all()
    assert ((term == "delivered_damaged") == (delivered & tr["damaged"])).all()
    kept_mispick = (tr["mispick"] != "none") & ~tr["mispick_caught"]
    assert ((term == "delivered_with_mispick") == (delivered & kept_mispick & ~tr["damaged"])).all()
    # every state is reached in the stress world, so the check above is not vacuous
    assert set(term.unique()) == set(TERMINALS)


def test_every_shipment_is_accounted_for_once(world):
    tr, obs = world.truth.orders, world.observation
    assert obs.orders["tracking_no"].is_unique
    assert tr["tracking_no"].is_unique
    assert (obs.orders["order_id"].to_numpy() == tr["order_id"].to_numpy()).all()
    assert (obs.orders["tracking_no"].to_numpy() == tr["tracking_no"].to_numpy()).all()
    assert obs.tracking["tracking_no"].isin(obs.orders["tracking_no"]).all()
    assert obs.contacts["order_id"].isin(obs.orders["order_id"]).all()


def test_feed_agrees_with_terminal_state(world):
    tr = world.truth.orders
    term = tr["terminal"].astype(str)
    delivered = term.str.startswith("delivered")
    n_delivered = _events(world, "Delivered")
    assert (n_delivered[delivered] == 1).all()
    assert (n_delivered[~delivered] == 0).all()
    # the Delivered event is at the true delivery time
    feed = world.observation.tracking
    dv = feed[feed["status"] == "Delivered"].set_index("tracking_no")["time"]
    t = tr.loc[delivered].set_index("tracking_no")["delivered_at"]
    np.testing.assert_array_equal(dv.reindex(t.index).to_numpy(), t.to_numpy())
    # never received: no carrier event at all
    assert (_events(world)[term == "never_received"] == 0).all()
    # returned parcels: exactly one return-to-sender event; nobody else has one
    n_rts = _events(world, "Exception", "returned_to_sender")
    assert (n_rts[term == "returned"] == 1).all()
    assert (n_rts[term != "returned"] == 0).all()
    # failed attempts: one AttemptFail per failed attempt
    n_fail = _events(world, "AttemptFail")
    expected_fail = np.where(delivered, tr["attempts"] - 1, tr["attempts"])
    out_not_lost = tr["first_ofd_at"].notna() & (tr["lost_leg"] == "none")
    np.testing.assert_array_equal(n_fail[out_not_lost], expected_fail[out_not_lost])


def test_lost_parcels_go_silent(world):
    tr = world.truth.orders
    feed = world.observation.tracking.merge(
        tr[["tracking_no", "lost_at", "handoff_at"]], on="tracking_no")
    lost = feed["lost_at"].notna()
    assert lost.any()
    after = feed.loc[lost & (feed["time"] > feed["lost_at"])]
    # nothing at all is posted after the parcel vanished (not even a weather notice)
    assert after.empty, after.head()
    # no carrier event precedes the handover
    assert (feed["time"] >= feed["handoff_at"]).all()


def test_order_timestamps_are_ordered(world):
    tr = world.truth.orders
    assert (tr["pick_start"] >= tr["placed_at"]).all()
    assert (tr["pick_end"] > tr["pick_start"]).all()
    assert (tr["label_at"] > tr["pick_end"]).all()
    assert (tr["handoff_at"] >= tr["label_at"]).all()
    moving = ~tr["left_behind"]
    assert (tr.loc[moving, "accepted_at"] >= tr.loc[moving, "handoff_at"]).all()
    hub = tr["hub_at"].notna()
    assert (tr.loc[hub, "hub_at"] > tr.loc[hub, "accepted_at"]).all()
    ofd = tr["first_ofd_at"].notna()
    assert (tr.loc[ofd, "first_ofd_at"] > tr.loc[ofd, "hub_at"]).all()
    dv = tr["delivered_at"].notna()
    assert (tr.loc[dv, "delivered_at"] >= tr.loc[dv, "first_ofd_at"]).all()
