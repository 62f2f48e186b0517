"""exsim: shipment-exception simulator (world model and experiment harness)."""

from sim.api import load_config, run, run_world
from sim.config import ConfigError, ExsimConfig, ScenarioConfig, validate
from sim.world import World, simulate_world

__all__ = [
    "ConfigError", "ExsimConfig", "ScenarioConfig", "World", "load_config", "run", "run_world",
    "simulate_world", "validate",
]
