"""``exsim-report``: the tidy table, paired differences against a baseline, plots, report.md."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from exp_helpers import TINY

from sim.report import main as report_main
from sim.report import pareto_front

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
    head = ["cost_per_order", "stars_mean", "alerts_per_day", "orders", "detractor_share"]
    assert (res.loc[res["kpi"].isin(head), "n"] == 3).all()  # (no case: no case wait)
    # every setting is compared with hours=24 under the same recovery plan
    base = res[res["detection.no_movement.hours"] == 24]
    assert base["diff"].isna().all()
    other = res[(res["detection.no_movement.hours"] != 24) & res["kpi"].isin(head)]
    assert other["diff_n"].eq(3).all() and other["same_worlds"].eq(1.0).all()
    pairs = other.drop_duplicates("run")[["recovery", "baseline"]]
    assert all(r in b for r, b in zip(pairs["recovery"], pairs["baseline"], strict=True))
    for f in PLOTS:
        assert (swept / f).stat().st_size > 1000, f
    md = (swept / "report.md").read_text()
    assert "## Best by cost (`cost_per_order`" in md and "## Best by satisfaction" in md
    assert "6 of 6 runs finished" in md
    assert "report.md" in capsys.readouterr().out
    # report.html: one self-contained file, every plot embedded, no file or network reference
    html = (swept / "report.html").read_text()
    pngs = sorted(p.name for p in swept.glob("*.png"))
    assert "differences.png" in pngs
    assert html.count('src="data:image/png;base64,') == len(pngs)
    assert not re.search(r'src="(?!data:)', html)
    assert "<table>" in html and "family-wise" in html


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


# --------------------------------------------------------------------------- bad inputs
def _fake_sweep(root, n: int = 4, settings=(12, 24, 48), status: str = "ok"):
    """Run folders as a sweep writes them (status.json + replications.parquet), made up:
    the report's input handling needs no simulation."""
    import json

    rng = np.random.default_rng(0)
    world = rng.normal(size=n)
    for k, h in enumerate(settings):
        f = root / str(k)
        f.mkdir(parents=True)
        st = {"status": status, "setting": f"detection.no_movement.hours={h}",
              "params": {"detection.no_movement.hours": str(h)}, "n": n, "host": "x", "pid": 1}
        (f / "status.json").write_text(json.dumps(st))
        pd.DataFrame({"replication": range(n), "seed": 1, "world_key": [f"w{r}" for r in range(n)],
                      "cost_per_order": 3 + world + 0.01 * h + rng.normal(0, 0.1, n),
                      "stars_mean": 4.2 + 0.1 * world, "alerts_per_day": 10.0 * h + world,
                      "case_wait_hours": 2 + world}).to_parquet(f / "replications.parquet")
    return root


def _files(d):
    return sorted(p.name for p in d.iterdir() if p.is_file())


@pytest.mark.parametrize("args, code, message", [
    (["--confidence", "1.5"], 2, "--confidence 1.5: must be between 0 and 1"),
    (["--x", "recovery"], 2, "--x 'recovery': it was not swept; parameters that vary: "
                             "detection.no_movement.hours"),
    (["--cost", "cost_per_ordr"], 2, "did you mean 'cost_per_order'?"),
    (["--curves", "stars_mean,alerts"], 2, "--curves 'alerts': not a KPI of these runs"),
    (["--baseline", "detection.no_movement.hours=7"], 2, "no finished run matches baseline"),
])  # fmt: skip
def test_report_refuses_bad_arguments_before_writing(tmp_path, capsys, args, code, message):
    d = _fake_sweep(tmp_path / "s")
    before = _files(d)
    assert report_main([str(d), *args]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert _files(d) == before  # nothing written


def test_report_on_an_empty_or_failed_sweep_writes_nothing(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert report_main([str(empty)]) == 2
    assert "no run folders" in capsys.readouterr().err and not list(empty.iterdir())
    failed = _fake_sweep(tmp_path / "failed", status="failed")
    assert report_main([str(failed)]) == 1  # no run finished: non-zero
    assert "no run finished (3 run folders)" in capsys.readouterr().err
    assert _files(failed) == []


def test_report_lists_bad_run_folders_with_file_and_reason(tmp_path, capsys):
    import json
    import os

    d = _fake_sweep(tmp_path / "s", settings=(12, 24, 48, 72, 96, 120))
    (d / "3" / "status.json").write_text(json.dumps(["not", "a", "dict"]))
    (d / "4" / "status.json").write_bytes(b"")
    (d / "5" / "replications.parquet").write_bytes(b"PAR1 garbage")
    st = json.loads((d / "2" / "status.json").read_text())  # a run killed mid-way
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)  # a pid that existed and is gone now
    import socket

    (d / "2" / "status.json").write_text(json.dumps(
        st | {"status": "running", "host": socket.gethostname(), "pid": dead}))
    (d / "1" / "status.json").write_text(json.dumps(
        json.loads((d / "1" / "status.json").read_text())
        | {"status": "running", "host": socket.gethostname(), "pid": os.getpid()}))
    assert report_main([str(d)]) == 0
    md = (d / "report.md").read_text()
    assert "1 of 6 runs finished" in md
    assert f"{d / '3' / 'status.json'}: holds a JSON list" in md
    assert f"{d / '4' / 'status.json'}: empty (0 bytes)" in md
    assert f"{d / '5' / 'replications.parquet'}: unreadable" in md
    assert f"**crashed** -- pid {dead}" in md and "**running** -- pid" in md
    assert "Traceback" not in capsys.readouterr().err


def test_report_single_run_and_one_replication(tmp_path, capsys):
    from sim.experiment import sweep

    d = tmp_path / "n1"
    sweep([*TINY, "detection=no_movement_24h"], {"detection.no_movement.hours": [24, 48]}, n=1,
          out_dir=d, progress=False)  # fmt: skip
    assert report_main([str(d)]) == 0
    md = (d / "report.md").read_text()
    assert "**no interval with N = 1**" in md and "Ranked by the mean only" in md
    assert report_main([str(d / "0")]) == 0  # a single run folder
    md = (d / "0" / "report.md").read_text()
    assert "1 of 1 runs finished" in md and "One setting" in md
    assert "Traceback" not in capsys.readouterr().err


def test_log_scale_where_counts_span_decades_and_plain_numbers():
    import matplotlib

    matplotlib.use("Agg")
    from sim.report import tradeoff_figure
    from sim.report_format import fmt_interval, fmt_kpi, plain

    res = pd.DataFrame({"kpi": "alerts_per_day", "setting": ["a", "b", "c"], "h": [12, 48, 96],
                        "mean": [3000.0, 300.0, 12.0], "ci_low": [2800.0, 250.0, -3.0],
                        "ci_high": [3200.0, 350.0, 27.0], "half_width": [200.0, 50.0, 15.0],
                        "n": 5})  # fmt: skip
    ax = tradeoff_figure(res, "alerts_per_day", "h", []).axes[0]
    assert ax.get_yscale() == "log" and "alerts per day (/day) (log scale)" in ax.get_ylabel()
    flat = tradeoff_figure(res.assign(mean=[30.0, 25.0, 20.0]), "alerts_per_day", "h", [])
    assert flat.axes[0].get_yscale() == "linear"
    assert [plain(v) for v in (0.000123, 12345.6, 3.14159, 0)] == ["0.000123", "12,346", "3.14", "0"]
    assert fmt_kpi("cost_per_order", 3.071) == "$3.07" and fmt_kpi("on_time_share", 0.9561) == "95.6 %"
    assert fmt_kpi("case_wait_hours", -0.5, signed=True) == "-0.500 h"
    assert fmt_interval("stars_mean", 4.07, 4.13) == "[4.07, 4.13] stars"


def test_run_lock_tells_running_from_crashed(tmp_path):
    """A run folder with a run lock: held by a live writer = running, free = crashed,
    whatever host and pid status.json records."""
    import fcntl
    import json

    from sim.experiment.collect import collect

    d = _fake_sweep(tmp_path / "s", settings=(12, 24, 48))
    for k in (1, 2):
        f = d / str(k) / "status.json"
        f.write_text(json.dumps(json.loads(f.read_text()) | {"status": "running",
                                                             "host": "elsewhere", "pid": 7}))
        (d / str(k) / ".run.lock").touch()
    with open(d / "1" / ".run.lock", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # run 1's writer is alive
        runs = collect(d).runs.set_index("run")
    assert runs.loc["1", "status"] == "running" and "holds .run.lock" in runs.loc["1", "error"]
    assert runs.loc["2", "status"] == "crashed" and "no process holds" in runs.loc["2", "error"]
    assert runs.loc["0", "status"] == "ok"
