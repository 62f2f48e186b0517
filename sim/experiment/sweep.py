"""Sweeps from Python, laid out exactly like a Hydra multirun (so ``exsim-report`` reads both).

    >>> from sim.experiment import sweep
    >>> s = sweep(["scenario.days=7"], {"scenario.carrier.scan_miss_prob": [0.01, 0.05]}, n=5)
    >>> s.results()                      # one row per setting x KPI, with CIs

Worlds are cached in ``<out_dir>/.worlds`` and shared by every setting with the same
scenario and seed, as in a CLI sweep.  ``out_dir`` belongs to this sweep (``sweep.json``
records its grid and base overrides): another sweep into it is refused unless
``overwrite=True``.  Without ``out_dir`` the sweep runs in a temporary folder that is
removed when it returns (the results are read into memory first): pass ``out_dir`` to keep
the run folders for ``exsim-report`` or a later ``resume``.
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
from sim.experiment.folder import claim
from sim.experiment.runs import RunRecord, run_setting


def grid_overrides(grid: Mapping[str, Sequence]) -> list[list[str]]:
    """``{"a": [1, 2], "b": ["x"]}`` -> ``[["a=1", "b=x"], ["a=2", "b=x"]]`` (Hydra's order)."""
    keys = list(grid)
    return [[f"{k}={v}" for k, v in zip(keys, combo, strict=True)]
            for combo in itertools.product(*(grid[k] for k in keys))]  # fmt: skip


@dataclass
class SweepResult:
    root: Path | None  # None: the sweep ran in a temporary folder, already removed
    records: list[RunRecord]
    _collected: Collected | None = None

    def collected(self) -> Collected:
        if self._collected is not None:
            return self._collected
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
          overwrite: bool = False, world_cache: bool = True, progress: bool | None = None,
          verbose: bool = False) -> SweepResult:
    """Run every combination of ``grid`` (on top of ``base_overrides``) with ``n`` replications.

    Each setting goes to ``out_dir/<k>`` (k = 0, 1, ... in grid order, like Hydra's job
    numbers); a failing setting is recorded and the sweep goes on; ``resume=True`` skips
    settings already finished in ``out_dir``.  A folder that holds another sweep raises
    :class:`~sim.experiment.folder.SweepFolderError` (``overwrite=True``: its runs are
    deleted first).  Without ``out_dir``: a temporary folder, removed before returning
    (``result.root`` is None; ``results()`` and ``reps`` still work).
    """
    base = list(base_overrides)
    if n is not None:
        base.append(f"replications={n}")
    grid = dict(grid or {})
    combos = grid_overrides(grid)
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="exsim-sweep-") as tmp:
            res = _sweep(base, grid, combos, Path(tmp), resume, overwrite, world_cache,
                         progress, verbose)  # fmt: skip
            res._collected = collect(res.root)
            res.root = None
            return res
    return _sweep(base, grid, combos, Path(out_dir), resume, overwrite, world_cache, progress,
                  verbose)  # fmt: skip


def _sweep(base: list[str], grid: dict, combos: list[list[str]], root: Path, resume: bool,
           overwrite: bool, world_cache: bool, progress: bool | None,
           verbose: bool) -> SweepResult:
    from sim.experiment.cache import cache_for

    as_overrides = base + [f"{k}={','.join(map(str, v))}" for k, v in grid.items()]
    claim(root, as_overrides, overwrite=overwrite, tool="sim.experiment.sweep")
    cache = None
    if world_cache:
        try:
            cache = cache_for(root / ".worlds", load_config(*base))
        except Exception:  # an invalid base config: every setting below records why
            cache = WorldCache(root / ".worlds")
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
