"""``exsim``: the command line.  Hydra composes the config; this module runs it and
writes the results into the Hydra run folder.  Sits on top: nothing imports it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.api import CONF_DIR, to_config
from sim.config import ConfigError, register_configs


def write_atomic(path: Path, write) -> None:
    """Write through a temporary file and rename, so no reader sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def _run(dcfg: DictConfig) -> None:
    try:
        cfg = to_config(dcfg)
    except ConfigError as err:
        print(f"exsim: {err}", file=sys.stderr)
        sys.exit(2)
    # imported only for a valid config, so that a bad one is refused within a second
    from sim.pipeline import policy_stage
    from sim.progress import stage_bar
    from sim.summary import format_kpis, format_summary, jsonable, world_summary
    from sim.world import simulate_world

    out = Path(HydraConfig.get().runtime.output_dir)
    with stage_bar(f"world '{cfg.scenario.name}'", None if cfg.progress else False) as report:
        world = simulate_world(cfg, progress=report)
    summary = world_summary(world)
    print(format_summary(summary))
    result = policy_stage(world, cfg)
    print(format_kpis(result.kpis, f"policy: detection={cfg.detection.name} "
                                   f"recovery={cfg.recovery.name}"))
    if cfg.write_tables:
        tables = {**world.tables(), **result.tables}
        for name, df in tables.items():
            write_atomic(out / f"{name}.parquet", lambda p, df=df: df.to_parquet(p, index=False))
    write_atomic(out / "summary.json",
                 lambda p: p.write_text(json.dumps(jsonable(summary), indent=2)))
    write_atomic(out / "kpis.json",
                 lambda p: p.write_text(json.dumps(jsonable(result.kpis), indent=2)))
    print(f"results in {out}")


@hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
def _app(dcfg: DictConfig) -> None:
    _run(dcfg)


def main() -> None:
    register_configs()
    _app()


if __name__ == "__main__":
    main()
