"""Bad configs fail fast and clearly: the field, the value and what is allowed, before any
simulation; the CLI exits 2 without a traceback.

Checked in-process (the Python API raises ConfigError for every bad override, Hydra's own
errors included; the CLI's ``main`` is called with a patched argv), plus three real
``exsim`` processes run one at a time, each with a timeout that kills it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sim.cli
from sim import load_config
from sim.config import ConfigError

EXSIM = Path(sys.executable).with_name("exsim")
TINY = ("scenario.days=2", "scenario.orders.per_day=300", "progress=false")

# name: (overrides, strings the message must contain: the field, the value, what is allowed)
BAD = {
    "probability": (["scenario.warehouse.mispick_prob=1.5"],
                    ["scenario.warehouse.mispick_prob", "1.5", "probability in [0, 1]"]),
    "negative_rate": (["scenario.orders.per_day=-200"], ["scenario.orders.per_day", "-200", "> 0"]),
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
    "unknown_key": (["scenario.foo=1"], ["scenario.foo", "Key 'foo' not in 'ScenarioConfig'",
                                         "refuses keys its schema does not have"]),
    "unknown_key_plus": (["+scenario.dayz=3"],
                         ["scenario.dayz = 3", "not a field of scenario", "did you mean 'days'"]),
    "unknown_nested_key_plus": (["+detection.no_movment.hours=12"],
                                ["detection.no_movment", "did you mean 'no_movement'",
                                 "'no_first_scan'"]),
    "unknown_top_key_plus": (["+seed2=1"], ["seed2 = 1", "did you mean 'seed'"]),
    "unknown_key_in_list_item": (["+scenario.warehouse.shifts.0.breaks=1"],
                                 ["scenario.warehouse.shifts[0].breaks", "'pickers'"]),
    "unknown_preset": (["scenario=nope"], ["scenario/nope", "baseline", "peak", "winter_storm"]),
    "unknown_detection_preset": (["detection=nope"], ["detection/nope", "no_movement_48h"]),
    "wrong_type": (["scenario.days=abc"], ["scenario.days", "abc", "Float"]),
    "bad_override_syntax": (["scenario.days=["], ["no viable alternative at input '['"]),
    "unknown_mispick_kind": (["+scenario.warehouse.mispick_kinds.shredded=0.1"],
                             ["scenario.warehouse.mispick_kinds", "shredded", "missing_item"]),
    "weather_region_not_in_orders": (["scenario.weather.regions=[mars]"],
                                     ["scenario.weather.regions", "mars", "northeast"]),
    "bad_date": (["scenario.start_date=2026-02-30"],
                 ["scenario.start_date", "2026-02-30", "YYYY-MM-DD"]),
    "date_out_of_range": (["scenario.start_date=9999-12-01"],
                          ["scenario.start_date", "9999-12-01", "between 1900-01-01 and 2199-12-31"]),
    "unknown_distribution": (["scenario.warehouse.pick_time_dist=uniform"],
                             ["scenario.warehouse.pick_time_dist", "uniform", "lognormal"]),
    "too_many_days": (["scenario.days=100000"], ["scenario.days = 100000.0", "at most 3660"]),
    "too_many_orders": (["scenario.orders.per_day=1e9"],
                        ["scenario.orders.per_day = 1e+09", "GB of memory", "max_memory_gb"]),
    "memory_cap": (["experiment.max_memory_gb=0.01"],
                   ["expected orders", "experiment.max_memory_gb = 0.01"]),
    "seed_float": (["seed=1e23"], ["seed", "1e+23", "Integer"]),
    "seed_too_big": (["seed=100000000000000000000000"],
                     ["seed = 100000000000000000000000", "[0, 2**63 - 1]"]),
    "seed_negative": (["seed=-1"], ["seed = -1", "integer >= 0"]),
    "int16_items": (["scenario.orders.extra_items_mean=40000"],
                    ["scenario.orders.extra_items_mean = 40000.0", "at most 100"]),
    "zero_expected_orders": (["scenario.days=0.001"],
                             ["expected orders to score", "scenario.days = 0.001", "at least 10"]),
    "all_orders_in_warmup": (["scenario.days=3", "warmup_days=2.99999"],
                             ["expected orders to score", "warmup_days", "at least 10"]),
    "warmup_longer_than_run": (["scenario.days=3", "warmup_days=5"],
                               ["warmup_days = 5.0", "less than scenario.days = 3.0"]),
    "closure_too_long": (["scenario.weather.duration_days_max=1e5"],
                         ["scenario.weather.duration_days_max = 100000.0", "at most 60 days"]),
    "poll_beyond_horizon": (["detection.poll_hours=1e12"],
                            ["detection.poll_hours = 1000000000000.0", "order horizon"]),
    "promise_too_far": (["scenario.orders.promise_business_days.ground=1000"],
                        ["promise_business_days.ground = 1000", "at most 60"]),
    "transit_too_long": (["scenario.carrier.transit.ground.median_hours=1e9"],
                         ["scenario.carrier.transit.ground.median_hours", "at most 1440"]),
    "unknown_target_kpi": (["experiment.target_kpi=cost_per_ordr"],
                           ["experiment.target_kpi = 'cost_per_ordr'", "did you mean "
                            "'cost_per_order'", "stars_mean"]),
    "confidence": (["experiment.confidence=1.5"], ["experiment.confidence = 1.5", "[0.5, 1)"]),
    "zero_replications": (["replications=0"], ["replications = 0", "integer >= 1"]),
    "cache_cap": (["experiment.world_cache_max_gb=-1"],
                  ["experiment.world_cache_max_gb = -1.0", "> 0"]),
    "negative_window": (["detection.no_movement.hours=-5"],
                        ["detection.no_movement.hours = -5.0", "> 0"]),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_config_is_refused_by_the_api(name):
    overrides, needles = BAD[name]
    with pytest.raises(ConfigError) as err:
        load_config(*overrides)
    text = str(err.value)
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"


# the CLI in-process: exit 2, the message on stderr, no traceback, nothing written
CLI_CASES = ["unknown_key", "unknown_key_plus", "unknown_preset", "wrong_type",
             "bad_override_syntax", "seed_float", "too_many_orders", "zero_expected_orders",
             "unknown_target_kpi", "poll_beyond_horizon"]  # fmt: skip


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_exits_2_with_the_message(name, tmp_path, monkeypatch, capsys):
    overrides, needles = BAD[name]
    monkeypatch.setattr(sys, "argv", ["exsim", *overrides, f"hydra.run.dir={tmp_path / 'r'}",
                                      "progress=false"])  # fmt: skip
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as e:
        sim.cli.main()
    assert e.value.code == 2
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    for needle in needles:
        assert needle in out.err, f"{needle!r} not in stderr:\n{out.err}"
    assert not list(tmp_path.rglob("*.parquet")) and not list(tmp_path.rglob("summary.json"))
    assert "HYDRA_FULL_ERROR" not in os.environ  # main() restores the environment


def test_several_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as err:
        load_config("scenario.warehouse.mispick_prob=2", "scenario.carrier.scan_miss_prob=-1",
                    "+scenario.dayz=1")  # fmt: skip
    assert len(err.value.problems) == 3
    text = str(err.value)
    assert "mispick_prob = 2.0" in text and "scan_miss_prob = -1.0" in text
    assert "scenario.dayz" in text


def _exsim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """One real process; subprocess.run kills it if it outlives the timeout."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([str(EXSIM), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize("args, needle", [
    (["+scenario.dayz=3"], "scenario.dayz = 3"),
    (["scenario=nope"], "Could not find 'scenario/nope'"),
])  # fmt: skip
def test_real_cli_process_exits_2(tmp_path, args, needle):
    p = _exsim(*args, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "r" / "summary.json").exists()


def test_a_good_config_runs(tmp_path):
    """The control: the same command line with valid overrides does simulate (exit 0)."""
    p = _exsim("scenario.days=0.5", "scenario.orders.per_day=500", f"hydra.run.dir={tmp_path}",
               "progress=false", "write_tables=false", cwd=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "summary.json").exists()
