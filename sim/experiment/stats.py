"""Statistics over replications: t-intervals of KPIs and paired differences.

Every number a planner reads comes with its uncertainty: mean, sample sd, the two-sided
``confidence`` t-interval (``scipy.stats.t`` with n - 1 degrees of freedom) and n.  With
n < 2 the interval is undefined and reported as NaN, never as zero width.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats

SUMMARY_COLUMNS = ["mean", "sd", "ci_low", "ci_high", "half_width", "n"]
DIFF_COLUMNS = ["diff", "diff_sd", "diff_low", "diff_high", "diff_half_width", "diff_n",
                "p_value", "significant"]  # fmt: skip


def t_interval(values: Iterable[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, sd, two-sided t-interval and n of the finite values."""
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    mean = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n >= 2 else math.nan
    if n >= 2:
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))
    else:
        half = math.nan
    return {"mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half,
            "half_width": half, "n": n}  # fmt: skip


def summarize(reps: pd.DataFrame, kpis: Iterable[str] | None = None,
              confidence: float = 0.95) -> pd.DataFrame:
    """One row per KPI (index) with :data:`SUMMARY_COLUMNS`, from one row per replication."""
    kpis = list(kpis) if kpis is not None else kpi_columns(reps)
    rows = {k: t_interval(reps[k], confidence) for k in kpis}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=SUMMARY_COLUMNS)
    out.index.name = "kpi"
    return out.astype({"n": int})


def kpi_columns(reps: pd.DataFrame) -> list[str]:
    """The KPI columns of a replications table (numeric, not bookkeeping)."""
    skip = {"replication", "seed", "world_key", "elapsed_s"}
    return [c for c in reps.columns
            if c not in skip and pd.api.types.is_numeric_dtype(reps[c])]  # fmt: skip


def paired_diff(a: pd.Series, b: pd.Series, confidence: float = 0.95) -> dict[str, float]:
    """``b - a`` on matched replications (same index = same world): t-interval, p, significant."""
    d = (b - a).dropna()
    s = t_interval(d, confidence)
    n = s["n"]
    if n >= 2 and s["sd"] > 0:
        p = float(2 * stats.t.sf(abs(s["mean"]) / (s["sd"] / math.sqrt(n)), n - 1))
    elif n >= 2:  # every replication differs by the same amount (often exactly 0)
        p = 1.0 if s["mean"] == 0 else 0.0
    else:
        p = math.nan
    return {"diff": s["mean"], "diff_sd": s["sd"], "diff_low": s["ci_low"],
            "diff_high": s["ci_high"], "diff_half_width": s["half_width"], "diff_n": n,
            "p_value": p, "significant": bool(p < 1 - confidence) if n >= 2 else False}  # fmt: skip


def welch_diff(a: pd.Series, b: pd.Series, confidence: float = 0.95) -> dict[str, float]:
    """``mean(b) - mean(a)`` from independent samples (Welch t-interval): the unpaired reference."""
    x, y = np.asarray(a.dropna(), float), np.asarray(b.dropna(), float)
    nx, ny = x.size, y.size
    diff = float(y.mean() - x.mean()) if nx and ny else math.nan
    if nx < 2 or ny < 2:
        return {"diff": diff, "diff_sd": math.nan, "diff_low": math.nan, "diff_high": math.nan,
                "diff_half_width": math.nan, "diff_n": min(nx, ny), "p_value": math.nan,
                "significant": False}  # fmt: skip
    vx, vy = x.var(ddof=1) / nx, y.var(ddof=1) / ny
    se = math.sqrt(vx + vy)
    dof = (vx + vy) ** 2 / (vx**2 / (nx - 1) + vy**2 / (ny - 1)) if se > 0 else nx + ny - 2
    half = float(stats.t.ppf(0.5 + confidence / 2, dof) * se)
    p = float(2 * stats.t.sf(abs(diff) / se, dof)) if se > 0 else float(diff == 0)
    return {"diff": diff, "diff_sd": se, "diff_low": diff - half, "diff_high": diff + half,
            "diff_half_width": half, "diff_n": min(nx, ny), "p_value": p,
            "significant": bool(p < 1 - confidence)}  # fmt: skip


def paired_table(a: pd.DataFrame, b: pd.DataFrame, kpis: Iterable[str] | None = None,
                 confidence: float = 0.95, on: str | list[str] = "replication") -> pd.DataFrame:
    """Paired differences ``b - a`` of every shared KPI, replications matched on ``on``."""
    a_, b_ = a.set_index(on), b.set_index(on)
    common = a_.index.intersection(b_.index)
    kpis = list(kpis) if kpis is not None else [k for k in kpi_columns(a) if k in b.columns]
    rows = {}
    for k in kpis:
        rows[k] = {"mean_a": float(a_.loc[common, k].mean()),
                   "mean_b": float(b_.loc[common, k].mean()),
                   **paired_diff(a_.loc[common, k], b_.loc[common, k], confidence)}  # fmt: skip
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "kpi"
    return out


def format_kpis(summary: pd.DataFrame, confidence: float = 0.95) -> str:
    """The KPI table a planner reads on the console: mean, CI, sd, N per KPI."""
    n = int(summary["n"].max()) if len(summary) else 0
    pct = f"{100 * confidence:g} %"
    lines = [f"KPIs over {n} replication{'s' if n != 1 else ''} (mean, {pct} t-interval, sd)"]
    for k, s in summary.iterrows():
        ci = ("n/a (N < 2)" if not math.isfinite(s["half_width"])
              else f"[{s['ci_low']:.6g}, {s['ci_high']:.6g}]  ± {s['half_width']:.4g}")  # fmt: skip
        sd = f"sd {s['sd']:.4g}" if math.isfinite(s["sd"]) else ""
        lines.append(f"  {k:<32} {s['mean']:>14.6g}  {ci}  {sd}".rstrip())
    return "\n".join(lines)
