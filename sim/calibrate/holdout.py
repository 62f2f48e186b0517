"""Validation: the figures a planner cares about, observed on held-out orders vs simulated
by a scenario fitted without them.

Observed figures get a bootstrap interval (percentile) and standard error, resampling the
held-out orders; simulated figures a t-interval over replications of the world.  A figure
passes when the simultaneous interval of the difference (simulated − observed) contains 0:
Bonferroni over the figures of the table, so the whole table holds at the stated
family-wise level (a perfect model fails a table with probability at most ``alpha``, not
1 − 0.95^m).  The difference's standard error combines the check part's, the fit part's
(the fitted model inherits its sampling error) and the simulation's (Welch–Satterthwaite
degrees of freedom: the simulated side has only ``replications`` − 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibrate.estimate import hours
from sim.calibrate.lateness import days_late_data, days_late_hours, figures
from sim.config import ScenarioConfig
from sim.world import simulate_world


@dataclass
class Row:
    figure: str
    observed: float
    obs_lo: float
    obs_hi: float
    obs_se: float
    simulated: float
    sim_lo: float
    sim_hi: float
    sim_se: float
    diff_lo: float = np.nan  # simultaneous interval of simulated − observed
    diff_hi: float = np.nan
    reference: tuple[float, float, float, float] | None = None  # the fit period, for drift

    @property
    def within(self) -> bool:
        """The simultaneous interval of the difference contains 0."""
        return bool(self.diff_lo <= 0 <= self.diff_hi)


def order_figures(df: pd.DataFrame, definition: str) -> tuple[np.ndarray, np.ndarray]:
    """(lead days, days late) of complete real orders."""
    return (hours(df["purchase"], df["delivery"]) / 24,
            days_late_data(df["delivery"], df["promise"], definition))


def observed_figures(df: pd.DataFrame, definition: str, level: float, bootstrap: int, seed: int
                     ) -> dict[str, tuple[float, float, float, float]]:
    """figure -> (point, lo, hi, se) from a bootstrap of the orders."""
    lead, late = order_figures(df, definition)
    point = figures(lead, late)
    rng = np.random.default_rng(seed)
    n = lead.size
    draws = pd.DataFrame([figures(lead[i], late[i])
                          for i in (rng.integers(0, n, n) for _ in range(bootstrap))])  # fmt: skip
    a = (1 - level) / 2
    out = {}
    for key, v in point.items():
        d = draws[key].dropna().to_numpy()
        lo, hi = np.quantile(d, [a, 1 - a]) if d.size else (np.nan, np.nan)
        out[key] = (v, float(lo), float(hi), float(np.std(d, ddof=1)) if d.size > 1 else np.nan)
    return out


def simulated_figures(scenario: ScenarioConfig, seed: int, replications: int, level: float,
                      definition: str) -> tuple[dict[str, tuple[float, float, float, float]],
                                                list[dict[str, float]]]:
    """figure -> (mean, lo, hi, se) over replications (t-interval); and the replications."""
    reps = []
    for r in range(replications):
        tr = simulate_world(scenario, seed=seed, replication=r).truth.orders
        t = tr[np.isfinite(tr["delivered_at"].to_numpy(float))]
        d, p, o = (t[c].to_numpy(float) for c in ("delivered_at", "promised_at", "placed_at"))
        reps.append(figures((d - o) / 24, days_late_hours(d, p, definition)))
    out = {}
    tq = stats.t.ppf(0.5 + level / 2, replications - 1)
    for key in reps[0]:
        v = np.array([rep[key] for rep in reps], float)
        v = v[np.isfinite(v)]
        m = float(v.mean()) if v.size else np.nan
        se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan
        out[key] = (m, m - tq * se, m + tq * se, se)
    return out, reps


def compare(observed: dict, simulated: dict, alpha: float, replications: int,
            reference: dict | None = None) -> list[Row]:
    """Rows with the Bonferroni-simultaneous interval of simulated − observed."""
    keys = [k for k in observed if np.isfinite(observed[k][0]) and np.isfinite(simulated[k][0])]
    m = max(len(keys), 1)
    rows = []
    for k in keys:
        o, s = observed[k], simulated[k]
        r = Row(k, *o, *s, reference=reference.get(k) if reference else None)
        so, ss = o[3], s[3]
        # the fitted model carries the fit part's sampling error: its observed SE joins in
        sf = r.reference[3] if r.reference is not None and np.isfinite(r.reference[3]) else 0.0
        so = float(np.hypot(so, sf))
        se = float(np.hypot(so, ss))
        if se > 0:
            # Welch-Satterthwaite: the observed side's bootstrap SE has many degrees of freedom
            df = se**4 / (ss**4 / max(replications - 1, 1) + so**4 / 1e4) if ss > 0 else 1e4
            half = stats.t.ppf(1 - alpha / (2 * m), df) * se
        else:
            half = 0.0
        d = s[0] - o[0]
        r.diff_lo, r.diff_hi = d - half, d + half
        rows.append(r)
    return rows


def drift(rows: list[Row], alpha: float) -> list[str]:
    """Figures whose observed value differs between the reference period and the check
    period beyond a simultaneous (Bonferroni) interval: the history drifted."""
    m = max(len(rows), 1)
    z = stats.norm.ppf(1 - alpha / (2 * m))
    out = []
    for r in rows:
        if r.reference is None:
            continue
        ref, _, _, ref_se = r.reference
        if abs(r.observed - ref) > z * np.hypot(r.obs_se, ref_se):
            out.append(r.figure)
    return out
