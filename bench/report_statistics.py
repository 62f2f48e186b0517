"""Measure the report's statistics (Monte Carlo; no simulation):

1. the false-claim rate of exsim-report with 8 identical settings x 29 KPIs (N worlds):
   the Holm family (now) against unadjusted per-test flags (before);
2. the coverage of the automatic replication count from different minimum starts.

    PYTHONPATH=$PWD python bench/report_statistics.py --experiments 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_experiment_stats import _auto_n_coverage  # noqa: E402
from test_report_stats import ALPHA, K_SETTINGS, _family, _synthetic  # noqa: E402


def ci(k: int, m: int) -> str:
    c = stats.binomtest(k, m).proportion_ci(0.95)
    return f"{k / m:.3f} (95 % CI {c.low:.3f}-{c.high:.3f}, {m} experiments)"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiments", type=int, default=2000)
    a = ap.parse_args()
    m = a.experiments
    t0 = time.perf_counter()
    rng = np.random.default_rng(1)
    claims = unadjusted = 0
    for _ in range(m):
        fam = _family(_synthetic(rng))
        claims += fam.any_claim or any(len(b) < K_SETTINGS for b in fam.best.values())
        unadjusted += bool((fam.tests["p_value"] < ALPHA).any())
    print(f"8 identical settings x 29 KPIs, N = 10, alpha = {ALPHA}: family m = {fam.m} tests")
    print(f"  report claims a difference (Holm family): {ci(claims, m)}")
    print(f"  unadjusted per-test flags (before):       {ci(unadjusted, m)}")
    for start in (2, 5, 10):
        cov, mean_n = _auto_n_coverage(start, m)
        print(f"auto-N from a minimum start of {start:>2}: coverage {ci(cov, m)}, mean N {mean_n:.1f}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
