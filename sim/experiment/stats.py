"""Statistics over replications: t-intervals of KPIs, paired differences, and the family of
comparisons a report makes (Holm-adjusted, so its claims hold together).

Every number a planner reads comes with its uncertainty: mean, sample sd, the two-sided
``confidence`` t-interval and n.  The formulas are scipy's (``ttest_1samp``, ``ttest_rel``,
``ttest_ind``, their ``confidence_interval``): we only decide what to test.  With n < 2 the
interval is undefined and reported as NaN, never as zero width.

Why a *family*: a sweep report compares many settings on many KPIs.  Each test at 5 % makes
"some difference" almost certain even between identical settings (8 identical settings x 29
KPIs: about half the time, unadjusted).  :func:`family_tests` puts every comparison the
report states into one family and adjusts the p-values with Holm's step-down method, so the
chance that the report makes *any* false claim is at most 1 - confidence.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

SUMMARY_COLUMNS = ["mean", "sd", "ci_low", "ci_high", "half_width", "n"]
DIFF_COLUMNS = ["diff", "diff_sd", "diff_low", "diff_high", "diff_half_width", "diff_n",
                "p_value", "significant"]  # fmt: skip


@contextmanager
def _quiet():
    """scipy warns about precision loss for constant samples; we handle those explicitly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _finite(values: Iterable[float]) -> np.ndarray:
    x = np.asarray(list(values) if not isinstance(values, np.ndarray | pd.Series) else values,
                   dtype=float)  # fmt: skip
    return x[np.isfinite(x)]


def t_interval(values: Iterable[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, sd, two-sided t-interval (``scipy.stats.ttest_1samp``) and n of the finite values."""
    x = _finite(values)
    n = x.size
    mean = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n >= 2 else math.nan
    if n < 2:
        lo = hi = math.nan
    elif sd == 0:  # every replication gave the same value: the interval is that value
        lo = hi = mean
    else:
        with _quiet():
            ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence)
        lo, hi = float(ci.low), float(ci.high)
    half = (hi - lo) / 2 if n >= 2 else math.nan
    return {"mean": mean, "sd": sd, "ci_low": lo, "ci_high": hi, "half_width": half, "n": n}


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


def _no_diff(n: int, diff: float = math.nan) -> dict[str, float]:
    return {"diff": diff, "diff_sd": math.nan, "diff_low": math.nan, "diff_high": math.nan,
            "diff_half_width": math.nan, "diff_n": n, "p_value": math.nan,
            "significant": False}  # fmt: skip


def paired_diff(a: pd.Series, b: pd.Series, confidence: float = 0.95) -> dict[str, float]:
    """``b - a`` on matched replications (same index = same world): ``scipy.stats.ttest_rel``.

    ``significant`` is the single test at 1 - confidence; a report of many comparisons
    uses :func:`family_tests` instead.
    """
    both = pd.concat([a, b], axis=1).dropna()
    x, y = both.iloc[:, 0].to_numpy(float), both.iloc[:, 1].to_numpy(float)
    n = x.size
    if n < 2:
        return _no_diff(n, float((y - x).mean()) if n else math.nan)
    d = y - x
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0:  # every world differs by the same amount (often exactly 0)
        p = 1.0 if mean == 0 else 0.0
        lo = hi = mean
    else:
        with _quiet():
            r = stats.ttest_rel(y, x)
            ci = r.confidence_interval(confidence)
        p, lo, hi = float(r.pvalue), float(ci.low), float(ci.high)
    return {"diff": mean, "diff_sd": sd, "diff_low": lo, "diff_high": hi,
            "diff_half_width": (hi - lo) / 2, "diff_n": n, "p_value": p,
            "significant": bool(p < 1 - confidence)}  # fmt: skip


def welch_diff(a: pd.Series, b: pd.Series, confidence: float = 0.95) -> dict[str, float]:
    """``mean(b) - mean(a)`` from independent samples (``ttest_ind(equal_var=False)``): the
    unpaired reference that shows what common random numbers buy."""
    x, y = _finite(a), _finite(b)
    nx, ny = x.size, y.size
    diff = float(y.mean() - x.mean()) if nx and ny else math.nan
    if nx < 2 or ny < 2:
        return _no_diff(min(nx, ny), diff)
    se = math.sqrt(x.var(ddof=1) / nx + y.var(ddof=1) / ny)
    if se == 0:
        p, lo, hi = (1.0 if diff == 0 else 0.0), diff, diff
    else:
        with _quiet():
            r = stats.ttest_ind(y, x, equal_var=False)
            ci = r.confidence_interval(confidence)
        p, lo, hi = float(r.pvalue), float(ci.low), float(ci.high)
    return {"diff": diff, "diff_sd": se, "diff_low": lo, "diff_high": hi,
            "diff_half_width": (hi - lo) / 2, "diff_n": min(nx, ny), "p_value": p,
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


# --------------------------------------------------------------------------- the family
def holm(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN entries are not tests (not counted in m).

    Rejecting every adjusted p < alpha keeps the family-wise error rate at most alpha under
    any dependence between the tests (Holm 1979).  scipy has only false-discovery
    adjustments (``false_discovery_control``), which do not bound the chance of any false claim.
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        adj = np.minimum(np.maximum.accumulate((m - np.arange(m)) * q[order]), 1.0)
        res = np.empty(m)
        res[order] = adj
        out[ok] = res
    return out


def diff_columns(d: np.ndarray, confidence: float) -> dict[str, np.ndarray]:
    """One-sample t-tests of the columns of ``d`` (worlds x comparisons, NaN = missing):
    mean, sd, n, interval and p from ``scipy.stats.ttest_1samp`` in one vectorised call.

    A column whose differences are all exactly 0 (the KPI did not move on any world) gets
    p = NaN: it is not a test, it cannot claim anything, and it is left out of the family.
    A column with a constant non-zero difference is a sure difference (p = 0).
    """
    d = np.asarray(d, dtype=float)
    n = np.isfinite(d).sum(axis=0)
    full = n == len(d)  # the common case, one vectorised call; columns with gaps: omit NaN
    p, lo, hi = (np.full(d.shape[1], np.nan) for _ in range(3))
    with _quiet():
        mean = np.nanmean(d, axis=0)
        sd = np.nanstd(d, axis=0, ddof=1)
        for cols, policy in ((full, "propagate"), (~full & (n >= 2), "omit")):
            if cols.any():
                r = stats.ttest_1samp(d[:, cols], 0.0, axis=0, nan_policy=policy)
                ci = r.confidence_interval(confidence)
                p[cols], lo[cols], hi[cols] = r.pvalue, ci.low, ci.high
    const = (n >= 2) & (sd == 0)
    p[const] = np.where(mean[const] == 0, np.nan, 0.0)
    lo[const] = hi[const] = mean[const]
    few = n < 2
    p[few] = lo[few] = hi[few] = np.nan
    sd = np.where(few, np.nan, sd)
    return {"diff": mean, "diff_sd": sd, "diff_n": n, "diff_low": lo, "diff_high": hi, "p_value": p}


def _holm_intervals(tests: pd.DataFrame, alpha: float, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Each difference's t-interval at the level Holm's procedure tested it.

    Holm tests the j-th smallest p (j = 0, 1, ...) at alpha / (m - j) and stops at the first
    that fails; the later ones are judged at that same level.  An interval at that level
    excludes 0 exactly when the report claims the difference, so the plotted intervals and
    the claims always agree (a Bonferroni interval at alpha / m would be wider and could
    touch 0 for a claimed difference).
    """
    n = len(tests)
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    p = tests["p_value"].to_numpy(float)
    ok = np.flatnonzero(np.isfinite(p))
    if not m or not ok.size:
        return lo, hi
    order = ok[np.argsort(p[ok], kind="stable")]
    k = int(tests["significant"].to_numpy(bool)[order].sum())  # Holm rejects the k smallest
    step = np.empty(n)
    step[order] = np.minimum(np.arange(order.size), k)
    level = alpha / (m - step[ok])
    d = tests["diff"].to_numpy(float)[ok]
    sd = tests["diff_sd"].to_numpy(float)[ok]
    nn = tests["diff_n"].to_numpy(float)[ok]
    half = stats.t.ppf(1 - level / 2, nn - 1) * sd / np.sqrt(nn)
    half = np.where(sd == 0, 0.0, half)
    lo[ok], hi[ok] = d - half, d + half
    return lo, hi


@dataclass
class Family:
    """Every comparison a report states, adjusted together.

    ``tests``: one row per comparison: ``kind`` ("baseline": setting b against its baseline a,
    every KPI; "pair": every pair of settings on a ranking KPI), ``kpi``, ``a``, ``b``, the
    paired difference b - a (mean, sd, n, per-comparison interval), ``p_value``, ``p_holm``,
    ``significant`` (p_holm < alpha) and ``adj_low``/``adj_high``, the interval at the level
    Holm tested the comparison (excludes 0 exactly when it is claimed).  ``best``: per ranking KPI, the settings that
    cannot be told apart from the best (none is significantly better than them).
    """

    tests: pd.DataFrame
    best: dict[str, list[str]]
    alpha: float
    m: int  # the number of tests in the family (comparisons with any variation)

    @property
    def any_claim(self) -> bool:
        """The report claims some difference (a significant test or a best set that excludes
        a setting) -- what must happen at most alpha of the time between identical settings."""
        return bool(self.tests["significant"].any())


def family_tests(values: np.ndarray, settings: Sequence[str], kpis: Sequence[str],
                 baseline: Mapping[str, str], ranking: Mapping[str, bool],
                 confidence: float = 0.95) -> Family:
    """The report's family of paired comparisons, Holm-adjusted at ``alpha = 1 - confidence``.

    ``values[w, s, k]``: KPI k of setting s on world w (NaN = not measured); worlds are
    common to all settings (common random numbers), so every comparison is paired.
    ``baseline[s]``: the setting s is compared with (itself: no comparison).
    ``ranking[kpi]``: True if lower is better; for these KPIs every pair of settings is
    compared, which yields the *best set*: a setting is left out only if another one is
    significantly better, so the best setting is left out with probability <= alpha.
    """
    values = np.asarray(values, dtype=float)
    settings, kpis = list(settings), list(kpis)
    alpha = 1 - confidence
    idx = {s: i for i, s in enumerate(settings)}
    cols, meta = [], []
    for s in settings:
        a = baseline.get(s, s)
        if a == s:
            continue
        for k, kpi in enumerate(kpis):
            cols.append(values[:, idx[s], k] - values[:, idx[a], k])
            meta.append(("baseline", kpi, a, s))
    for kpi in ranking:
        if kpi not in kpis:
            continue
        k = kpis.index(kpi)
        for i in range(len(settings)):
            for j in range(i + 1, len(settings)):
                cols.append(values[:, j, k] - values[:, i, k])
                meta.append(("pair", kpi, settings[i], settings[j]))
    tests = pd.DataFrame(meta, columns=["kind", "kpi", "a", "b"])
    if cols:
        res = diff_columns(np.column_stack(cols), confidence)
        for name, col in res.items():
            tests[name] = col
    else:
        for name in ("diff", "diff_sd", "diff_n", "diff_low", "diff_high", "p_value"):
            tests[name] = pd.Series(dtype=float)
    tests["p_holm"] = holm(tests["p_value"].to_numpy())
    tests["significant"] = tests["p_holm"] < alpha
    m = int(np.isfinite(tests["p_value"]).sum())
    tests["adj_low"], tests["adj_high"] = _holm_intervals(tests, alpha, m)
    best = {}
    for kpi, lower in ranking.items():
        if kpi not in kpis:
            continue
        t = tests[(tests["kind"] == "pair") & (tests["kpi"] == kpi) & tests["significant"]]
        # b - a > 0 significant: b is higher; worse when lower is better
        worse = set(t.loc[t["diff"] > 0, "b" if lower else "a"]) | set(
            t.loc[t["diff"] < 0, "a" if lower else "b"])
        means = np.nanmean(values[:, :, kpis.index(kpi)], axis=0)
        keep = [s for s in settings if s not in worse and np.isfinite(means[idx[s]])]
        best[kpi] = sorted(keep, key=lambda s: means[idx[s]] * (1 if lower else -1))
    return Family(tests, best, alpha, m)


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
