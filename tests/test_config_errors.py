"""Bad configs fail fast and clearly: the CLI names the field, the value and what is
allowed, exits non-zero without a Python traceback, and simulates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim import load_config
from sim.config import ConfigError

EXSIM = Path(sys.executable).with_name("exsim")

# (override, strings stderr must contain: the field, the value, the allowed values)
BAD = {
    "probability": (["scenario.warehouse.mispick_prob=1.5"],
                    ["scenario.warehouse.mispick_prob", "1.5", "probability in [0, 1]"]),
    "negative_rate": (["scenario.orders.per_day=-200"],
                      ["scenario.orders.per_day", "-200", "> 0"]),
    "zero_duration": (["scenario.days=0"], ["scenario.days", "0.0", "> 0"]),
    "overlapping_shifts": (
        ["scenario.warehouse.shifts=[{start_hour:6,end_hour:15,pickers:40},"
         "{start_hour:14,end_hour:22,pickers:40}]"],
        ["scenario.warehouse.shifts[1]", "14.0", "15.0", "must not overlap"]),
    "shift_end_before_start": (
        ["scenario.warehouse.shifts=[{start_hour:14,end_hour:6,pickers:40}]"],
        ["scenario.warehouse.shifts[0]", "14.0-6.0", "end_hour must be after start_hour"]),
    "delivery_end_before_start": (["scenario.carrier.delivery_end_hour=7"],
                                  ["scenario.carrier.delivery_end_hour", "7.0",
                                   "after delivery_start_hour = 8.0"]),
    "unknown_key": (["scenario.foo=1"], ["scenario.foo", "Key 'foo' not in 'ScenarioConfig'"]),
    "unknown_preset": (["scenario=nope"], ["scenario/nope", "baseline", "peak", "winter_storm"]),
    "wrong_type": (["scenario.days=abc"], ["scenario.days", "abc", "Float"]),
    "unknown_mispick_kind": (["+scenario.warehouse.mispick_kinds.shredded=0.1"],
                             ["scenario.warehouse.mispick_kinds", "shredded", "missing_item",
                              "wrong_quantity"]),
    "weather_region_not_in_orders": (["scenario.weather.regions=[mars]"],
                                     ["scenario.weather.regions", "mars", "northeast"]),
    "bad_date": (["scenario.start_date=2026-02-30"],
                 ["scenario.start_date", "2026-02-30", "YYYY-MM-DD"]),
    "unknown_distribution": (["scenario.warehouse.pick_time_dist=uniform"],
                             ["scenario.warehouse.pick_time_dist", "uniform", "lognormal",
                              "exponential"]),
}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Run every bad config through the CLI at once (each run is mostly import time)."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "", "PYTHONWARNINGS": "ignore"}
    env.pop("HYDRA_FULL_ERROR")
    procs = {}
    for name, (overrides, _) in BAD.items():
        out = tmp_path_factory.mktemp(name)
        cmd = [str(EXSIM), *overrides, f"hydra.run.dir={out}", "progress=false"]
        procs[name] = (out, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True, env=env))
    runs = {}
    for name, (out, p) in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        runs[name] = (p.returncode, stdout, stderr, out)
    return runs


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_config_is_refused_clearly(cli_runs, name):
    rc, stdout, stderr, out = cli_runs[name]
    assert rc != 0, stdout
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr
    for needle in BAD[name][1]:
        assert needle in stderr, f"{needle!r} not in stderr:\n{stderr}"
    # nothing was simulated or written
    assert "exsim world" not in stdout
    assert not (out / "summary.json").exists()
    assert not list(out.glob("*.parquet"))


def test_several_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as err:
        load_config("scenario.warehouse.mispick_prob=2", "scenario.carrier.scan_miss_prob=-1")
    assert len(err.value.problems) == 2
    text = str(err.value)
    assert "mispick_prob = 2.0" in text and "scan_miss_prob = -1.0" in text


def test_a_good_config_runs(tmp_path):
    """The control: the same command line with a valid override does simulate."""
    r = subprocess.run([str(EXSIM), "scenario.days=0.5", "scenario.orders.per_day=500",
                        f"hydra.run.dir={tmp_path}", "progress=false", "write_tables=false"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "summary.json").exists()
