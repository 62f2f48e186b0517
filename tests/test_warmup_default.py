"""The default warm-up (docs/warmup.md): a week on runs long enough to spare it, none on
short runs, and an explicit ``warmup_days`` always wins."""

from __future__ import annotations

import pytest

import sim
from sim.config import WARMUP_DAYS, default_warmup_days


@pytest.mark.parametrize("overrides, expected", [
    ((), WARMUP_DAYS),                                     # the 30-day baseline
    (("scenario.days=21",), WARMUP_DAYS),
    (("scenario.days=20",), 0.0),                          # short runs keep every day
    (("scenario.days=2",), 0.0),
    (("scenario.days=30", "warmup_days=3"), 3.0),          # explicit wins
    (("scenario.days=4", "warmup_days=1.5"), 1.5),
])  # fmt: skip
def test_default_warmup_follows_the_horizon(overrides, expected):
    assert sim.load_config(*overrides).warmup_days == expected


def test_default_warmup_rule():
    assert WARMUP_DAYS == 7.0
    assert [default_warmup_days(d) for d in (1, 20.9, 21, 365)] == [0.0, 0.0, 7.0, 7.0]
