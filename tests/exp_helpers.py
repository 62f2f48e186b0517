"""Shared helpers of the experiment tests (tiny worlds so that the suite stays fast)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = ["scenario.days=2", "scenario.orders.per_day=300", "progress=false"]


def exsim(*args: str, cwd: Path, env: dict | None = None, timeout: int = 240):
    """Run the ``exsim`` console script; returns the CompletedProcess."""
    e = {**os.environ, "HYDRA_FULL_ERROR": "0", **(env or {})}
    return subprocess.run([str(BIN / "exsim"), *args], cwd=cwd, env=e, capture_output=True,
                          text=True, timeout=timeout)


def sweep_reps(sweep_dir: Path) -> pd.DataFrame:
    """Per-replication results of a sweep, in a canonical order (for exact comparisons)."""
    from sim.experiment import collect

    c = collect(sweep_dir)
    assert (c.runs["status"] == "ok").all(), c.runs[["run", "status", "error"]]
    reps = c.reps.drop(columns=["elapsed_s"]).sort_values(["run", "replication"])
    return reps.reset_index(drop=True)
