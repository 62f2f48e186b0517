"""The observable types carry no truth and refuse it."""

from __future__ import annotations

import dataclasses

import pytest

from sim.observe import (
    ALERT_COLUMNS,
    CONTACT_COLUMNS,
    ORDER_COLUMNS,
    TRACKING_COLUMNS,
    Observation,
    TruthLeakError,
)  # fmt: skip

TRUTH_ONLY = ("terminal", "lost_leg", "lost_at", "damaged", "delivered_at", "left_behind",
              "mispick", "exception", "weather_paused_hours")  # fmt: skip


def test_truth_columns_exist_only_in_the_truth(world):
    truth_cols = set(world.truth.orders.columns)
    assert set(TRUTH_ONLY) <= truth_cols
    obs = world.observation
    for df, allowed in ((obs.orders, ORDER_COLUMNS), (obs.tracking, TRACKING_COLUMNS),
                        (obs.contacts, CONTACT_COLUMNS), (obs.alerts, ALERT_COLUMNS)):
        assert set(df.columns) <= set(allowed)
        assert not set(df.columns) & set(TRUTH_ONLY)


def test_reading_truth_from_an_observation_fails(world):
    obs = world.observation
    assert {f.name for f in dataclasses.fields(obs)} == {
        "orders", "tracking", "contacts", "alerts", "horizon"}
    for name in ("truth", "ground_truth", "world", "closures"):
        with pytest.raises(AttributeError):
            getattr(obs, name)
    with pytest.raises(AttributeError):
        obs.__dict__  # noqa: B018  (slots: no instance dict to smuggle truth in)
    with pytest.raises(AttributeError):  # frozen: nothing can be attached afterwards
        obs.truth = world.truth  # type: ignore[misc]
    with pytest.raises(AttributeError):
        object.__setattr__(obs, "truth", world.truth)
    with pytest.raises(KeyError):
        obs.orders["terminal"]  # noqa: B018


@pytest.mark.parametrize("table", ["orders", "tracking", "contacts", "alerts"])
@pytest.mark.parametrize("column", ["terminal", "lost_leg", "delivered_at"])
def test_constructing_with_a_truth_column_raises(world, table, column):
    obs = world.observation
    tables = {"orders": obs.orders, "tracking": obs.tracking, "contacts": obs.contacts,
              "alerts": obs.alerts}
    leaky = tables[table].head(5).copy()
    leaky[column] = 0
    tables[table] = leaky
    with pytest.raises(TruthLeakError, match=column):
        Observation(**tables, horizon=obs.horizon)
    with pytest.raises(TruthLeakError):
        dataclasses.replace(obs, **{table: leaky})


def test_a_truth_table_cannot_pose_as_the_feed(world):
    obs = world.observation
    with pytest.raises(TruthLeakError):
        Observation(world.truth.orders, obs.tracking, obs.contacts, obs.alerts, obs.horizon)


def test_a_world_survives_pickling_frozen(world):
    """The world cache pickles worlds; the frozen, slotted types must come back intact."""
    import pickle

    import pandas as pd

    again = pickle.loads(pickle.dumps(world))
    pd.testing.assert_frame_equal(again.observation.tracking, world.observation.tracking)
    pd.testing.assert_frame_equal(again.truth.orders, world.truth.orders)
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.observation.orders = None
