"""The Hydra task returns the decision objective, and a sweep acts on it."""

from __future__ import annotations

import json

from exp_helpers import TINY, exsim


def test_task_return_value_drives_the_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    r = exsim("-m", *TINY, "detection=reactive", "recovery.team.analysts=1,4",
              "decision.objective.kpi=cost_per_order", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    best = json.loads((sweep / "best.json").read_text())
    # every job's return value is the mean of the objective KPI it wrote
    for job, row in enumerate(best["values"]):
        kpis = json.loads((sweep / str(job) / "kpis.json").read_text())
        assert row["value"] == kpis["cost_per_order"]["mean"]
    values = {" ".join(v["overrides"]): v["value"] for v in best["values"]}
    assert len(values) == 2
    # the sweep's answer follows the returned values (minimise: fewer analysts, less labour)
    assert best["best"]["value"] == min(values.values())
    assert "recovery.team.analysts=1" in best["best"]["overrides"]
    assert "best by cost_per_order (minimize)" in r.stderr

