"""The ``exsim`` CLI as an experiment runner: outputs, failures, resume."""

from __future__ import annotations

import json
import sys

import pytest
from exp_helpers import TINY, exsim

import sim.cli
import sim.experiment.core as core


def test_single_run_prints_and_writes(tmp_path):
    out = tmp_path / "run"
    p = exsim(f"hydra.run.dir={out}", *TINY, "replications=3", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "exsim world — scenario 'baseline'" in p.stdout  # world summary of replication 0
    assert "KPIs over 3 replications" in p.stdout
    for f in ("status.json", "summary.json", "kpis.json", "replications.parquet", "orders.parquet",
              "truth.parquet", "config.json"):
        assert (out / f).exists(), f
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["orders"]["n"] == 3 and kpis["orders"]["ci_low"] < kpis["orders"]["mean"]
    assert json.loads((out / "status.json").read_text())["status"] == "ok"
    assert not list(out.glob(".*tmp*"))


def test_config_error_exits_2_without_traceback(tmp_path):
    p = exsim(f"hydra.run.dir={tmp_path / 'r'}", *TINY, "scenario.orders.per_day=-5",
              "warmup_days=3", cwd=tmp_path)
    assert p.returncode == 2
    assert "scenario.orders.per_day = -5" in p.stderr and "warmup_days = 3" in p.stderr
    assert "Traceback" not in p.stderr


def _inject_failure(monkeypatch, when: float = 0.05) -> None:
    """Make runs with scan_miss_prob == ``when`` raise inside the policy/pipeline stage."""
    real = core.run_once

    def flaky(cfg, replication=0, world=None):
        if cfg.scenario.carrier.scan_miss_prob == when:
            raise RuntimeError("injected failure")
        return real(cfg, replication, world)

    monkeypatch.setattr(core, "run_once", flaky)


def _exsim_inprocess(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["exsim", *args])
    sim.cli.main()


def test_single_run_that_raises_exits_1(tmp_path, monkeypatch, capsys):
    _inject_failure(monkeypatch)
    with pytest.raises(SystemExit) as e:
        _exsim_inprocess(monkeypatch, f"hydra.run.dir={tmp_path}", *TINY,
                         "scenario.carrier.scan_miss_prob=0.05")
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "the run failed: RuntimeError: injected failure" in err
    st = json.loads((tmp_path / "status.json").read_text())
    assert st["status"] == "failed" and "injected failure" in st["traceback"]


def test_sweep_goes_on_after_a_failure_and_resume_skips_finished(tmp_path, monkeypatch, capsys):
    d = tmp_path / "sweep"
    cmd = ["-m", f"hydra.sweep.dir={d}", *TINY, "replications=2",
           "scenario.carrier.scan_miss_prob=0.01,0.05,0.03"]
    _inject_failure(monkeypatch)
    _exsim_inprocess(monkeypatch, *cmd)  # no exception: the sweep went on
    status = {k: json.loads((d / str(k) / "status.json").read_text()) for k in range(3)}
    assert [status[k]["status"] for k in range(3)] == ["ok", "failed", "ok"]
    assert "injected failure" in status[1]["error"] and "Traceback" in status[1]["traceback"]
    err = capsys.readouterr().err
    assert err.count("[exsim] ok") == 2 and err.count("[exsim] failed") == 1

    from sim.report import make_report

    rep = make_report(d)
    assert "Failed runs" in rep.markdown and "injected failure" in rep.markdown

    # resume re-runs nothing that finished (a real kill -9 and resume: test_sweep_faults)
    before0 = (d / "0" / "status.json").read_text()
    monkeypatch.undo()
    _exsim_inprocess(monkeypatch, *cmd, "resume=true")
    err = capsys.readouterr().err
    assert err.count("[exsim] skipped") == 2 and err.count("[exsim] ok") == 1
    assert (d / "0" / "status.json").read_text() == before0  # untouched
    assert all(json.loads((d / str(k) / "status.json").read_text())["status"] == "ok"
               for k in range(3))  # fmt: skip


def test_a_sweep_with_no_finished_run_exits_1(tmp_path, monkeypatch, capsys):
    """Every run invalid: the sweep still records each one, then exits 1 (not 0) so that a
    script or scheduler sees it; one finished run is enough for exit 0."""
    d = tmp_path / "sweep"
    with pytest.raises(SystemExit) as e:
        _exsim_inprocess(monkeypatch, "-m", f"hydra.sweep.dir={d}", *TINY,
                         "recovery.team.handling_median_hours=-1,-2")
    assert e.value.code == 1
    assert "no run of the sweep finished (2 failed)" in capsys.readouterr().err
    assert all(json.loads((d / str(k) / "status.json").read_text())["status"] == "failed"
               for k in range(2))  # fmt: skip
