"""The built wheel is complete: installed non-editable into a fresh venv, ``exsim`` finds its
configs and runs from an unrelated folder.

Fast and offline: the wheel is built without build isolation (setuptools of this venv),
installed with ``--no-deps``, and the dependencies are borrowed from this interpreter's
site-packages through a ``.pth`` path entry (which does not run this venv's editable-install
hooks, so ``sim`` can only come from the wheel).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from exp_helpers import BIN, ROOT

SOURCES = ("sim", "policies", "conf", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, **kw)
    assert p.returncode == 0, f"{cmd}\n{p.stdout}\n{p.stderr}"
    return p


def test_wheel_installs_and_runs_from_another_folder(tmp_path):
    src = tmp_path / "src"  # a copy: the build must not write into the checkout
    src.mkdir()
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(p, src / name)
    uv = BIN / "uv"
    _run([str(uv), "build", "--wheel", "--no-build-isolation", "--python", sys.executable,
          "--out-dir", str(tmp_path / "dist"), str(src)])  # fmt: skip
    wheel = next((tmp_path / "dist").glob("exsim-*.whl"))
    venv = tmp_path / "venv"
    _run([str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)])
    py = venv / "bin" / "python"
    _run([str(uv), "pip", "install", "--quiet", "--no-deps", "--python", str(py), str(wheel)])
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())  # fmt: skip
    (site / "_exsim_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR")}
    where = _run([str(py), "-c", "import sim.api as a; print(a.__file__); print(a.CONF_DIR)"],
                 cwd=elsewhere, env=env).stdout.split()  # fmt: skip
    assert where[0].startswith(str(site)), where  # the wheel's code, not the checkout's
    assert Path(where[1]) == site / "sim" / "conf", where  # the wheel's configs
    out = elsewhere / "run"
    p = _run([str(venv / "bin" / "exsim"), "scenario.days=2", "scenario.orders.per_day=300",
              "progress=false", f"hydra.run.dir={out}"], cwd=elsewhere, env=env)  # fmt: skip
    assert "results in" in p.stdout
    assert json.loads((out / "status.json").read_text())["status"] == "ok"
    assert (out / "kpis.json").exists()
