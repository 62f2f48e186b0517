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


def run_notebook(path: Path, cwd: Path) -> tuple[list, str]:
    """Execute the notebook at ``path`` in ``cwd`` (nbclient, the python3 kernel); fail if a
    cell raised; return every output and the text the cells printed."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs, "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
