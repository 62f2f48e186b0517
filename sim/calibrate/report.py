"""The fit report: ``calibration.md`` and one PNG per fitted quantity (histogram with the
fitted densities, QQ plot of the AIC-best family)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.calibrate.fit import Fit

if TYPE_CHECKING:
    from sim.calibrate.run import CalibrationResult


def _num(x: float, digits: int = 3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:.0f}"


def plot_fit(fit: Fit, label: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = fit.data
    fig, (ax, qq) = plt.subplots(1, 2, figsize=(10, 4))
    top = np.quantile(x, 0.99)
    shown = x[x <= top]
    width = top / 60
    # density of all the data (the 1 % beyond p99 is off the chart, not renormalised away)
    ax.hist(shown, bins=np.linspace(0, top, 61), weights=np.full(shown.size, 1 / (x.size * width)),
            color="0.8", label=f"data (n={x.size}; axis to p99)")
    grid = np.linspace(max(top / 500, 1e-6), top, 400)
    for c in fit.candidates:
        style = "-" if c is fit.best else "--"
        ax.plot(grid, c.dist().pdf(grid), style, label=f"{c.family} AIC {c.aic:.0f}")
    ax.set_xlabel("hours")
    ax.set_ylabel("density")
    ax.set_title(label, fontsize=9)
    ax.legend(fontsize=8)
    b = fit.best
    p = (np.arange(1, x.size + 1) - 0.5) / x.size
    theo = b.dist().ppf(p)
    qq.plot(theo, np.sort(x), ".", ms=2)
    lim = [0, max(theo[-1], x.max())]
    qq.plot(lim, lim, "k-", lw=0.8)
    qq.set_xscale("symlog", linthresh=1)
    qq.set_yscale("symlog", linthresh=1)
    qq.set_xlabel(f"{b.family} quantile (hours)")
    qq.set_ylabel("data quantile (hours)")
    qq.set_title(f"QQ, {b.family}: KS D = {b.ks:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_holdout(rows, insample, path: Path) -> None:
    """Observed (check part, fit part) vs simulated, with their CIs, one panel per kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [("late share", [r for r in rows if r.figure == "late share"]),
              ("lead time (days)", [r for r in rows if r.figure.startswith("lead time")]),
              ("days late, share of late orders", [r for r in rows if r.figure.startswith("late ") and "share of late" in r.figure])]  # fmt: skip
    fit = {r.figure: r for r in insample}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1, 2.2, 2.6]})
    for ax, (title, rs) in zip(axes, groups, strict=True):
        x = np.arange(len(rs))
        for dx, key, color, label in ((-0.22, "obs", "C0", "observed, check part"),
                                      (0.0, "fit", "0.6", "observed, fit part"),
                                      (0.22, "sim", "C3", "simulated")):  # fmt: skip
            for i, r in enumerate(rs):
                if key == "fit" and r.figure not in fit:
                    continue
                v, lo, hi = ((r.observed, r.obs_lo, r.obs_hi) if key == "obs" else
                             (fit[r.figure].observed, fit[r.figure].obs_lo, fit[r.figure].obs_hi)
                             if key == "fit" else (r.simulated, r.sim_lo, r.sim_hi))
                if not np.isfinite([v, lo, hi]).all():
                    continue
                ax.errorbar(i + dx, v, yerr=[[max(v - lo, 0)], [max(hi - v, 0)]], fmt="o",
                            color=color, capsize=3, label=label if i == 0 else None)
        ax.set_xticks(x)
        ax.set_xticklabels([r.figure.replace(" (d)", "").replace(" (share of late)", "")
                            .replace("lead time ", "") for r in rs], fontsize=8, rotation=20)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fit_table(fits: dict[str, Fit], labels: dict[str, str], level: float) -> list[str]:
    pct = f"{level:.0%}"
    out = ["| quantity | n | family | AIC | ΔAIC | median h | shape | KS D | KS p |",
           "|---|---|---|---|---|---|---|---|---|"]
    for q, f in fits.items():
        best = f.best
        for c in sorted(f.candidates, key=lambda c: c.aic):
            mark = "**" if c is best else ""
            out.append(f"| {labels.get(q, q) if c is best else ''} | {f.n if c is best else ''} | "
                       f"{mark}{c.family}{mark} | {c.aic:.1f} | {c.aic - best.aic:.1f} | "
                       f"{_num(c.median)} | {_num(c.shape)} | {c.ks:.3f} | {_num(c.ks_p, 2)} |")
    out += ["", f"AIC-best families with bootstrap {pct} CIs (percentile, resampling the orders):", "",
            "| quantity | family | median h [CI] | shape [CI] | zeros set to ½ min |",
            "|---|---|---|---|---|"]
    for q, f in fits.items():
        b = f.best
        out.append(f"| {q} | {b.family} | {_num(b.median)} [{_num(f.median_ci[0])}, "
                   f"{_num(f.median_ci[1])}] | {_num(b.shape)} [{_num(f.shape_ci[0])}, "
                   f"{_num(f.shape_ci[1])}] | {f.zeros_raised} |")
    return out


def write_report(r: CalibrationResult, out: Path, plots: bool = True) -> Path:
    from sim.calibrate.run import LABELS

    out.mkdir(parents=True, exist_ok=True)
    s, h, e = r.settings, r.history, r.estimates
    lv = f"{s.ci_level:.0%}"
    md = [f"# Calibration '{s.name}'", "",
          f"Scenario written: `{r.scenario_path}` — run it with "
          f"`exsim scenario={r.overrides['name']}`.", "",
          "## Input", "",
          f"- orders: `{h.path}`: {h.n_rows} rows; {len(h.orders)} with a usable purchase time "
          f"(arrival profile, volume); {int(h.orders['complete'].sum())} complete "
          "(durations, late share).",
          f"- date formats detected: {', '.join(f'{k} `{v}`' for k, v in h.formats.items())}",
          ]  # fmt: skip
    if r.tracking is not None:
        md.append(f"- tracking events: `{r.tracking.path}`: {r.tracking.n_rows} rows, "
                  f"{len(r.tracking.events)} usable.")
    md += ["", "Rows skipped, by reason (each row counted once, under its first problem):", "",
           "| file | reason | rows | first line |", "|---|---|---|---|"]
    for name, issues in (("orders", h.issues), ("tracking", r.tracking.issues if r.tracking else None)):
        if issues is None:
            continue
        for reason, n, first in issues.table():
            md.append(f"| {name} | {reason} | {n} | {first} |")
        if not issues.counts:
            md.append(f"| {name} | (none) | 0 | |")
    split = "no split (fit_fraction = 1)" if r.split_at is None else (
        f"orders placed before {r.split_at:%Y-%m-%d %H:%M} ({r.n_fit} orders) fit the model; "
        f"the {r.n_check} placed later are the held-out check")
    md += ["", "## Split by time", "", f"{split} (fit_fraction = {s.fit_fraction}).", "",
           "## Fitted durations (fit part)", "",
           "Families by AIC (lower is better; location fixed at 0); KS against the fitted "
           "distribution (with estimated parameters, so p-values are optimistic; with thousands "
           "of rows any small misfit is 'significant').", ""]
    md += _fit_table(r.fits, LABELS, s.ci_level)
    lo, hi = e.late_ci
    pad = e.padding_hours / 24
    md += ["", "## Promise", "",
           f"- late share (delivered after the promise): {e.late_share:.3%} "
           f"({e.late_k} of {e.n_complete}), Wilson {lv} CI [{lo:.3%}, {hi:.3%}]",
           "- promise padding (promised − delivered, days): p10 {:.1f}, median {:.1f}, p90 {:.1f}"
           .format(*np.quantile(pad, [0.1, 0.5, 0.9])),
           f"- promise ↔ transit: normal-score correlation in the data {e.promise_transit_corr:.3f}; "
           f"the scenario's Gaussian-copula correlation orders.promise_transit_corr = "
           f"{r.overrides['orders']['promise_transit_corr']} is the value at which the fitted "
           f"distributions reproduce the observed late share (model: "
           f"{(e.late_share_model or float('nan')):.3%}; method of simulated moments). Long "
           "promises go with long trips: with no correlation the late share would be overstated.",
           "", "## Arrivals", "",
           f"- {e.n_orders} orders over {e.days:.0f} days: {e.per_day:.2f} per day "
           f"({e.start:%Y-%m-%d} .. {e.end:%Y-%m-%d})",
           "- hour-of-day profile (mean 1): " + ", ".join(f"{x:.2f}" for x in e.hour_profile),
           "- weekday profile Mon..Sun (mean 1): " + ", ".join(f"{x:.2f}" for x in e.weekday_profile)]
    if e.value_median:
        md.append(f"- order value: lognormal median {e.value_median:.2f}, sigma {e.value_sigma:.2f}")
    if e.regions:
        md.append("- regions: " + ", ".join(f"{k} {v:.1%}" for k, v in e.regions.items()))
    t = r.tracking_estimates
    if t is not None:
        n = max(t.n_shipments, 1)
        md += ["", "## Tracking events (fit part)", "",
               f"- shipments: {t.n_shipments}; no carrier event at all: {t.no_scan_k} "
               f"({t.no_scan_k / n:.2%}); events but no acceptance scan: {t.missing_first_k} "
               f"({t.missing_first_k / n:.2%}); missing first scan in all: "
               f"{t.missing_first_share:.2%}",
               "- scan gaps (h): p10 {:.1f}, median {:.1f}, p90 {:.1f}".format(
                   *np.quantile(t.scan_gaps, [0.1, 0.5, 0.9])) if t.scan_gaps.size else "- no scan gaps",
               ""]  # fmt: skip
        md += [f"- note: {note}" for note in t.notes]
        if r.tracking_fits:
            md += [""] + _fit_table(r.tracking_fits, LABELS, s.ci_level)
    if r.periods:
        md += ["", "## Is the history stationary?", "",
               "Observed figures by period (complete orders). A scenario is stationary: if "
               "these differ beyond their CIs, expect the held-out check to fail by as much.", "",
               f"| period | orders | late share [{lv} CI] | median lead time d [{lv} CI] |",
               "|---|---|---|---|"]
        for label, n, f in r.periods:
            ls, p50 = f["late share"], f["lead time p50 (d)"]
            md.append(f"| {label} | {n} | {ls[0]:.3f} [{ls[1]:.3f}, {ls[2]:.3f}] | "
                      f"{p50[0]:.2f} [{p50[1]:.2f}, {p50[2]:.2f}] |")
        p50s = [f["lead time p50 (d)"] for _, _, f in r.periods]
        drift = any(a[2] < b[1] or b[2] < a[1] for a in p50s for b in p50s)
        md += ["", "**Drift**: the median lead time differs between periods beyond the CIs."
               if drift else "No drift in the median lead time beyond the CIs."]
    md += ["", "## Held-out check", ""]
    if r.holdout:
        ok = sum(row.within for row in r.holdout)
        md += [f"Orders placed from {r.split_at:%Y-%m-%d} (check part, complete orders only) vs "
               f"the calibrated scenario simulated over the same period, {s.replications} "
               f"replications (t-interval). Observed CIs: Wilson for shares, bootstrap "
               f"percentile for quantiles; {lv}.", "",
               "| figure | observed | observed CI | simulated | simulated CI | sim within obs CI |",
               "|---|---|---|---|---|---|"]
        for row in r.holdout:
            md.append(f"| {row.figure} | {_num(row.observed)} | [{_num(row.obs_lo)}, "
                      f"{_num(row.obs_hi)}] | {_num(row.simulated)} | [{_num(row.sim_lo)}, "
                      f"{_num(row.sim_hi)}] | {'yes' if row.within else '**no**'} |")
        md += ["", f"{ok} of {len(r.holdout)} simulated figures lie within the observed CI."]
        if r.insample:
            md += ["", "In-sample reference: the same simulated figures against the fit part "
                   "(if these agree and the held-out ones do not, the history drifted between "
                   "the two periods; if these disagree too, the model misses something).", "",
                   "| figure | observed (fit part) | observed CI | simulated | sim within obs CI |",
                   "|---|---|---|---|---|"]
            for row in r.insample:
                md.append(f"| {row.figure} | {_num(row.observed)} | [{_num(row.obs_lo)}, "
                          f"{_num(row.obs_hi)}] | {_num(row.simulated)} | "
                          f"{'yes' if row.within else '**no**'} |")
        md += ["", "Note: the check part's most recent orders are censored (orders still in "
               "transit at export time are not 'delivered' yet). Drift between the fit and "
               "check periods shows here and in 'Is the history stationary?' above."]
    else:
        md.append("No held-out check (fit_fraction = 1 or fewer than 30 complete check orders).")
    r.pngs = []
    if plots:
        md += ["", "## Plots", ""]
        if r.holdout:
            p = out / "holdout.png"
            plot_holdout(r.holdout, r.insample, p)
            r.pngs.append(p)
            md.append(f"- `{p.name}`: held-out check, observed vs simulated with {lv} CIs\n\n"
                      f"  ![holdout]({p.name})")
        for q, f in {**r.fits, **r.tracking_fits}.items():
            p = out / f"fit_{q}.png"
            plot_fit(f, LABELS.get(q, q), p)
            r.pngs.append(p)
            md.append(f"- `{p.name}`: {LABELS.get(q, q)}\n\n  ![{q}]({p.name})")
    path = out / "calibration.md"
    path.write_text("\n".join(md) + "\n")
    r.report_path = path
    return path
