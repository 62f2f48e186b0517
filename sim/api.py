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
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from sim.config import ExsimConfig, register_configs, validate

if TYPE_CHECKING:  # the world (numpy, pandas, scipy) is imported when a run starts
    from sim.pipeline import RunResult
    from sim.world import World

def _conf_dir() -> Path:
    """``sim/conf`` in an installed wheel (copied there at build time, see setup.py), else
    the checkout's top-level ``conf/``."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return packaged if (packaged / "config.yaml").is_file() else here.parent / "conf"


CONF_DIR = _conf_dir()


def to_config(cfg: DictConfig) -> ExsimConfig:
    """A composed Hydra config -> validated dataclasses (raises ConfigError).

    Also refuses keys the schema does not have (``+scenario.dayz=3``) and an
    ``experiment.target_kpi`` that names no KPI -- before anything is simulated."""
    from sim.configbase import ConfigError, unknown_keys
    from sim.limits import kpi_problems

    unknown = unknown_keys(cfg, ExsimConfig)
    obj = OmegaConf.to_object(cfg)
    if not isinstance(obj, ExsimConfig):
        raise TypeError(f"expected an ExsimConfig, got {type(obj).__name__}")
    try:
        validate(obj)
    except ConfigError as err:
        raise ConfigError(unknown + err.problems) from None
    problems = unknown + kpi_problems("experiment.target_kpi", obj.experiment.target_kpi)
    if problems:
        raise ConfigError(problems)
    return obj


def load_config(*overrides: str | Iterable[str]) -> ExsimConfig:
    """Compose ``conf/config.yaml`` with Hydra overrides, exactly as ``exsim`` does.

    Every bad override raises :class:`~sim.config.ConfigError` (Hydra's and OmegaConf's
    own errors too, with their message), so callers need to catch one exception type."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from sim.configbase import ConfigError

    flat: list[str] = []
    for o in overrides:
        flat.extend([o] if isinstance(o, str) else o)
    register_configs()
    try:
        if GlobalHydra.instance().is_initialized():  # inside a running Hydra app
            return to_config(compose("config", overrides=flat))
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            return to_config(compose("config", overrides=flat))
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError([hydra_message(err).replace("\n", "\n    ")]) from err


def hydra_message(err: BaseException) -> str:
    """Hydra's message for a bad override, with OmegaConf's cause (as Hydra prints it)."""
    from omegaconf.errors import OmegaConfBaseException

    msg = str(err)
    cause = err.__cause__
    if isinstance(cause, OmegaConfBaseException) and str(cause) not in msg:
        msg += "\n" + str(cause)
    if "To append to your config use +" in msg:
        msg += ("\n(exsim refuses keys its schema does not have, with or without '+'; "
                "`exsim --cfg job` lists the fields)")
    return msg


def run_world(cfg: ExsimConfig | None = None, *, seed: int | None = None,
              replication: int = 0, progress: bool = False) -> World:
    """Simulate the world of ``cfg`` (default: the baseline).  Returns a :class:`World`
    whose ``tables()`` are pandas DataFrames."""
    from sim.world import simulate_world

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
    from sim.pipeline import run_once

    cfg = cfg if cfg is not None else load_config()
    return run_once(cfg, replication=replication, world=world)
