"""Ranking and selection under common random numbers, and the comparisons around it.

* :func:`kim_nelson` -- the fully sequential procedure of Kim & Nelson (2001) for the
  system with the largest mean, valid when the systems share worlds (it uses the variance
  of the *paired* differences).  With k systems, first stage n0 on common worlds::

      eta = 1/2 [(2 alpha / (k-1))^(-2/(n0-1)) - 1],   h^2 = 2 eta (n0-1)
      S2_il = sample variance of X_i - X_l over the first n0 worlds
      after r >= n0 worlds drop i if  mean_i(r) < mean_l(r) - W_il(r)  for a surviving l,
      W_il(r) = max{0, delta/(2r) (h^2 S2_il / delta^2 - r)}

  and stop when one system is left (at the latest after max_il floor(h^2 S2_il/delta^2) + 1
  worlds, where every W is 0).  If the best mean exceeds every other by at least delta,
  the probability of selecting it is at least 1 - alpha.
  :class:`KimNelson` runs the rule one world at a time (a simulation asks only the
  surviving systems for the next world); every function is vectorised over a leading batch
  axis so that the Monte Carlo check of the guarantee runs thousands of macro-replications
  at once.
* :func:`holm` -- Holm's step-down adjustment of p-values (family-wise error control).
* :func:`one_sided` -- a one-sided t bound of a mean (constraints with a required confidence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats


def kn_h2(k: int, n0: int, alpha: float) -> float:
    """Kim-Nelson's h^2 for k systems, first stage n0 and error probability alpha."""
    if k < 2:
        return 0.0
    eta = 0.5 * ((2 * alpha / (k - 1)) ** (-2.0 / (n0 - 1)) - 1.0)
    return 2.0 * eta * (n0 - 1)


@dataclass
class KimNelson:
    """Kim-Nelson state for a batch of independent problems (leading axis ``M``).

    Larger is better; pass ``-X`` to minimise.  Feed the first ``n0`` worlds with
    :meth:`start` (array ``(M, n0, k)``), then one world at a time with :meth:`step`
    (``(M, k)``; values of eliminated systems are ignored, so a simulation may leave them
    NaN).  ``alive`` is the surviving set, ``r`` the worlds seen, ``done`` whether a
    problem has finished.
    """

    delta: float
    alpha: float
    n0: int
    h2: float = 0.0
    s2: np.ndarray = field(default_factory=lambda: np.empty(0))  # (M, k, k) var of X_i - X_l
    sums: np.ndarray = field(default_factory=lambda: np.empty(0))  # (M, k)
    alive: np.ndarray = field(default_factory=lambda: np.empty(0, bool))  # (M, k)
    r: np.ndarray = field(default_factory=lambda: np.empty(0, int))  # (M,) worlds seen

    def start(self, first: np.ndarray) -> None:
        first = np.asarray(first, float)
        if first.ndim == 2:
            first = first[None]
        m, n0, k = first.shape
        if n0 != self.n0:
            raise ValueError(f"first stage has {n0} worlds, expected n0 = {self.n0}")
        self.h2 = kn_h2(k, self.n0, self.alpha)
        d = first[:, :, :, None] - first[:, :, None, :]  # (M, n0, k, k)
        self.s2 = d.var(axis=1, ddof=1)
        self.sums = first.sum(axis=1)
        self.alive = np.ones((m, k), bool)
        self.r = np.full(m, n0)
        self._screen(np.ones(m, bool))

    @property
    def done(self) -> np.ndarray:
        return self.alive.sum(axis=1) <= 1

    def _screen(self, active: np.ndarray) -> None:
        r = self.r[:, None, None].astype(float)
        mean = self.sums / self.r[:, None]
        w = np.maximum(0.0, self.delta / (2 * r) * (self.h2 * self.s2 / self.delta**2 - r))
        beaten = (mean[:, :, None] < mean[:, None, :] - w) & self.alive[:, None, :]
        drop = beaten.any(axis=2) & active[:, None]
        self.alive &= ~drop

    def step(self, x: np.ndarray) -> None:
        """Add one world (``(M, k)`` or ``(k,)``) to the problems not yet done."""
        x = np.asarray(x, float)
        if x.ndim == 1:
            x = x[None]
        active = ~self.done
        self.sums += np.where(self.alive & active[:, None], np.nan_to_num(x), 0.0)
        self.r = self.r + active
        self._screen(active)

    def best(self) -> np.ndarray:
        """The selected system per problem (the best mean among the survivors)."""
        mean = np.where(self.alive, self.sums / self.r[:, None], -np.inf)
        return mean.argmax(axis=1)


def kim_nelson(x: np.ndarray, delta: float, alpha: float, n0: int) -> tuple[np.ndarray, np.ndarray]:
    """Run Kim-Nelson on pre-drawn data ``x`` of shape ``(M, N, k)`` (or ``(N, k)``).

    Returns the selected system and the number of worlds used per problem.  ``N`` must
    cover the worst case (problems not finished by world N pick their best mean; a check
    in the caller can compare ``worlds`` with ``N``).
    """
    x = np.asarray(x, float)
    if x.ndim == 2:
        x = x[None]
    kn = KimNelson(delta, alpha, n0)
    kn.start(x[:, :n0])
    for t in range(n0, x.shape[1]):
        if kn.done.all():
            break
        kn.step(x[:, t])
    return kn.best(), kn.r.copy()


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (reject where adjusted p <= alpha)."""
    p = np.asarray(p, float)
    m = p.size
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def one_sided(x: np.ndarray, sense: str, confidence: float) -> tuple[float, float]:
    """Mean of ``x`` and its one-sided ``confidence`` t bound on the side that matters:
    the upper bound for ``at_most`` (it must be <= the bound), the lower for ``at_least``."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    mean = float(x.mean()) if x.size else math.nan
    if x.size < 2:
        return mean, math.nan
    if np.ptp(x) == 0:  # e.g. a difference with itself: no uncertainty
        return mean, mean
    alt = "less" if sense == "at_most" else "greater"
    ci = stats.ttest_1samp(x, 0.0, alternative=alt).confidence_interval(confidence)
    return mean, float(ci.high if sense == "at_most" else ci.low)
