"""The selection statistics: Kim-Nelson's guarantee under common random numbers, Holm,
one-sided constraint bounds.  Monte Carlo over thousands of macro-replications at once
(the procedure is vectorised over problems), judged by a 99 % Clopper-Pearson interval."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.decide.select import KimNelson, holm, kim_nelson, kn_h2, one_sided

ALPHA, DELTA, N0, K = 0.05, 0.5, 10, 5
SD = np.array([2.0, 1.0, 1.5, 1.0, 0.7])  # the best system (0) is the noisiest
M = 3000  # macro-replications per check


def run_pcs(gap: float, seed: int, rho: float = 0.5) -> tuple[int, float]:
    """Macro-replications in which system 0 (mean ``gap`` above the others) is selected.

    Worlds are common: every system sees a shared normal shock (correlation ``rho``), as
    policies evaluated on the same simulated worlds do.  Data are drawn world by world."""
    rng = np.random.default_rng(seed)
    mu = np.zeros(K)
    mu[0] = gap

    def draw(n: int) -> np.ndarray:
        common = rng.standard_normal((M, n, 1))
        own = rng.standard_normal((M, n, K))
        return mu + SD * (np.sqrt(rho) * common + np.sqrt(1 - rho) * own)

    kn = KimNelson(DELTA, ALPHA, N0)
    kn.start(draw(N0))
    while not kn.done.all():
        kn.step(draw(1)[:, 0])
    return int((kn.best() == 0).sum()), float(kn.r.mean())


def test_kim_nelson_selects_the_best_with_probability_at_least_1_minus_alpha():
    # slippage configuration at the edge of the indifference zone: the hardest case the
    # guarantee covers
    hits, _ = run_pcs(DELTA, seed=1)
    ci = stats.binomtest(hits, M).proportion_ci(confidence_level=0.99)
    assert ci.low >= 1 - ALPHA, (hits / M, ci)


def test_the_pcs_check_has_power_outside_the_indifference_zone():
    # a gap of delta/4 is not covered: PCS falls far below 1 - alpha, so the check above
    # would catch a procedure that stops too early
    hits, _ = run_pcs(DELTA / 4, seed=2)
    ci = stats.binomtest(hits, M).proportion_ci(confidence_level=0.99)
    assert ci.high < 1 - ALPHA, (hits / M, ci)


def test_common_worlds_need_fewer_worlds_than_independent_ones():
    # the procedure uses the variance of paired differences: with strongly shared worlds
    # it stops sooner at the same guarantee
    _, worlds_crn = run_pcs(DELTA, seed=3, rho=0.9)
    _, worlds_ind = run_pcs(DELTA, seed=3, rho=0.0)
    assert worlds_crn < 0.5 * worlds_ind


def test_kn_constants_match_the_published_formula():
    k, n0, a = 5, 10, 0.05
    eta = 0.5 * ((2 * a / (k - 1)) ** (-2 / (n0 - 1)) - 1)
    assert kn_h2(k, n0, a) == pytest.approx(2 * eta * (n0 - 1))


def test_kim_nelson_on_data_stops_by_the_worst_case_bound():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((200, 400, 3)) + np.array([0.6, 0.0, 0.0])
    sel, used = kim_nelson(x, delta=0.5, alpha=0.05, n0=10)
    d = x[:, :10, :, None] - x[:, :10, None, :]
    nmax = np.floor(kn_h2(3, 10, 0.05) * d.var(axis=1, ddof=1) / 0.25).max(axis=(1, 2))
    assert (used <= nmax + 1).all()
    assert (sel == 0).mean() > 0.9


def test_holm_matches_the_step_down_definition():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1, running maximum, capped at 1
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.5])


def test_one_sided_bound_is_scipys_t_bound():
    x = np.array([3.0, 4.0, 2.5, 5.0, 3.5])
    mean, upper = one_sided(x, "at_most", 0.9)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert mean == pytest.approx(3.6)
    assert upper == pytest.approx(3.6 + stats.t.ppf(0.9, 4) * se)
    _, lower = one_sided(x, "at_least", 0.9)
    assert lower == pytest.approx(3.6 - stats.t.ppf(0.9, 4) * se)
