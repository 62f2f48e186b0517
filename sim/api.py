"""Python entry points that mirror the CLI: compose a config with the same overrides,
run, get DataFrames.  For notebooks and scripts.

    >>> import sim
    >>> cfg = sim.load_config("scenario=peak", "scenario.days=7")
    >>> world = sim.run_world(cfg)
    >>> world.truth.orders.head()
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from sim.config import ExsimConfig, register_configs, validate
from sim.pipeline import RunResult, run_once
from sim.world import World, simulate_world

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def to_config(cfg: DictConfig) -> ExsimConfig:
    """A composed Hydra config -> validated dataclasses (raises ConfigError)."""
    obj = OmegaConf.to_object(cfg)
    if not isinstance(obj, ExsimConfig):
        raise TypeError(f"expected an ExsimConfig, got {type(obj).__name__}")
    validate(obj)
    return obj


def load_config(*overrides: str | Iterable[str]) -> ExsimConfig:
    """Compose ``conf/config.yaml`` with Hydra overrides, exactly as ``exsim`` does."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    flat: list[str] = []
    for o in overrides:
        flat.extend([o] if isinstance(o, str) else o)
    register_configs()
    if GlobalHydra.instance().is_initialized():  # inside a running Hydra app
        return to_config(compose("config", overrides=flat))
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return to_config(compose("config", overrides=flat))


def run_world(cfg: ExsimConfig | None = None, *, seed: int | None = None,
              replication: int = 0, progress: bool = False) -> World:
    """Simulate the world of ``cfg`` (default: the baseline).  Returns a :class:`World`
    whose ``tables()`` are pandas DataFrames."""
    cfg = cfg if cfg is not None else load_config()
    if not progress:
        return simulate_world(cfg, seed=seed, replication=replication)
    from sim.progress import stage_bar

    with stage_bar("world") as report:
        return simulate_world(cfg, seed=seed, replication=replication, progress=report)


def run(cfg: ExsimConfig | None = None, *, world: World | None = None,
        replication: int = 0) -> RunResult:
    """World (or a recorded ``world``) then the policy stage: what ``exsim`` runs.

    ``result.kpis`` is a dict of floats; ``result.tables`` holds DataFrames: ``outcomes``
    (one row per order: cost ledger, arrival, stars, ...), ``alerts`` (with their outcome),
    ``cases``, ``actions`` and ``rules`` (precision/recall/latency per detection rule).
    """
    cfg = cfg if cfg is not None else load_config()
    return run_once(cfg, replication=replication, world=world)
