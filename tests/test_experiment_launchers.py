"""Same seed, same numbers under every launcher; settings sharing a world reuse it.

The reference is the basic (serial) launcher; joblib, submitit_local and a Ray cluster
(a head started here on 127.0.0.1, token auth, Ray's files in a temporary folder) must
give identical per-replication KPIs, result for result.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# the cluster extra is part of the test install (make test): imported plainly, so a missing
# launcher fails here instead of skipping the equivalence tests the README cites
import hydra_plugins.hydra_ray_launcher  # noqa: F401
import hydra_plugins.hydra_submitit_launcher  # noqa: F401
import pandas as pd
import pytest
from exp_helpers import BIN, TINY, exsim, sweep_reps

# 2 settings that share their worlds (warmup_days changes no world): each world of the
# sweep is simulated once, not once per setting
SWEEP = [*TINY, "replications=2", "scenario.carrier.scan_miss_prob=0.03", "warmup_days=0,0.5"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pd.DataFrame:
    """The basic (serial) launcher, run in this process."""
    import sys

    import sim.cli

    d = tmp_path_factory.mktemp("serial") / "sweep"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["exsim", "-m", f"hydra.sweep.dir={d}", *SWEEP])
        sim.cli.main()
    log = (d / ".worlds" / "simulated.log").read_text().splitlines()
    assert len(log) == 2, log  # 2 replications x 1 scenario, not x 2 settings
    return sweep_reps(d)


def _check_same(reference: pd.DataFrame, d: Path) -> None:
    got = sweep_reps(d)
    pd.testing.assert_frame_equal(got, reference, check_exact=True)


def test_serial_sweep_reuses_worlds_and_api_sweep_matches(reference, tmp_path):
    assert len(reference) == 4 and reference["world_key"].nunique() == 2
    from sim.experiment import sweep

    base = [o for o in SWEEP if not o.startswith("warmup_days")]
    s = sweep(base, {"warmup_days": [0, 0.5]}, out_dir=tmp_path / "api", progress=False)
    assert [r.status for r in s.records] == ["ok", "ok"]
    _check_same(reference, tmp_path / "api")


def test_joblib_equals_serial(reference, tmp_path):
    d = tmp_path / "sweep"
    p = exsim("-m", f"hydra.sweep.dir={d}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
              *SWEEP, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    _check_same(reference, d)
    assert len((d / ".worlds" / "simulated.log").read_text().splitlines()) == 2


@pytest.mark.submitit
def test_submitit_local_equals_serial(reference, tmp_path):
    d = tmp_path / "sweep"
    p = exsim("-m", f"hydra.sweep.dir={d}", "hydra/launcher=submitit_local",
              "hydra.launcher.timeout_min=5", *SWEEP, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    _check_same(reference, d)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def ray_head():
    """A Ray head on 127.0.0.1 (token auth), stopped afterwards; yields (address, env)."""
    tmp = Path(tempfile.mkdtemp(prefix="exsim-ray-", dir="/tmp"))  # short: socket paths
    port = _free_port()
    env = {**os.environ, "RAY_TMPDIR": str(tmp), "HOME": str(tmp), "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}  # fmt: skip
    log = open(tmp / "head.log", "w")  # noqa: SIM115 (closed below)
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "block forever" not in (tmp / "head.log").read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ray head did not start:\n" + (tmp / "head.log").read_text())
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", env
    finally:
        head.send_signal(signal.SIGTERM)  # the blocking head drains and stops its processes
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # our own process group only
            head.wait(10)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.ray
def test_ray_cluster_equals_serial(reference, tmp_path):
    d = tmp_path / "sweep"
    with ray_head() as (address, env):
        p = exsim("-m", f"hydra.sweep.dir={d}", "hydra/launcher=ray",
                  f"hydra.launcher.ray.init.address={address}",
                  "+hydra.launcher.ray.init.object_store_memory=null", *SWEEP,
                  cwd=tmp_path, env=env)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    _check_same(reference, d)
