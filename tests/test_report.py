"""``exsim-report``: the tidy table, paired differences against a baseline, plots, report.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from exp_helpers import HAS_POLICIES, TINY

from sim.report import main as report_main
from sim.report import pareto_front

pytestmark = pytest.mark.skipif(not HAS_POLICIES, reason="needs the policy stage")

PLOTS = ["tradeoff_cost_per_order.png", "tradeoff_stars_mean.png",
         "tradeoff_detractor_share.png", "tradeoff_alerts_per_day.png",
         "tradeoff_proactive_catch_share.png", "cost_vs_satisfaction.png",
         "case_wait_vs_alerts.png"]  # fmt: skip


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    from sim.experiment import sweep

    d = tmp_path_factory.mktemp("report") / "sweep"
    s = sweep([*TINY, "detection=no_movement_24h"],
              {"detection.no_movement.hours": [24, 48, 72],
               "recovery": ["tiered_default", "notify_only"]}, n=3, out_dir=d, progress=False)  # fmt: skip
    assert [r.status for r in s.records] == ["ok"] * 6
    return d


def test_report_table_plots_and_markdown(swept, capsys):
    rc = report_main([str(swept), "--baseline", "detection.no_movement.hours=24"])
    assert rc == 0
    res = pd.read_parquet(swept / "results.parquet")
    kpis = res["kpi"].unique()
    assert {"cost_per_order", "stars_mean", "alerts_per_day", "orders"} <= set(kpis)
    assert len(res) == 6 * len(kpis) and len(pd.read_csv(swept / "results.csv")) == len(res)
    assert (res.loc[res["kpi"] != "case_wait_hours", "n"] == 3).all()  # no cases: no wait
    # every setting is compared with hours=24 under the same recovery plan
    base = res[res["detection.no_movement.hours"] == 24]
    assert base["diff"].isna().all()
    other = res[(res["detection.no_movement.hours"] != 24) & (res["kpi"] != "case_wait_hours")]
    assert other["diff_n"].eq(3).all() and other["same_worlds"].eq(1.0).all()
    pairs = other.drop_duplicates("run")[["recovery", "baseline"]]
    assert all(r in b for r, b in zip(pairs["recovery"], pairs["baseline"], strict=True))
    for f in PLOTS:
        assert (swept / f).stat().st_size > 1000, f
    md = (swept / "report.md").read_text()
    assert "## Best by cost (`cost_per_order`" in md and "## Best by satisfaction" in md
    assert "6 of 6 runs finished" in md
    assert "report.md" in capsys.readouterr().out


def test_report_degrades_without_policy_kpis(swept, tmp_path):
    import shutil

    d = tmp_path / "worldonly"
    shutil.copytree(swept, d, ignore=shutil.ignore_patterns("*.png", ".worlds"))
    for f in d.glob("*/replications.parquet"):
        df = pd.read_parquet(f)
        df[["replication", "seed", "world_key", "orders", "on_time_share"]].to_parquet(f)
    assert report_main([str(d)]) == 0
    md = (d / "report.md").read_text()
    assert "`cost_per_order` is not among the KPIs" in md
    assert "skipped `tradeoff_cost_per_order.png`" in md
    assert not list(d.glob("tradeoff_*.png")) and not (d / "cost_vs_satisfaction.png").exists()
    assert report_main([str(d), "--baseline", "recovery=nope"]) == 2


def test_pareto_front():
    cost = np.array([1.0, 2.0, 3.0, 2.5, 1.0])
    sat = np.array([3.0, 4.0, 5.0, 3.5, 2.0])
    assert pareto_front(cost, sat).tolist() == [True, True, True, False, False]


def test_report_flags_a_sweep_that_changed_nothing(tmp_path):
    """The no-movement window swept while the rule is off (detection=reactive)."""
    from sim.experiment import sweep

    sweep([*TINY, "detection=reactive"], {"detection.no_movement.hours": [24, 48]}, n=2,
          out_dir=tmp_path, progress=False)  # fmt: skip
    assert report_main([str(tmp_path)]) == 0
    assert "**`detection.no_movement.hours` changed nothing**" in (tmp_path / "report.md").read_text()
