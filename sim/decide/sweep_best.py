"""The best setting of a Hydra sweep by the task's return value (the decision objective).

``exsim``'s task returns the mean of ``decision.objective.kpi`` over its replications
(:func:`sim.cli.objective_value`).  An optimising sweeper plugin consumes that value; with
the basic sweeper (a grid) this callback collects it: every finished job appends
``{overrides, value}`` to ``<sweep dir>/objective.jsonl`` (in the job's process, so it
works under any launcher), and at the end of the multirun ``best.json`` names the best
setting and the value, and one line says so on stderr.  Registered in ``conf/config.yaml``.
"""

from __future__ import annotations

import fcntl
import json
import math
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def _sweep_dir(config: DictConfig) -> Path:
    from hydra.core.hydra_config import HydraConfig

    try:
        hc = HydraConfig.get()
        root = Path(hc.sweep.dir)
        return root if root.is_absolute() else Path(hc.runtime.cwd) / root
    except ValueError:
        return Path(config.hydra.sweep.dir)


class BestOfSweep(Callback):
    """Collects the jobs' return values; writes ``best.json`` at the end of a multirun."""

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.utils import JobStatus
        from hydra.types import RunMode

        if HydraConfig.get().mode != RunMode.MULTIRUN:
            return
        value = job_return.return_value if job_return.status == JobStatus.COMPLETED else None
        value = float(value) if isinstance(value, int | float) else math.nan
        line = json.dumps({"overrides": list(job_return.overrides or []),
                           "value": value if math.isfinite(value) else None})  # fmt: skip
        path = _sweep_dir(config) / "objective.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            fh.write(line + "\n")
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        root = _sweep_dir(config)
        path = root / "objective.jsonl"
        if not path.exists():
            return
        rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        ok = [r for r in rows if r["value"] is not None]
        if not ok:
            return
        d = config.get("decision", {}).get("objective", {})
        kpi, direction = d.get("kpi", "?"), d.get("direction", "minimize")
        best = (min if direction == "minimize" else max)(ok, key=lambda r: r["value"])
        out = {"kpi": kpi, "direction": direction, "best": best, "jobs": len(rows),
               "values": rows}  # fmt: skip
        (root / "best.json").write_text(json.dumps(out, indent=2))
        print(f"[exsim] best by {kpi} ({direction}): {best['value']:.6g}  "
              f"{' '.join(best['overrides'])}", file=sys.stderr)  # fmt: skip
