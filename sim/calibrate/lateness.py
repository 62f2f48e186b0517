"""How late, not only how often: the lateness figures, the late definition, and the fit of
the promise/transit dependence and of a late-delivery component to several moments at once.

Why a late-delivery component.  Fitting the line-haul by maximum likelihood and solving the
promise/transit copula correlation rho for the late share reproduces *how often* orders are
late, but not *how late*: on Olist, late orders are late because their trip was exceptional
(late orders' transit median ~25 days against ~7 on time, while their promises are no
longer), a tail that one rho cannot put both the share and the depth into.  The structure
fitted here adds, with probability ``p``, an extra line-haul delay (lognormal, median ``m``,
sigma ``s``) that the promise does not foresee — ``carrier.late_delay_prob`` and
``carrier.late_delay`` in the scenario — and fits (rho, p, m, s) by the method of simulated
moments to late share, mean days late among late orders, the days-late bins and the
lead-time quantiles together (common random numbers, weights 1/SE² from a bootstrap of the
orders).  The plain model (p = 0, rho only) is fitted to the same moments; the component is
kept when it lowers the weighted distance J by more than the chi-square(3) 95 % point (a
J-difference test for its three extra parameters).  The report shows both.

Late definitions (``late_definition``):
  * ``later_day`` (default): late = delivered on a later calendar day than the promised
    day (Olist's estimate is a *date*); days late = delivered day − promised day.
  * ``after_timestamp``: late = delivered after the promised timestamp; days late =
    ceil(hours late / 24).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

BINS = ((0, 1), (1, 3), (3, 7), (7, 14), (14, np.inf))  # days late, (lo, hi]
QUANTILES = (0.10, 0.50, 0.90, 0.99)
DEFINITIONS = ("later_day", "after_timestamp")


def bin_label(lo: float, hi: float) -> str:
    if np.isinf(hi):
        return f"late > {lo:g} d"
    return "late 1 d" if (lo, hi) == (0, 1) else f"late {lo + 1:g}-{hi:g} d"


def promise_anchor(promise: pd.Series, definition: str) -> pd.Series:
    """The instant whose lead from purchase the scenario's promise reproduces.

    ``later_day``: noon of the promised day, so that the simulated promise (a continuous
    instant) falls on the promised day as often before as after noon."""
    if definition == "later_day":
        return promise.dt.normalize() + pd.Timedelta(hours=12)
    return promise


def days_late_data(delivery: pd.Series, promise: pd.Series, definition: str) -> np.ndarray:
    """Days late of real orders (<= 0: on time)."""
    if definition == "later_day":
        return ((delivery.dt.normalize() - promise.dt.normalize()) / pd.Timedelta(days=1)
                ).to_numpy(float)
    return _ceil_days(((delivery - promise) / pd.Timedelta(hours=1)).to_numpy(float))


def days_late_hours(delivered: np.ndarray, promised: np.ndarray, definition: str) -> np.ndarray:
    """Days late of simulated orders (hours since the calendar's first midnight)."""
    if definition == "later_day":
        return np.floor(delivered / 24.0) - np.floor(promised / 24.0)
    return _ceil_days(delivered - promised)


def _ceil_days(hours_late: np.ndarray) -> np.ndarray:
    d = hours_late / 24.0
    return np.where(d > 0, np.ceil(d), d)


def grouped_median(days: np.ndarray) -> float:
    """Median of whole days late, interpolated within its day (grouped-data median):
    smooth in the data, so that intervals and differences are meaningful."""
    d = np.asarray(days, float)
    if d.size == 0:
        return np.nan
    k = np.ceil(np.median(d))
    below = np.mean(d < k)
    at = np.mean(d == k)
    return float(k - 0.5 + (0.5 - below) / at) if at > 0 else float(k)


def figures(lead_days: np.ndarray, days_late: np.ndarray) -> dict[str, float]:
    """Late share, lead-time quantiles and mean (days), and how late the late orders are."""
    late = days_late > 0
    out = {"late share": float(late.mean())}
    for q, v in zip(QUANTILES, np.quantile(lead_days, QUANTILES), strict=True):
        out[f"lead time p{round(q * 100)} (d)"] = float(v)
    out["lead time mean (d)"] = float(np.mean(lead_days))
    d = days_late[late]
    out["days late among late: mean"] = float(d.mean()) if d.size else np.nan
    out["days late among late: median"] = grouped_median(d)
    for lo, hi in BINS:
        out[f"{bin_label(lo, hi)} (share of late)"] = (float(((d > lo) & (d <= hi)).mean())
                                                       if d.size else np.nan)
    return out


# ----------------------------------------------------------------- moments and the fit
MOMENTS = ("late share", "days late among late: mean", "days late among late: median",
           *(f"{bin_label(lo, hi)} (share of late)" for lo, hi in BINS[:-1]),
           *(f"lead time p{round(q * 100)} (d)" for q in QUANTILES),
           "lead time mean (d)")  # fmt: skip


def moment_vector(lead_days: np.ndarray, days_late: np.ndarray) -> np.ndarray:
    f = figures(lead_days, days_late)
    return np.array([f[k] for k in MOMENTS], float)


@dataclass
class LatenessFit:
    """The fitted dependence and late-delivery component, with the evidence for them."""

    rho: float
    late_prob: float
    late_median_hours: float
    late_sigma: float
    transit_scale: float  # line-haul median multiplier (the sum must match the lead times)
    observed: np.ndarray  # MOMENTS
    se: np.ndarray
    plain_rho: float
    plain_scale: float
    plain: np.ndarray  # the plain model's moments (rho only)
    plain_j: float
    component: np.ndarray  # the late-component model's moments
    component_j: float
    kept: bool  # the component lowers J by more than chi2(3) 95 %
    threshold: float
    component_rho: float = np.nan  # the component's fit, kept or not (for the report)
    component_p: float = np.nan
    component_median: float = np.nan
    component_sigma: float = np.nan
    component_scale: float = np.nan
    notes: list[str] = field(default_factory=list)

    @property
    def model(self) -> np.ndarray:
        return self.component if self.kept else self.plain


class _Simulator:
    """Common random numbers for the fitted door-to-door model (same draws every call)."""

    def __init__(self, other, transit, promise, purchase_hour: np.ndarray, definition: str,
                 n: int, seed: int):
        rng = np.random.default_rng(seed)
        self.definition = definition
        z1, self.z2, self.z3 = rng.standard_normal((3, n))
        self.u4 = rng.random(n)
        self.z1 = z1
        hour = purchase_hour[rng.integers(0, purchase_hour.size, n)] if purchase_hour.size else \
            rng.random(n) * 24  # fmt: skip
        self.placed = 24.0 * 1000 + hour
        self.other = sum((d.ppf(rng.random(n)) for d in other), np.zeros(n))
        self.transit = transit.ppf(special.ndtr(z1))
        grid = np.linspace(-7, 7, 2801)
        self._zgrid, self._ptable = grid, promise.ppf(special.ndtr(grid))

    def moments(self, rho: float, p: float, median: float, sigma: float,
                scale: float = 1.0) -> np.ndarray:
        z = rho * self.z1 + np.sqrt(1 - rho**2) * self.z2
        promised = self.placed + np.interp(z, self._zgrid, self._ptable)
        delivered = (self.placed + self.other + scale * self.transit
                     + np.where(self.u4 < p, median * np.exp(sigma * self.z3), 0.0))
        lead = (delivered - self.placed) / 24.0
        return moment_vector(lead, days_late_hours(delivered, promised, self.definition))


def fit_lateness(other: list, transit, promise, observed: np.ndarray, se: np.ndarray,
                 purchase_hour: np.ndarray, definition: str, *, mode: str = "auto",
                 start: LatenessFit | None = None, n: int = 20_000, seed: int = 0,
                 level: float = 0.95) -> LatenessFit:
    """Fit rho (plain model) and (rho, p, median, sigma) (late component) to the moments.

    ``other``, ``transit``, ``promise``: frozen scipy distributions (hours) of the delays
    before the line-haul, the line-haul and the promise lead.  ``mode``: ``auto`` (keep the
    component when the J test says so), ``on``, ``off``.  ``start``: a previous fit to
    start from (validation refits)."""
    sim = _Simulator(other, transit, promise, purchase_hour, definition, n, seed)
    se = np.where(np.isfinite(se) & (se > 0), se, np.nanmax(se[np.isfinite(se)]))
    ok = np.isfinite(observed)

    def j(m: np.ndarray) -> float:
        r = np.where(ok, (m - observed) / se, 0.0)
        return float(np.sum(np.nan_to_num(r, nan=1e3) ** 2))

    def plain_obj(x) -> float:
        return j(sim.moments(float(np.tanh(x[0])), 0.0, 1.0, 0.0, float(np.exp(x[1] - 1))))

    if start is not None and mode == "on":  # a refit of a kept component: no plain model
        plain_rho, plain_scale = start.plain_rho, start.plain_scale
    else:
        grid = np.linspace(-1.8, 2.6, 12)
        a0 = grid[int(np.argmin([plain_obj([a, 1.0]) for a in grid]))]
        r = optimize.minimize(plain_obj, [a0, 1.0], method="Nelder-Mead",
                              options={"maxiter": 200, "xatol": 1e-3, "fatol": 1e-3})
        plain_rho, plain_scale = float(np.tanh(r.x[0])), float(np.exp(r.x[1] - 1))
    plain_m = sim.moments(plain_rho, 0.0, 1.0, 0.0, plain_scale)
    plain_j = j(plain_m)
    if mode == "off":  # the plain model only
        return LatenessFit(plain_rho, 0.0, 1.0, 0.0, plain_scale, observed, se, plain_rho,
                           plain_scale, plain_m, plain_j, plain_m * np.nan, np.nan, False,
                           float(stats.chi2.ppf(level, 3)))

    def unpack(x):
        return (float(np.tanh(x[0])), float(special.expit(x[1])), float(np.exp(x[2])),
                float(min(np.exp(x[3]), 3.0)), float(np.exp(x[4] - 1)))  # fmt: skip

    def obj(x):
        return j(sim.moments(*unpack(x)))

    if start is not None and np.isfinite(start.component_p):
        starts = [[np.arctanh(np.clip(start.component_rho, -0.99, 0.99)),
                   special.logit(np.clip(start.component_p, 1e-4, 0.5)),
                   np.log(start.component_median), np.log(max(start.component_sigma, 0.05)),
                   1 + np.log(start.component_scale)]]
    else:
        starts = [[np.arctanh(np.clip(plain_rho, -0.99, 0.99)) + 0.3, special.logit(p),
                   np.log(m), np.log(0.5), 1 + np.log(plain_scale)]
                  for p, m in ((0.03, 24 * 14), (0.06, 24 * 6))]
    best = None
    for x0 in starts:
        res = optimize.minimize(obj, x0, method="Nelder-Mead",
                                options={"maxiter": 300 if start is None else 200,
                                         "xatol": 1e-3, "fatol": 1e-3})
        if best is None or res.fun < best.fun:
            best = res
    rho, p, med, sig, scale = unpack(best.x)
    comp_m = sim.moments(rho, p, med, sig, scale)
    comp_j = j(comp_m)
    threshold = float(stats.chi2.ppf(level, 3))
    kept = {"on": True, "off": False}.get(mode, plain_j - comp_j > threshold)
    fit = LatenessFit(rho, p, med, sig, scale, observed, se, plain_rho, plain_scale, plain_m,
                      plain_j, comp_m, comp_j, kept, threshold, rho, p, med, sig, scale)
    if not kept:
        fit.rho, fit.late_prob, fit.transit_scale = plain_rho, 0.0, plain_scale
    return fit


def bootstrap_se(lead_days: np.ndarray, days_late: np.ndarray, b: int, seed: int) -> np.ndarray:
    """Bootstrap standard errors of :data:`MOMENTS` (resampling the orders)."""
    rng = np.random.default_rng(seed)
    n = lead_days.size
    draws = np.array([moment_vector(lead_days[i], days_late[i])
                      for i in (rng.integers(0, n, n) for _ in range(b))])  # fmt: skip
    return np.nanstd(draws, axis=0, ddof=1)
