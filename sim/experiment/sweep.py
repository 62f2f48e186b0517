"""Sweeps from Python, laid out exactly like a Hydra multirun (so ``exsim-report`` reads both).

    >>> from sim.experiment import sweep
    >>> s = sweep(["scenario.days=7"], {"scenario.carrier.scan_miss_prob": [0.01, 0.05]}, n=5)
    >>> s.results()                      # one row per setting x KPI, with CIs

Worlds are cached in ``<out_dir>/.worlds`` and shared by every setting with the same
scenario and seed, as in a CLI sweep.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from sim.api import load_config
from sim.experiment.cache import WorldCache
from sim.experiment.collect import Collected, collect, results_table
from sim.experiment.runs import RunRecord, run_setting


def grid_overrides(grid: Mapping[str, Sequence]) -> list[list[str]]:
    """``{"a": [1, 2], "b": ["x"]}`` -> ``[["a=1", "b=x"], ["a=2", "b=x"]]`` (Hydra's order)."""
    keys = list(grid)
    return [[f"{k}={v}" for k, v in zip(keys, combo, strict=True)]
            for combo in itertools.product(*(grid[k] for k in keys))]  # fmt: skip


@dataclass
class SweepResult:
    root: Path
    records: list[RunRecord]

    def collected(self) -> Collected:
        return collect(self.root)

    def results(self, baseline: str | None = None) -> pd.DataFrame:
        """One row per setting x KPI (mean, CI, N) and paired differences to ``baseline``."""
        c = self.collected()
        return results_table(c, baseline)

    @property
    def reps(self) -> pd.DataFrame:
        """Per-replication KPIs of every finished run."""
        return self.collected().reps

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.records if r.status == "failed"]


def sweep(base_overrides: Iterable[str] = (), grid: Mapping[str, Sequence] | None = None,
          n: int | None = None, out_dir: str | Path | None = None, *, resume: bool = False,
          world_cache: bool = True, progress: bool | None = None,
          verbose: bool = False) -> SweepResult:
    """Run every combination of ``grid`` (on top of ``base_overrides``) with ``n`` replications.

    Each setting goes to ``out_dir/<k>`` (k = 0, 1, ... in grid order, like Hydra's job
    numbers); a failing setting is recorded and the sweep goes on; ``resume=True`` skips
    settings already finished in ``out_dir``.
    """
    base = list(base_overrides)
    if n is not None:
        base.append(f"replications={n}")
    combos = grid_overrides(grid or {})
    root = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="exsim-sweep-"))
    root.mkdir(parents=True, exist_ok=True)
    cache = WorldCache(root / ".worlds") if world_cache else None
    records = []
    for k, combo in enumerate(tqdm(combos, desc="sweep", unit="run", file=sys.stderr,
                                   disable=progress is False)):  # fmt: skip
        overrides = base + combo
        folder = root / str(k)
        try:
            cfg = load_config(*overrides)
        except Exception as err:  # invalid setting: recorded, the sweep goes on
            from sim.experiment.runs import setting_of, write_json

            folder.mkdir(parents=True, exist_ok=True)
            label, params = setting_of(overrides)
            write_json(folder / "status.json", {"status": "failed", "setting": label,
                                                "params": params, "overrides": overrides,
                                                "error": f"{type(err).__name__}: {err}"})  # fmt: skip
            records.append(RunRecord(folder, "failed", label, error=str(err)))
            continue
        rec = run_setting(cfg, folder, overrides, cache=cache, resume=resume,
                          progress=False if progress is False else None)  # fmt: skip
        if verbose:
            print(rec.line(), file=sys.stderr)
        records.append(rec)
    return SweepResult(root, records)
