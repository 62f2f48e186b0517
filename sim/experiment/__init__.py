"""Experiments a planner can trust: replications with t-intervals, paired comparisons on
common random numbers, sweeps with a shared world cache, and the tidy tables of a sweep.

    >>> import sim
    >>> from sim.experiment import replicate, compare, sweep
    >>> cfg = sim.load_config("scenario.days=7")
    >>> replicate(cfg, 10).summary()               # mean, sd, 95 % CI, N per KPI
    >>> compare(cfg, sim.load_config("scenario.days=7", "scenario.carrier.scan_miss_prob=0.05"), 10).diff
    >>> sweep(["scenario.days=7"], {"scenario.carrier.scan_miss_prob": [0.01, 0.05]}, n=5).results()
"""

from sim.experiment.cache import WorldCache, world_key
from sim.experiment.collect import Collected, collect, results_table
from sim.experiment.core import Comparison, Replications, compare, replicate
from sim.experiment.folder import SweepFolderError, run_state
from sim.experiment.runs import RunRecord, run_setting, setting_of
from sim.experiment.stats import (
    Family,
    family_tests,
    holm,
    paired_diff,
    paired_table,
    summarize,
    t_interval,
    welch_diff,
)
from sim.experiment.sweep import SweepResult, grid_overrides, sweep

__all__ = [
    "Collected", "Comparison", "Family", "family_tests", "holm", "Replications", "RunRecord", "SweepResult", "WorldCache",
    "collect", "compare", "grid_overrides", "paired_diff", "paired_table", "replicate",
    "results_table", "run_setting", "run_state", "setting_of", "SweepFolderError",
    "summarize", "sweep", "t_interval", "welch_diff", "world_key",
]
