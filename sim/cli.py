"""``exsim``: the command line.  Hydra composes the config; this module runs it and
writes the results into the Hydra run folder.  Sits on top: nothing imports it.

Single run (``exsim ...``): prints the world summary of replication 0 and the KPI table
(means with 95 % CIs), writes ``status.json``, ``summary.json``, ``kpis.json``,
``replications.parquet`` and the tables as Parquet into the run folder; a failing run
exits 1 with the error (traceback in ``status.json``), an invalid config exits 2.

Multirun (``exsim -m ...``): every job is one setting; a job that fails is recorded in its
folder and the sweep goes on; one line per finished run on stderr; worlds are cached in
``<sweep dir>/.worlds`` and shared by settings with the same scenario and seed;
``resume=true`` skips runs already finished in the same ``hydra.sweep.dir``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from sim.api import CONF_DIR, to_config
from sim.config import ConfigError, register_configs
from sim.experiment.cache import WorldCache
from sim.experiment.runs import RunRecord, run_setting, setting_of, write_atomic, write_json
from sim.experiment.stats import format_kpis
from sim.summary import format_summary, world_summary

__all__ = ["main", "write_atomic"]


def sweep_root() -> Path:
    hc = HydraConfig.get()
    root = Path(hc.sweep.dir)
    return root if root.is_absolute() else Path(hc.runtime.cwd) / root


def _record_invalid(out: Path, overrides: list[str], err: ConfigError) -> RunRecord:
    label, params = setting_of(overrides)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "status.json", {"status": "failed", "setting": label, "params": params,
                                     "overrides": overrides, "error": str(err),
                                     "traceback": ""})  # fmt: skip
    return RunRecord(out, "failed", label, error=str(err).replace("\n", " "))


def _run(dcfg: DictConfig) -> None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    out = Path(hc.runtime.output_dir)
    overrides = list(hc.overrides.task)
    try:
        cfg = to_config(dcfg)
    except ConfigError as err:
        if multirun:  # one bad setting must not stop the sweep
            print(_record_invalid(out, overrides, err).line(), file=sys.stderr, flush=True)
            return
        print(f"exsim: {err}", file=sys.stderr)
        sys.exit(2)
    cache = None
    if multirun and cfg.experiment.world_cache:
        cache = WorldCache(sweep_root() / ".worlds")
    elif cfg.experiment.world_cache_dir:
        cache = WorldCache(cfg.experiment.world_cache_dir)
    rec = run_setting(cfg, out, overrides, cache=cache, resume=cfg.resume,
                      progress=None if cfg.progress else False, keep_world0=not multirun,
                      world_tables=not multirun)  # fmt: skip
    if multirun:
        print(rec.line(), file=sys.stderr, flush=True)
        return
    if rec.status == "failed":
        print(f"exsim: the run failed: {rec.error}\n"
              f"  (traceback in {out / 'status.json'})", file=sys.stderr)  # fmt: skip
        sys.exit(1)
    if rec.status == "skipped":
        print(f"exsim: already finished in {out} (resume=true); KPIs:")
        print(format_kpis(rec.kpis, cfg.experiment.confidence))
        return
    reps = rec.replications
    if reps is not None and reps.world0 is not None:
        print(format_summary(world_summary(reps.world0)))
    print(f"policy: detection={cfg.detection.name} recovery={cfg.recovery.name}")
    from sim.pipeline import describe_team

    print(describe_team(cfg.recovery.team))
    print(format_kpis(rec.kpis, cfg.experiment.confidence))
    print(f"results in {out}")


def sweep_size(task_overrides: list[str]) -> int | None:
    """How many jobs a ``-m`` sweep of these overrides launches (None if not countable)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        total = 1
        for o in OverridesParser.create().parse_overrides(task_overrides):
            if o.is_sweep_override():
                total *= len(list(o.sweep_iterator()))
        return total
    except Exception:  # e.g. interval sweeps of an optimising sweeper
        return None


class SweepProgress(Callback):
    """A progress bar over the runs of a sweep (stderr, on a terminal).

    The bar advances where jobs end in this process (the basic launcher); parallel
    launchers report each finished run with its own line instead."""

    def __init__(self) -> None:
        self.bar = None

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        from tqdm import tqdm

        total = sweep_size(list(config.hydra.overrides.task))
        self.bar = tqdm(total=total, desc="sweep", unit="run", file=sys.stderr,
                        disable=None if config.get("progress", True) else True)  # fmt: skip

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if self.bar is not None:
            self.bar.close()


@hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
def _app(dcfg: DictConfig) -> None:
    _run(dcfg)


def main() -> None:
    register_configs()
    _app()


if __name__ == "__main__":
    main()
