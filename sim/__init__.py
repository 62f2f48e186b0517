"""exsim: shipment-exception simulator (world model and experiment harness).

The names below are imported on first use (PEP 562), so that ``exsim`` with a bad config
fails in about a second, before numpy/pandas/scipy are loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.api import load_config, run, run_world
    from sim.config import ConfigError, ExsimConfig, ScenarioConfig, validate
    from sim.pipeline import evaluate_many
    from sim.world import World, simulate_world

_WHERE = {
    "ConfigError": "sim.config", "ExsimConfig": "sim.config", "ScenarioConfig": "sim.config",
    "validate": "sim.config", "World": "sim.world", "simulate_world": "sim.world",
    "load_config": "sim.api", "run_world": "sim.api", "run": "sim.api",
    "evaluate_many": "sim.pipeline",
}  # fmt: skip

__all__ = [
    "ConfigError", "ExsimConfig", "ScenarioConfig", "World", "evaluate_many", "load_config",
    "run", "run_world", "simulate_world", "validate",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
