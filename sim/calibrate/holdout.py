"""Held-out check: the figures a planner cares about, observed on the later part of the
history vs simulated by the scenario fitted on the earlier part.

Observed figures get a Wilson interval (shares) or a bootstrap percentile interval
(quantiles); simulated figures a t-interval over replications of the world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibrate.estimate import hours, wilson
from sim.config import ScenarioConfig
from sim.world import simulate_world

QUANTILES = (0.10, 0.50, 0.90, 0.99)
LATE_BINS = ((0, 1), (1, 3), (3, 7), (7, 14), (14, np.inf))  # days late, (lo, hi]


def _bin_label(lo: float, hi: float) -> str:
    return f"late > {lo:g} d" if np.isinf(hi) else f"late {lo:g}-{hi:g} d"


def figures(lead_days: np.ndarray, late_days: np.ndarray) -> dict[str, float]:
    """Late share, lead-time quantiles (days) and the days-late mix among late orders."""
    late = late_days > 0
    out = {"late share": float(late.mean())}
    for q, v in zip(QUANTILES, np.quantile(lead_days, QUANTILES), strict=True):
        out[f"lead time p{round(q * 100)} (d)"] = float(v)
    d = late_days[late]
    for lo, hi in LATE_BINS:
        out[f"{_bin_label(lo, hi)} (share of late)"] = float(((d > lo) & (d <= hi)).mean()) if d.size else np.nan
    return out


@dataclass
class Row:
    figure: str
    observed: float
    obs_lo: float
    obs_hi: float
    simulated: float
    sim_lo: float
    sim_hi: float

    @property
    def within(self) -> bool:
        return bool(self.obs_lo <= self.simulated <= self.obs_hi)


def observed_figures(check: pd.DataFrame, level: float, bootstrap: int, seed: int
                     ) -> dict[str, tuple[float, float, float]]:
    lead = hours(check["purchase"], check["delivery"]) / 24
    late = hours(check["promise"], check["delivery"]) / 24
    point = figures(lead, late)
    out = {}
    n, k = late.size, int((late > 0).sum())
    out["late share"] = (point["late share"], *wilson(k, n, level))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, lead.size, (bootstrap, lead.size))
    qs = np.quantile(lead[idx], QUANTILES, axis=1)  # (len(QUANTILES), bootstrap)
    a = (1 - level) / 2
    for i, q in enumerate(QUANTILES):
        key = f"lead time p{round(q * 100)} (d)"
        lo, hi = np.quantile(qs[i], [a, 1 - a])
        out[key] = (point[key], float(lo), float(hi))
    d = late[late > 0]
    for lo, hi in LATE_BINS:
        key = f"{_bin_label(lo, hi)} (share of late)"
        kk = int(((d > lo) & (d <= hi)).sum())
        out[key] = (point[key], *wilson(kk, d.size, level))
    return out


def simulated_figures(scenario: ScenarioConfig, seed: int, replications: int, level: float
                      ) -> tuple[dict[str, tuple[float, float, float]], list[dict[str, float]]]:
    reps = []
    for r in range(replications):
        tr = simulate_world(scenario, seed=seed, replication=r).truth.orders
        ok = np.isfinite(tr["delivered_at"].to_numpy(float))
        t = tr[ok]
        lead = (t["delivered_at"] - t["placed_at"]).to_numpy(float) / 24
        late = (t["delivered_at"] - t["promised_at"]).to_numpy(float) / 24
        reps.append(figures(lead, late))
    out = {}
    tq = stats.t.ppf(0.5 + level / 2, replications - 1)
    for key in reps[0]:
        v = np.array([rep[key] for rep in reps], float)
        v = v[np.isfinite(v)]
        m = float(v.mean()) if v.size else np.nan
        half = float(tq * v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan
        out[key] = (m, m - half, m + half)
    return out, reps


def compare(observed: dict, simulated: dict) -> list[Row]:
    return [Row(k, *observed[k], *simulated[k]) for k in observed]
