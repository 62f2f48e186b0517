"""``conf/scenario/baseline.yaml`` (values with their sources) and the dataclass defaults
(the code) must not drift apart; the other presets must compose and validate."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import OmegaConf

from sim import load_config
from sim.config import ExsimConfig, ScenarioConfig


def test_baseline_yaml_equals_dataclass_defaults():
    composed = load_config()
    assert composed.scenario == ScenarioConfig()
    # same values *and* types, field by field (5000 vs 5000.0 would pass ==)
    a = OmegaConf.to_yaml(OmegaConf.structured(composed.scenario))
    b = OmegaConf.to_yaml(OmegaConf.structured(ScenarioConfig()))
    assert a == b
    assert dataclasses.asdict(composed.scenario) == dataclasses.asdict(ScenarioConfig())
    top = ExsimConfig()
    assert (composed.seed, composed.progress, composed.write_tables) == (
        top.seed, top.progress, top.write_tables)


def test_the_comparison_can_fail():
    assert load_config("scenario.carrier.damage_prob=0.006").scenario != ScenarioConfig()


@pytest.mark.parametrize("preset", ["peak", "winter_storm"])
def test_presets_compose_and_differ_from_baseline(preset):
    cfg = load_config(f"scenario={preset}")
    assert cfg.scenario.name == preset
    assert cfg.scenario != ScenarioConfig()
