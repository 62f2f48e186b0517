"""``exsim-optimize``: choose a policy from the command line (Hydra overrides as in exsim).

    exsim-optimize                                   # baseline, decision=default
    exsim-optimize scenario=peak decision.budget.trials=50 decision.budget.worlds=3
    exsim-optimize decision=cost_only hydra.run.dir=outputs/choose   # same dir again: resume

Writes the study, ``trials.parquet``, ``recommendation.json``, ``report.html`` and
``report.md`` into the Hydra run folder; prints the recommendation.  An invalid config
exits 2 before any world is simulated.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.api import CONF_DIR, to_config
from sim.config import ConfigError, register_configs


@hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
def _app(dcfg: DictConfig) -> float:
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    overrides = list(hc.overrides.task)
    try:
        cfg = to_config(dcfg)
    except ConfigError as err:
        print(f"exsim-optimize: {err}", file=sys.stderr)
        sys.exit(2)
    from sim.decide.choose import optimize
    from sim.decide.report import headline

    try:
        rec = optimize(overrides, out, progress=None if cfg.progress else False)
    except ConfigError as err:  # e.g. a status quo that changes the scenario
        print(f"exsim-optimize: {err}", file=sys.stderr)
        sys.exit(2)
    if "policy" not in rec:  # decision.stage=search: a worker's share of the study
        print(f"exsim-optimize: the study holds {rec['trials']} completed trials ({out})")
        return float("nan")
    print(headline(rec))
    print(f"reproduce: exsim {' '.join(rec['run_overrides'])}")
    print(f"results in {out} (report.html, recommendation.json, trials.parquet)")
    return float(rec["objective"]["mean"])


def main() -> None:
    """Config errors exit 2 (Hydra's and OmegaConf's messages kept), before any world."""
    from sim.cli import run_hydra_app

    register_configs()
    run_hydra_app(_app, "exsim-optimize")


if __name__ == "__main__":
    main()
