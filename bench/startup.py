"""Benchmark of start-up: how soon ``exsim`` answers ``--help`` and refuses a bad config.

    .venv/bin/python bench/startup.py            # 5 runs of each, with and without bytecode
    .venv/bin/python bench/startup.py --runs 3

Each case is a fresh ``python -m sim.cli ...`` process; its CPU time (user + system, from
``resource.getrusage`` of the children) is the measure, as wall time on a shared machine
is mostly other people's load.  "no bytecode cache" points ``PYTHONPYCACHEPREFIX`` at an
empty folder and forbids writing there, so every module is compiled from source (a fresh
checkout, or a read-only install).  Targets (issue 9): a refused config < 0.5 s, ``--help``
< 1 s, with a bytecode cache.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "help": ["--help"],
    "refused config": ["detection.no_movement.hours=-5"],
}
TARGETS = {"help": 1.0, "refused config": 0.5}


def one(args: list[str], env: dict[str, str], out_dir: str) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "sim.cli", *args, f"hydra.run.dir={out_dir}"]
                       if args[0] != "--help" else [sys.executable, "-m", "sim.cli", *args],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, p.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    base = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"{'case':<16}{'bytecode':<10}{'CPU s (median)':>15}{'wall s':>9}{'exit':>6}"
          f"{'target':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in CASES.items():
            for cached in (True, False):
                env = dict(base)
                if not cached:
                    env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "empty-pycache")
                    env["PYTHONDONTWRITEBYTECODE"] = "1"
                else:
                    one(args, env, tmp)  # make sure the cache exists
                runs = [one(args, env, tmp) for _ in range(a.runs)]
                cpu = statistics.median(r[0] for r in runs)
                wall = statistics.median(r[1] for r in runs)
                target = TARGETS[name]
                verdict = ("ok" if cpu < target else "MISS") if cached else ""
                print(f"{name:<16}{'yes' if cached else 'no':<10}{cpu:>15.2f}{wall:>9.2f}"
                      f"{runs[0][2]:>6}{f'< {target:g}' if cached else '':>9} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
