"""Policies as configs and their KPIs on given worlds (the only place that runs the model).

``Problem`` holds the composed base config (the user's overrides) and builds a policy's
config from its ``key=value`` overrides exactly as Hydra would (``OmegaConf.update`` with
Hydra's override parser), without composing the whole config again per trial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from sim.api import CONF_DIR, to_config
from sim.config import ExsimConfig, register_configs
from sim.world import World


def compose(overrides: Sequence[str]) -> DictConfig:
    """``conf/config.yaml`` with ``overrides``, as a DictConfig (what ``exsim`` composes)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    if GlobalHydra.instance().is_initialized():
        return hydra_compose("config", overrides=list(overrides))
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return hydra_compose("config", overrides=list(overrides))


def _key(o: str) -> str:
    return o.split("=", 1)[0].lstrip("+~")


@dataclass
class Problem:
    """The composed base (``base_overrides``) and the status quo on top of it."""

    base_overrides: list[str]
    base: DictConfig
    status_quo_overrides: list[str]

    @classmethod
    def from_overrides(cls, overrides: Sequence[str], status_quo: Sequence[str]) -> Problem:
        base = [o for o in overrides if not _key(o).startswith(("decision", "hydra"))]
        return cls(base, compose(list(overrides)), list(status_quo))

    @property
    def cfg(self) -> ExsimConfig:
        return to_config(self.base)

    def policy(self, overrides: Sequence[str]) -> ExsimConfig:
        """The base config with a policy's ``key=value`` overrides applied."""
        from hydra.core.override_parser.overrides_parser import OverridesParser

        c = self.base.copy()
        for o in OverridesParser.create().parse_overrides(list(overrides)):
            OmegaConf.update(c, o.key_or_group, o.value(), merge=True)
        return to_config(c)

    def status_quo(self) -> ExsimConfig:
        """The status quo on the same worlds (its overrides may change the policy only)."""
        from sim.config import ConfigError

        keys = {_key(o) for o in self.status_quo_overrides}
        base = [o for o in self.base_overrides if _key(o) not in keys]
        sq = to_config(compose([*base, *self.status_quo_overrides]))
        if sq.scenario != self.cfg.scenario or sq.seed != self.cfg.seed:
            raise ConfigError([f"decision.status_quo = {self.status_quo_overrides}: must change "
                               "the policy only (detection, recovery), not the scenario or "
                               "seed: every comparison is on the same worlds"])
        return sq

    def run_overrides(self, policy: Sequence[str]) -> list[str]:
        """Everything ``exsim`` needs to reproduce a policy on this problem's scenario."""
        keys = {_key(o) for o in policy}
        return [o for o in self.base_overrides if _key(o) not in keys] + list(policy)


def evaluate(cfgs: Sequence[ExsimConfig], world: World) -> list[dict[str, float]]:
    """KPIs of every config on one world, through the batch API (one polled feed shared
    by all; identical to one policy stage per config)."""
    from sim.pipeline import evaluate_many

    return [{k: float(v) for k, v in r.kpis.items()} for r in evaluate_many(world, list(cfgs))]
