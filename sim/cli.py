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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from sim.api import CONF_DIR, to_config
from sim.config import ConfigError, register_configs

if TYPE_CHECKING:
    from sim.experiment.runs import RunRecord

# The experiment layer, the world and scipy load only once a run starts, so that --help
# and a refused config answer at once (bench/startup.py measures it).
__all__ = ["main"]


def sweep_root() -> Path:
    hc = HydraConfig.get()
    root = Path(hc.sweep.dir)
    return root if root.is_absolute() else Path(hc.runtime.cwd) / root


def _record_invalid(out: Path, overrides: list[str], err: ConfigError):
    from sim.experiment.runs import RunRecord, setting_of, write_json

    label, params = setting_of(overrides)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "status.json", {"status": "failed", "setting": label, "params": params,
                                     "overrides": overrides, "error": str(err),
                                     "traceback": ""})  # fmt: skip
    return RunRecord(out, "failed", label, error=str(err).replace("\n", " "))


def objective_value(rec: RunRecord, cfg) -> float:
    """The task's return value: the mean of ``decision.objective.kpi`` over the run's
    replications (NaN for a failed run), so that a Hydra sweeper can optimise it
    (``exsim -m hydra/sweeper=...``; set the sweeper's direction to the decision's)."""
    kpi = cfg.decision.objective.kpi
    if rec.status == "failed" or kpi not in rec.kpis.index:
        return float("nan")
    return float(rec.kpis.loc[kpi, "mean"])


def _run(dcfg: DictConfig) -> float:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    out = Path(hc.runtime.output_dir)
    overrides = list(hc.overrides.task)
    try:
        cfg = to_config(dcfg)
    except ConfigError as err:
        if multirun:  # one bad setting must not stop the sweep
            print(_record_invalid(out, overrides, err).line(), file=sys.stderr, flush=True)
            return float("nan")
        print(f"exsim: {err}", file=sys.stderr)
        sys.exit(2)
    from sim.experiment.cache import cache_for
    from sim.experiment.runs import run_setting
    from sim.experiment.stats import format_kpis
    from sim.summary import format_summary, world_summary

    cache = None
    if multirun and cfg.experiment.world_cache:
        cache = cache_for(sweep_root() / ".worlds", cfg)
    elif cfg.experiment.world_cache_dir:
        cache = cache_for(cfg.experiment.world_cache_dir, cfg)
    rec = run_setting(cfg, out, overrides, cache=cache, resume=cfg.resume,
                      progress=None if cfg.progress else False, keep_world0=not multirun,
                      world_tables=not multirun)  # fmt: skip
    if multirun:
        print(rec.line(), file=sys.stderr, flush=True)
        return objective_value(rec, cfg)
    if rec.status == "failed":
        print(f"exsim: the run failed: {rec.error}\n"
              f"  (traceback in {out / 'status.json'})", file=sys.stderr)  # fmt: skip
        sys.exit(1)
    if rec.status == "skipped":
        print(f"exsim: already finished in {out} (resume=true); KPIs:")
        print(format_kpis(rec.kpis, cfg.experiment.confidence))
        return objective_value(rec, cfg)
    reps = rec.replications
    if reps is not None and reps.world0 is not None:
        print(format_summary(world_summary(reps.world0)))
    print(f"policy: detection={cfg.detection.name} recovery={cfg.recovery.name}")
    from sim.pipeline import describe_team

    print(describe_team(cfg.recovery.team))
    print(format_kpis(rec.kpis, cfg.experiment.confidence))
    print(f"results in {out}")
    return objective_value(rec, cfg)


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


class SweepFolder(Callback):
    """Claims the sweep folder for this sweep before any job runs (``sweep.json``): a
    folder holding another sweep is refused (exit 2) unless ``overwrite=true``.

    Exits itself: Hydra turns a callback's exception into a warning and goes on."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        from sim.config import ExsimConfig
        from sim.configbase import unknown_keys
        from sim.experiment.folder import SweepFolderError, claim

        unknown = [p for p in unknown_keys(config, ExsimConfig) if not p.startswith("hydra")]
        if unknown:  # a typo in a base key would fail every job: refuse the sweep up front
            print("exsim: invalid configuration:\n  " + "\n  ".join(unknown), file=sys.stderr)
            sys.exit(2)
        try:
            claim(self._root(config), list(config.hydra.overrides.task),
                  overwrite=bool(config.get("overwrite", False)))  # fmt: skip
        except SweepFolderError as err:
            print(f"exsim: refused: {err}", file=sys.stderr, flush=True)
            sys.exit(2)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """A sweep none of whose runs finished exits 1, like a failed single run, so that a
        script or a scheduler sees the failure (each run's reason is in its status.json)."""
        from collections import Counter

        from sim.experiment.folder import run_folders, run_state

        root = self._root(config)
        states = Counter(run_state(f) for f in run_folders(root))
        if states and not states["ok"]:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
            print(f"exsim: no run of the sweep finished ({counts}); the reasons are in each "
                  f"run's status.json under {root}", file=sys.stderr, flush=True)  # fmt: skip
            sys.exit(1)

    @staticmethod
    def _root(config: DictConfig) -> Path:
        hc = config.hydra
        root = Path(hc.sweep.dir)
        return root if root.is_absolute() else Path(hc.runtime.cwd) / root


@hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
def _app(dcfg: DictConfig) -> float:
    return _run(dcfg)


HELP = """{app} is powered by Hydra.

== Configuration groups ==
Compose your configuration from those groups (group=option)

{groups}


== Config ==
Override anything in the config (foo.bar=value)

{config}

Powered by Hydra (https://hydra.cc)
Use --hydra-help to view Hydra specific help

"""


def quick_help(app: str, overrides: list[str]) -> str:
    """Hydra's ``--help`` page, made in a fraction of the time: Hydra lists config groups
    by deep-copying the whole config repository once per group (seconds for our schema);
    here the groups are the folders of ``conf/`` and the config is composed once."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    groups = "\n".join(f"{d.name}: {', '.join(sorted(f.stem for f in d.glob('*.yaml')))}"
                       for d in sorted(CONF_DIR.iterdir()) if d.is_dir())
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose("config", overrides=overrides)
    return HELP.format(app=app, groups=groups, config=OmegaConf.to_yaml(cfg))


def refuse_early(args: list[str]) -> None:
    """Exit 2 with the problems of an invalid single-run config after one compose
    (Hydra composes twice before the task starts).  Anything this cannot judge (flags, a
    malformed override) is left to Hydra, which explains it in its own words."""
    if any(a.startswith("-") for a in args):
        return
    from hydra import compose, initialize_config_dir

    overrides = [a for a in args if not a.lstrip("+~").startswith("hydra.")]
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            dcfg = compose("config", overrides=overrides)
    except Exception:
        return
    try:
        to_config(dcfg)
    except ConfigError as err:
        print(f"exsim: {err}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        return


def _config_error(err: BaseException) -> str | None:
    """Hydra's or OmegaConf's message for a bad command line, or None if ``err`` is not one."""
    from hydra.errors import CompactHydraException, HydraException
    from omegaconf.errors import OmegaConfBaseException

    from sim.experiment.folder import SweepFolderError

    if isinstance(err, SweepFolderError):
        return str(err)
    if isinstance(err, CompactHydraException | OmegaConfBaseException) or (
            type(err) is HydraException):  # fmt: skip
        from sim.api import hydra_message

        return hydra_message(err)
    return None


def run_hydra_app(app: Callable[[], object], prog: str) -> None:
    """Run a ``@hydra.main`` app so that every config error exits 2 with its message
    (Hydra's and OmegaConf's own kept) before anything is simulated, and any other error
    exits 1 with one line; a traceback only with ``HYDRA_FULL_ERROR=1``.  Shared by
    ``exsim`` and ``exsim-optimize``."""
    import os

    user_full = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra's errors reach us (it would exit 1)
    try:
        app()
    except Exception as err:
        msg = _config_error(err)
        if user_full and msg is None:
            raise
        if msg is not None:
            print(f"{prog}: invalid command line or config: {msg}", file=sys.stderr)
            sys.exit(2)
        print(f"{prog}: {type(err).__name__}: {err}\n  (HYDRA_FULL_ERROR=1 shows the "
              "traceback)", file=sys.stderr)  # fmt: skip
        sys.exit(1)
    finally:
        if not user_full:
            os.environ.pop("HYDRA_FULL_ERROR", None)


def main() -> None:
    """``exsim``: a refused config answers after one compose, ``--help`` without Hydra's
    slow group listing; then :func:`run_hydra_app`."""
    register_configs()
    args = sys.argv[1:]
    refuse_early(args)
    if ("--help" in args or "-h" in args) and all(a in ("--help", "-h") or not a.startswith("-")
                                                  for a in args):
        try:
            print(quick_help(Path(sys.argv[0]).stem, [a for a in args if not a.startswith("-")]))
            return
        except Exception:  # an override Hydra would explain better: let Hydra answer
            pass
    run_hydra_app(_app, "exsim")


if __name__ == "__main__":
    main()
