"""Satisfaction from the user's own reviews: stars by days late and the detractor curve,
fitted into the outcome config (``sim.outcomes``' customer model) and checked on held-out
reviews.

Model (the one :func:`sim.outcomes.lateness_penalty` scores): expected stars =
on-time level − penalty(d), d = delivered day − promised day; penalty 0 before the promised
day, ``promise_day_penalty`` on it, ``late_step + late_extra_max (1 − exp(−d /
late_scale_days))`` after it, ``never_penalty`` without a delivery.  Fitted by bounded
least squares on the individual reviews (scipy ``least_squares``).  The detractor share
(1–2 stars) is logistic in expected stars (maximum likelihood).

Validation: the reviews are split at random; the curve fitted on one part predicts the
other part's mean stars and detractor share per days-late bucket.  Each prediction's
standard error comes from a bootstrap of the fit part; the table holds at the stated
family-wise level (Bonferroni over its rows, as in :mod:`sim.calibrate.holdout`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from sim.calibrate import holdout
from sim.calibrate.load import DataError, _check_columns, _dates, read_table
from sim.calibrate.settings import CalibrationSettings

BUCKETS = (("before the promised day", -np.inf, -1), ("on the promised day", 0, 0),
           ("1-3 d late", 1, 3), ("4-7 d late", 4, 7), ("8-14 d late", 8, 14),
           ("> 14 d late", 15, np.inf))  # fmt: skip
NEVER = "never delivered"
PARAMS = ("stars_on_time", "promise_day_penalty", "late_step", "late_extra_max",
          "late_scale_days", "never_penalty")  # fmt: skip


@dataclass
class Reviews:
    stars: np.ndarray  # 1..5
    days_late: np.ndarray  # NaN: never delivered
    n_rows: int
    skipped: dict[str, int]
    path: str


def load_reviews(path: str, settings: CalibrationSettings) -> Reviews:
    df = read_table(path, settings.encoding, settings.delimiter)
    rc = settings.reviews.columns
    mapping = {k: getattr(rc, k) for k in rc.__dataclass_fields__}
    _check_columns(df, mapping, ("score", "promise", "delivery"), path, "reviews.columns",
                   settings.delimiter)
    stars = pd.to_numeric(df[rc.score], errors="coerce").to_numpy(float)
    promise, bad_p, *_ = _dates(df, rc.promise, settings, "review promise", path)
    delivery, bad_d, *_ = _dates(df, rc.delivery, settings, "review delivery", path)
    d = ((delivery.dt.normalize() - promise.dt.normalize()) / pd.Timedelta(days=1)).to_numpy(float)
    reasons = {
        "score not a number in 1..5": ~np.isin(stars, [1, 2, 3, 4, 5]),
        "promise: unparseable or missing date": (bad_p | promise.isna()).to_numpy(),
        "delivery: unparseable date": bad_d.to_numpy(),
    }
    if rc.status:
        ok = df[rc.status].astype(str).str.strip()
        # a delivered order without a delivery date cannot be placed on the curve
        reasons["delivered status without a delivery date"] = (
            ok.isin(settings.reviews.delivered_statuses) & delivery.isna()).to_numpy()
    keep = np.ones(len(df), bool)
    skipped = {}
    for reason, mask in reasons.items():
        m = keep & mask
        if m.any():
            skipped[reason] = int(m.sum())
        keep &= ~m
    if keep.sum() < 50:
        raise DataError(f"{path}: only {int(keep.sum())} usable reviews (need 50): {skipped}")
    return Reviews(stars[keep], d[keep], len(df), skipped, path)


def penalty(d: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The outcome model's lateness penalty (same formula as sim.outcomes)."""
    _, day, step, extra, scale, never = p
    late = step + extra * (1 - np.exp(-np.maximum(d, 0) / scale))
    out = np.where(d < 0, 0.0, np.where(d == 0, day, late))
    return np.where(np.isnan(d), never, out)


def fit_curve(stars: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Least-squares PARAMS on individual reviews, all penalties >= 0.

    For a fixed ``late_scale_days`` the model is linear in the others (non-negative least
    squares, scipy ``nnls``); the scale is profiled out on [0.5, 60] days."""
    never = np.isnan(d)
    dd = np.where(never, -1.0, d)
    cols = [np.ones(d.size), -1.0 * (dd == 0), -1.0 * (dd > 0)]

    def solve(scale: float) -> tuple[np.ndarray, float]:
        a = np.column_stack([*cols, -1.0 * (dd > 0) * (1 - np.exp(-np.maximum(dd, 0) / scale)),
                             -1.0 * never])
        beta, rnorm = optimize.nnls(a, stars)
        return beta, rnorm

    r = optimize.minimize_scalar(lambda sc: solve(sc)[1], bounds=(0.5, 60.0), method="bounded",
                                 options={"xatol": 1e-3})
    m0, day, step, extra, nev = solve(r.x)[0]
    return np.array([m0, day, step, extra, r.x, nev])


def fit_detractor(stars: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """(midpoint, slope): P(1-2 stars) = 1 / (1 + exp(slope (expected - midpoint)))."""
    y = (stars <= 2).astype(float)

    def nll(th):
        z = th[1] * (expected - th[0])
        return float(np.sum(np.logaddexp(0, z) - (1 - y) * z))

    r = optimize.minimize(nll, [2.8, 1.2], method="Nelder-Mead")
    return float(r.x[0]), float(r.x[1])


def detractor(expected: np.ndarray, mid: float, slope: float) -> np.ndarray:
    return 1 / (1 + np.exp(slope * (expected - mid)))


def bucket_of(d: np.ndarray) -> np.ndarray:
    out = np.full(d.size, NEVER, dtype=object)
    for name, lo, hi in BUCKETS:
        out[(d >= lo) & (d <= hi)] = name
    return out


@dataclass
class ReviewFit:
    params: dict[str, float]  # PARAMS, on the sample's own scale
    detractor_midpoint: float
    detractor_slope: float
    late_reference_penalty: float  # on-time mean − late mean
    n: int
    holdout: list  # holdout.Row, mean stars and detractor share per bucket
    n_fit: int
    n_check: int
    table: pd.DataFrame  # observed mean stars per bucket (all reviews)

    def outcome_overrides(self, on_time_stars: float | None) -> dict:
        """The outcome-config fields this fit sets (OutcomeConfig names)."""
        p = self.params
        shift = 0.0 if on_time_stars is None else on_time_stars - p["stars_on_time"]
        return {
            "stars_on_time": round(p["stars_on_time"] + shift, 4),
            **{k: round(p[k], 4) for k in PARAMS[1:]},
            "late_reference_penalty": round(self.late_reference_penalty, 4),
            # the curve maps expected stars to P(1-2 stars); with an anchored on-time level
            # it is read at the anchored stars, so a complaint-rich sample's detractor
            # rates fall to the level's (Olist: 24 % -> ~14 % on time, as in the full data)
            "detractor_midpoint": round(self.detractor_midpoint, 4),
            "detractor_slope": round(self.detractor_slope, 4),
        }


def _fit_all(stars: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, float, float]:
    p = fit_curve(stars, d)
    mid, slope = fit_detractor(stars, p[0] - penalty(d, p))
    return p, mid, slope


def _bucket_figures(stars: np.ndarray, d: np.ndarray, buckets: np.ndarray) -> dict:
    out = {}
    for name in [b[0] for b in BUCKETS] + [NEVER]:
        m = buckets == name
        if m.sum() >= 5:
            out[f"mean stars, {name}"] = float(stars[m].mean())
            out[f"detractor share, {name}"] = float((stars[m] <= 2).mean())
    return out


def calibrate_reviews(rv: Reviews, settings: CalibrationSettings, bootstrap: int = 100
                      ) -> ReviewFit:
    s = settings
    rng = np.random.default_rng(s.seed + 7)
    n = rv.stars.size
    check = np.zeros(n, bool)
    check[rng.permutation(n)[: int(round(s.reviews.holdout_share * n))]] = True
    fs, fd = rv.stars[~check], rv.days_late[~check]
    cs, cd = rv.stars[check], rv.days_late[check]
    cb = bucket_of(cd)

    def predicted(p, mid, slope) -> dict:
        e = p[0] - penalty(cd, p)
        pr = detractor(e, mid, slope)
        out = {}
        for name in [b[0] for b in BUCKETS] + [NEVER]:
            m = cb == name
            if m.sum() >= 5:
                out[f"mean stars, {name}"] = float(e[m].mean())
                out[f"detractor share, {name}"] = float(pr[m].mean())
        return out

    point = predicted(*_fit_all(fs, fd))
    boots = pd.DataFrame([predicted(*_fit_all(fs[i], fd[i]))
                          for i in (rng.integers(0, fs.size, fs.size) for _ in range(bootstrap))])
    a = (1 - s.ci_level) / 2
    pred = {k: (v, *np.quantile(boots[k], [a, 1 - a]), float(boots[k].std(ddof=1)))
            for k, v in point.items()}  # fmt: skip
    obs = {}
    from scipy import stats

    z = stats.norm.ppf(1 - a)
    for k, v in _bucket_figures(cs, cd, cb).items():
        name = k.split(", ", 1)[1]
        m = cb == name
        x = cs[m] if k.startswith("mean") else (cs[m] <= 2).astype(float)
        se = float(x.std(ddof=1) / np.sqrt(x.size))
        obs[k] = (v, v - z * se, v + z * se, se)
    rows = holdout.compare(obs, pred, s.alpha, replications=10**6)
    p, mid, slope = _fit_all(rv.stars, rv.days_late)  # the written curve: all reviews
    late = rv.days_late > 0
    ref = float(rv.stars[rv.days_late <= 0].mean() - rv.stars[late].mean()) if late.any() else 0
    b = bucket_of(rv.days_late)
    order = [x[0] for x in BUCKETS] + [NEVER]
    table = pd.DataFrame({"bucket": b, "stars": rv.stars}).groupby("bucket")["stars"] \
        .agg(["mean", "count"]).reindex([x for x in order if x in set(b)])  # fmt: skip
    return ReviewFit(dict(zip(PARAMS, map(float, p), strict=True)), mid, slope, ref, n, rows,
                     int((~check).sum()), int(check.sum()), table)
