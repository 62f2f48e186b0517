"""Fit positive durations with scipy.stats (lognormal, gamma, Weibull; location fixed at 0),
choose the family by AIC, test it (Kolmogorov-Smirnov) and bootstrap its parameters.

Parameters are reported the way :class:`sim.config.DurationConfig` holds them: the median
(hours) and the shape (sigma of log for lognormal, k for gamma and Weibull), so a fit can be
written into a scenario as it is.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

FAMILIES = {"lognormal": stats.lognorm, "gamma": stats.gamma, "weibull": stats.weibull_min}


def _frozen(family: str, median: float, shape: float):
    """scipy frozen distribution from (median, shape)."""
    if family == "lognormal":
        return stats.lognorm(shape, scale=median)
    if family == "gamma":
        return stats.gamma(shape, scale=median / stats.gamma.ppf(0.5, shape))
    if family == "weibull":
        return stats.weibull_min(shape, scale=median / np.log(2.0) ** (1.0 / shape))
    raise ValueError(f"unknown family {family!r}")


def mle(family: str, x: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (median, shape) of ``family`` with location 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        shape, _, scale = FAMILIES[family].fit(x, floc=0)
    median = float(FAMILIES[family].median(shape, scale=scale))
    return median, float(shape)


@dataclass
class FamilyFit:
    family: str
    median: float
    shape: float
    loglik: float
    aic: float
    ks: float
    ks_p: float

    def dist(self):
        return _frozen(self.family, self.median, self.shape)


@dataclass
class Fit:
    """The best family by AIC and the alternatives, on ``n`` durations (hours)."""

    quantity: str
    data: np.ndarray
    candidates: list[FamilyFit]
    median_ci: tuple[float, float] = (np.nan, np.nan)
    shape_ci: tuple[float, float] = (np.nan, np.nan)
    zeros_raised: int = 0  # durations of 0 set to half the time resolution
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> FamilyFit:
        return min(self.candidates, key=lambda c: c.aic)

    @property
    def n(self) -> int:
        return self.data.size

    def as_duration(self) -> dict:
        b = self.best
        return {"dist": b.family, "median_hours": round(b.median, 4), "shape": round(b.shape, 4)}


def fit_family(family: str, x: np.ndarray) -> FamilyFit:
    median, shape = mle(family, x)
    d = _frozen(family, median, shape)
    ll = float(np.sum(d.logpdf(x)))
    ks = stats.kstest(x, d.cdf)
    return FamilyFit(family, median, shape, ll, 2 * 2 - 2 * ll, float(ks.statistic), float(ks.pvalue))


def fit_duration(quantity: str, hours: np.ndarray, families: list[str], bootstrap: int = 200,
                 seed: int = 0, resolution_hours: float = 1 / 60, ci_level: float = 0.95) -> Fit:
    """Fit every family, keep all for the AIC table, bootstrap the AIC-best one.

    Zero durations (two events in the same clock minute) cannot be fitted by a positive
    family: they are set to half the time resolution and counted in ``zeros_raised``.
    """
    x = np.asarray(hours, float)
    x = x[np.isfinite(x)]
    if x.size < 10:
        raise ValueError(f"{quantity}: only {x.size} usable durations, need at least 10")
    if (x < 0).any():
        raise ValueError(f"{quantity}: negative durations must be screened out before fitting")
    zeros = int((x <= 0).sum())
    x = np.where(x <= 0, resolution_hours / 2, x)
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown families {unknown}; allowed: {sorted(FAMILIES)}")
    fit = Fit(quantity, x, [fit_family(f, x) for f in families], zeros_raised=zeros)
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        b = fit.best.family
        draws = np.array([mle(b, x[rng.integers(0, x.size, x.size)]) for _ in range(bootstrap)])
        a = (1 - ci_level) / 2
        lo, hi = np.quantile(draws, [a, 1 - a], axis=0)
        fit.median_ci = (float(lo[0]), float(hi[0]))
        fit.shape_ci = (float(lo[1]), float(hi[1]))
    return fit
