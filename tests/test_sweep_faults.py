"""Sweeps under faults: a real ``kill -9`` mid-sweep and a resume, two sweeps in one folder,
a changed grid with ``resume=true``, and a sweep without ``out_dir`` (no litter)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pandas as pd
import pytest
from exp_helpers import BIN, TINY, sweep_reps

import sim.cli
from sim.experiment import sweep
from sim.experiment.folder import SweepFolderError, run_state

GRID = {"scenario.carrier.scan_miss_prob": [0.01, 0.02, 0.03, 0.04]}
BASE = [*TINY, "replications=3"]
CLI = [*BASE, "scenario.carrier.scan_miss_prob=0.01,0.02,0.03,0.04"]


def _states(d) -> dict[str, str]:
    return {f.name: run_state(f) for f in d.iterdir() if f.is_dir() and f.name.isdigit()}


def _cli(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["exsim", *args])
    sim.cli.main()


def test_kill_9_mid_sweep_then_resume_gives_identical_results(tmp_path, monkeypatch, capsys):
    ref = sweep(BASE, GRID, out_dir=tmp_path / "reference", progress=False)
    assert [r.status for r in ref.records] == ["ok"] * 4
    d = tmp_path / "sweep"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    proc = subprocess.Popen([str(BIN / "exsim"), "-m", f"hydra.sweep.dir={d}", *CLI], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not (d.is_dir() and "running" in _states(d).values()):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no run started within 180 s"
            time.sleep(0.02)
        running = [k for k, s in _states(d).items() if s == "running"]
        # while it runs, another sweep into the same folder is refused, nothing written
        with pytest.raises(SweepFolderError, match="holds another sweep"):
            sweep(BASE, {"scenario.carrier.scan_miss_prob": [0.05]}, out_dir=d, progress=False)
        os.kill(proc.pid, signal.SIGKILL)  # kill -9: no handler, no cleanup
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session only
            proc.wait(30)
    states = _states(d)
    assert all(states[k] == "crashed" for k in running), states  # not "running": lock gone
    assert list(states.values()).count("ok") < 4  # killed mid-sweep

    _cli(monkeypatch, "-m", f"hydra.sweep.dir={d}", *CLI, "resume=true")
    assert _states(d) == {str(k): "ok" for k in range(4)}
    pd.testing.assert_frame_equal(sweep_reps(d), sweep_reps(ref.root), check_exact=True)
    capsys.readouterr()

    # resume with a changed grid: refused with exit 2, before any job, nothing touched
    before = {k: (d / k / "status.json").read_text() for k in _states(d)}
    with pytest.raises(SystemExit) as e:
        _cli(monkeypatch, "-m", f"hydra.sweep.dir={d}", *BASE,
             "scenario.carrier.scan_miss_prob=0.01,0.05", "resume=true")
    assert e.value.code == 2
    assert "holds another sweep" in capsys.readouterr().err
    assert before == {k: (d / k / "status.json").read_text() for k in _states(d)}


def test_another_sweep_is_refused_unless_overwrite(tmp_path):
    d = tmp_path / "s"
    a = sweep(TINY, {"warmup_days": [0]}, out_dir=d, progress=False)
    assert [r.status for r in a.records] == ["ok"]
    fp = json.loads((d / "sweep.json").read_text())
    with pytest.raises(SweepFolderError, match="holds another sweep"):
        sweep(TINY, {"warmup_days": [0, 0.5]}, out_dir=d, resume=True, progress=False)
    with pytest.raises(SweepFolderError, match="holds another sweep"):
        sweep([*TINY, "seed=3"], {"warmup_days": [0]}, out_dir=d, progress=False)
    assert json.loads((d / "sweep.json").read_text()) == fp  # untouched
    again = sweep(TINY, {"warmup_days": [0]}, out_dir=d, resume=True, progress=False)
    assert [r.status for r in again.records] == ["skipped"]  # the same sweep resumes
    b = sweep(TINY, {"warmup_days": [0.5]}, out_dir=d, overwrite=True, progress=False)
    assert [r.status for r in b.records] == ["ok"]
    assert json.loads((d / "0" / "status.json").read_text())["params"]["warmup_days"] == "0.5"


def test_sweep_without_out_dir_leaves_nothing_in_the_temp_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    s = sweep(TINY, {"warmup_days": [0, 0.5]}, n=2, progress=False)
    assert s.root is None
    assert list(tmp_path.iterdir()) == []
    res = s.results()
    assert set(res.loc[res["kpi"] == "cost_per_order", "n"]) == {2}  # read before removal
    assert len(s.reps) == 4
