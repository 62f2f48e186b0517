"""Choosing a policy (DESIGN §11): an objective and constraints, an Optuna search on
common worlds, a ranking-and-selection clean-up on fresh worlds, a recommendation.

    >>> from sim.decide import optimize
    >>> rec = optimize(["scenario.days=7"], out_dir="outputs/choose")
    >>> rec["policy_overrides"], rec["difference"]

Names are imported on first use, so that ``sim.config`` can import the decision config
without pulling in Optuna.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DecisionConfig": "sim.decide.config", "kim_nelson": "sim.decide.select",
    "holm": "sim.decide.select", "optimize": "sim.decide.choose",
}  # fmt: skip

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sim.decide' has no attribute {name!r}")
