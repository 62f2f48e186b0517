"""The report's claims as a family: with identical settings it claims a difference at most
about alpha of the time; with a planted best it finds it.  Monte Carlo over the statistics
function the report uses (:func:`sim.experiment.stats.family_tests`), not over simulations."""

from __future__ import annotations

import numpy as np
from scipy import stats

from sim.experiment.stats import family_tests, holm

K_SETTINGS, N_WORLDS, N_KPIS = 8, 10, 29
ALPHA = 0.05


def _synthetic(rng: np.random.Generator, shift: np.ndarray | None = None) -> np.ndarray:
    """values[w, s, k] like a sweep's: a world effect shared by every setting (common random
    numbers) and correlated across KPIs, plus each setting's own noise; 4 KPIs depend on the
    world only (identical across settings), and one KPI is missing on some worlds."""
    mix = rng.normal(size=(N_KPIS, N_KPIS)) * 0.3 + np.eye(N_KPIS)
    world = rng.normal(size=(N_WORLDS, 1, N_KPIS)) @ mix * 3.0
    noise = rng.normal(size=(N_WORLDS, K_SETTINGS, N_KPIS)) @ mix
    v = world + noise
    v[:, :, -4:] = world[:, :, -4:]  # world-only KPIs (orders, on-time share...)
    v[:2, :, 5] = np.nan  # e.g. no case opened on two worlds
    if shift is not None:
        v += shift
    return v


def _family(v: np.ndarray):
    names = [f"s{i}" for i in range(K_SETTINGS)]
    kpis = [f"k{j}" for j in range(N_KPIS)]
    base = {s: "s0" for s in names}  # every setting against the first, on every KPI
    return family_tests(v, names, kpis, base, {"k0": True, "k1": False}, 1 - ALPHA)


def test_identical_settings_claim_a_difference_at_most_alpha_of_the_time():
    """8 identical settings x 29 KPIs, N = 10: the report (Holm over its whole family:
    7 x 29 baseline comparisons + 2 x 28 pairs for the best sets) claims some difference
    in at most about 5 % of the experiments -- 99 % binomial interval of the rate not above
    alpha.  The unadjusted per-test flags of the old report claim one almost always."""
    rng = np.random.default_rng(7)
    m = 300
    claims = unadjusted = 0
    for _ in range(m):
        fam = _family(_synthetic(rng))
        claims += fam.any_claim or any(len(b) < K_SETTINGS for b in fam.best.values())
        unadjusted += bool((fam.tests["p_value"] < ALPHA).any())
    ci = stats.binomtest(claims, m).proportion_ci(0.99)
    assert ci.low <= ALPHA, f"false-claim rate {claims / m:.3f}, 99 % CI [{ci.low:.3f}, {ci.high:.3f}]"
    assert claims / m <= 2 * ALPHA
    old = stats.binomtest(unadjusted, m).proportion_ci(0.99)
    assert old.low > 0.5, f"unadjusted flags: {unadjusted / m:.3f} (the check must be able to fail)"


def test_family_finds_a_planted_best_and_keeps_world_only_kpis_out():
    rng = np.random.default_rng(11)
    shift = np.zeros((1, K_SETTINGS, N_KPIS))
    shift[0, 3, 0] = -8.0  # s3 is cheaper on k0 (lower is better) by ~3 sd of a difference
    fam = _family(_synthetic(rng, shift))
    t = fam.tests
    assert fam.best["k0"] == ["s3"]
    hit = t[(t["kind"] == "baseline") & (t["kpi"] == "k0") & (t["b"] == "s3")].iloc[0]
    assert hit["significant"] and hit["diff"] < 0 and hit["adj_high"] < 0
    # world-only KPIs: every difference is exactly 0 -> not a test, not in the family size m
    world_only = t[t["kpi"].isin([f"k{j}" for j in range(N_KPIS - 4, N_KPIS)])]
    assert world_only["p_value"].isna().all() and not world_only["significant"].any()
    assert fam.m == int(t["p_value"].notna().sum()) == 7 * (N_KPIS - 4) + 2 * 28
    # the KPI missing on two worlds is tested on the other eight
    assert (t.loc[t["kpi"] == "k5", "diff_n"] == N_WORLDS - 2).all()


def test_holm_adjustment():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.005])
    # sorted: 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> 0.02, 0.03, 0.06, 0.06 (monotone)
    assert np.allclose(holm(p), [0.03, 0.06, np.nan, 0.06, 0.02], equal_nan=True)
    assert np.isnan(holm([np.nan])).all() and holm([]).size == 0


def test_plotted_intervals_agree_with_the_claims():
    """The interval at the level Holm tested each comparison excludes 0 exactly when the
    report claims that difference (a Bonferroni interval would not always)."""
    rng = np.random.default_rng(5)
    shift = np.zeros((1, K_SETTINGS, N_KPIS))
    shift[0, 1:, :6] = rng.normal(0, 2.5, (K_SETTINGS - 1, 6))  # some clear, some borderline
    t = _family(_synthetic(rng, shift)).tests.dropna(subset=["p_value"])
    excludes = (t["adj_low"] > 0) | (t["adj_high"] < 0)
    assert 0 < t["significant"].sum() < len(t)
    assert (excludes == t["significant"]).all()
