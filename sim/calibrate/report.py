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


def plot_holdout(validations, path: Path) -> None:
    """One row per validation: observed (check part; fit period where shown) vs simulated,
    with their CIs, one panel per kind of figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [("late share", lambda f: f == "late share"),
             ("lead time (days)", lambda f: f.startswith("lead time")),
             ("days late among late", lambda f: f.startswith("days late among late")),
             ("days late, share of late orders", lambda f: "share of late" in f)]
    fig, axes = plt.subplots(len(validations), 4, figsize=(16, 3.9 * len(validations)),
                             gridspec_kw={"width_ratios": [0.7, 2.4, 1.1, 2.4]}, squeeze=False)
    for row, v in zip(axes, validations, strict=True):
        for ax, (title, pick) in zip(row, kinds, strict=True):
            rs = [r for r in v.rows if pick(r.figure)]
            for dx, key, color, label in ((-0.22, "obs", "C0", "observed, check part"),
                                          (0.0, "ref", "0.6", "observed, fit part"),
                                          (0.22, "sim", "C3", "simulated")):  # fmt: skip
                for i, r in enumerate(rs):
                    if key == "ref" and r.reference is None:
                        continue
                    val, lo, hi = ((r.observed, r.obs_lo, r.obs_hi) if key == "obs" else
                                   r.reference[:3] if key == "ref" else
                                   (r.simulated, r.sim_lo, r.sim_hi))  # fmt: skip
                    if not np.isfinite([val, lo, hi]).all():
                        continue
                    ax.errorbar(i + dx, val, yerr=[[max(val - lo, 0)], [max(hi - val, 0)]],
                                fmt="o" if r.within or key != "sim" else "x", color=color,
                                capsize=3, label=label if i == 0 else None)
            ax.set_xticks(np.arange(len(rs)))
            ax.set_xticklabels([r.figure.replace(" (d)", "").replace(" (share of late)", "")
                                .replace("lead time ", "").replace("days late among late: ", "")
                                for r in rs], fontsize=8, rotation=20)
            ax.set_title(f"{title}", fontsize=9)
        row[0].set_ylabel(v.title.split(" — ")[1], fontsize=9)
        row[0].legend(fontsize=7)
    fig.suptitle("x = outside (the difference's simultaneous interval excludes 0)", fontsize=9)
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


def _validation_table(v, lv: str, alpha: float) -> list[str]:
    m = len(v.rows)
    ref = any(r.reference is not None for r in v.rows)
    head = ("| figure | observed [CI] | simulated [CI] | "
            + ("fit part observed [CI] | " if ref else "")
            + f"difference, simultaneous {1 - alpha:.0%} | verdict |")
    out = [f"{v.description}. {v.n_fit} complete orders fit, {v.n_check} check.", "", head,
           "|---|---|---|" + ("---|" if ref else "") + "---|---|"]
    for r in v.rows:
        cells = [r.figure, f"{_num(r.observed)} [{_num(r.obs_lo)}, {_num(r.obs_hi)}]",
                 f"{_num(r.simulated)} [{_num(r.sim_lo)}, {_num(r.sim_hi)}]"]
        if ref:
            cells.append("–" if r.reference is None else
                         f"{_num(r.reference[0])} [{_num(r.reference[1])}, {_num(r.reference[2])}]"
                         + (" **drift**" if r.figure in v.drift else ""))
        cells += [f"[{_num(r.diff_lo)}, {_num(r.diff_hi)}]", "ok" if r.within else "**fails**"]
        out.append("| " + " | ".join(cells) + " |")
    ok = sum(r.within for r in v.rows)
    out += ["", f"{ok} of {m} figures pass. Observed: {lv} bootstrap percentile interval "
            f"(resampling the check orders); simulated: {lv} t-interval over replications. "
            f"Verdict: the difference's interval (SE from the check part, the fit part — the "
            f"fitted model inherits its sampling error — and the simulation; Bonferroni over "
            f"the {m} figures, Welch–Satterthwaite df) contains 0 — the table holds at "
            f"family-wise level "
            f"{alpha:.0%}: a correct model fails some row with probability at most {alpha:.0%}."]
    if v.kind == "later":
        out += ["", ("**Drift** between the fit period and the check period (observed values "
                     f"differ beyond a simultaneous {1 - alpha:.0%} interval): "
                     + ", ".join(v.drift) + ". A stationary scenario fitted on the earlier "
                     "period cannot forecast these; fit a recent window with since=.")
                if v.drift else "No drift between the fit and the check period beyond a "
                f"simultaneous {1 - alpha:.0%} interval."]
    return out


def _lateness_section(r: CalibrationResult) -> list[str]:
    from sim.calibrate.lateness import MOMENTS

    lf = r.model.lateness
    s = r.settings
    md = ["", "## How late: the lateness structure", "",
          f"Late = {'delivered on a later calendar day than the promised day' if s.late_definition == 'later_day' else 'delivered after the promised instant'} "
          f"(`late_definition={s.late_definition}`). The door-to-door model (fitted handling "
          "delay + line-haul, promise lead) is joined by a Gaussian copula between the promise "
          "and the line-haul (ρ) and, optionally, a late-delivery component: with probability "
          "p an extra line-haul delay (lognormal) the promise does not foresee. Both models "
          "are fitted by simulated moments to all figures below at once (weights 1/SE², SE "
          "from a bootstrap of the orders). J = weighted squared distance.", "",
          "| moment | observed (SE) | plain model (ρ only) | late component |",
          "|---|---|---|---|"]
    for k, o, se, a, b in zip(MOMENTS, lf.observed, lf.se, lf.plain, lf.component, strict=True):
        md.append(f"| {k} | {_num(o)} ({_num(se, 2)}) | {_num(a)} | {_num(b)} |")
    md += [f"| **J** | | {lf.plain_j:.1f} (ρ = {lf.plain_rho:.3f}, line-haul × "
           f"{lf.plain_scale:.3f}) | {lf.component_j:.1f} |",
           "",
           f"Late component fitted: p = {lf.component_p:.3f}, median {lf.component_median / 24:.1f} d, "
           f"sigma {lf.component_sigma:.2f}, ρ = {lf.component_rho:.3f}, line-haul median × "
           f"{lf.component_scale:.3f} (the fitted families' sum must reproduce the lead times; "
           "the scale is fitted with the rest). "
           f"J falls by {lf.plain_j - lf.component_j:.1f} for 3 extra parameters (chi-square(3) "
           f"{1 - s.alpha:.0%} point {lf.threshold:.1f}): "
           + ("**kept** — the plain model cannot put both the share and the depth of lateness "
              "into one ρ." if lf.kept else "**not kept** — the plain model is enough.")
           + f" (`late_component={s.late_component}`.) Written: "
           f"`carrier.late_delay_prob = {r.overrides['carrier']['late_delay_prob']}`, "
           f"`orders.promise_transit_corr = {r.overrides['orders']['promise_transit_corr']}`."]
    return md


def write_report(r: CalibrationResult, out: Path, plots: bool = True) -> Path:
    from sim.calibrate.run import LABELS

    out.mkdir(parents=True, exist_ok=True)
    s, h, e = r.settings, r.history, r.estimates
    lv = f"{s.ci_level:.0%}"
    name = r.overrides["name"]
    md = [f"# Calibration '{s.name}'", "",
          f"Scenario written: `{r.scenario_path}`; outcome config: `{r.outcomes_path}` — run "
          f"with `exsim scenario={name} +outcomes={name}`.", "",
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
    for fname, issues in (("orders", h.issues), ("tracking", r.tracking.issues if r.tracking else None)):
        if issues is None:
            continue
        for reason, n, first in issues.table():
            md.append(f"| {fname} | {reason} | {n} | {first} |")
        if not issues.counts:
            md.append(f"| {fname} | (none) | 0 | |")
    win = (f"since={s.since} until={s.until}: " if s.since or s.until else "whole history: ")
    md += ["", "## What the scenario stands for", "",
           f"{win}orders placed {e.start:%Y-%m-%d} .. {e.end:%Y-%m-%d} ({r.n_window} orders, "
           f"{e.n_complete} complete). The scenario is stationary: it stands for this period "
           "(see drift below; `since=` fits a recent window for forecasting).", ""]
    n_cens, cut = r.censored
    if cut is not None:
        md += [f"Right-censoring guard: {n_cens} delivered orders placed after {cut:%Y-%m-%d %H:%M} "
               "(the file's last delivery minus the p99 lead time) are left out of the durations "
               "and the checks — at export time their slow siblings were still travelling, so "
               "only the fast ones are in the file (`censor_guard=false` keeps them).", ""]
    md += [
           "## Fitted durations", "",
           "Families by AIC (lower is better; location fixed at 0); KS against the fitted "
           "distribution (with estimated parameters, so p-values are optimistic; with thousands "
           "of rows any small misfit is 'significant').", ""]
    md += _fit_table(r.fits, LABELS, s.ci_level)
    md += _lateness_section(r)
    lo, hi = e.late_ci
    pad = e.padding_hours / 24
    md += ["", "## Promise", "",
           f"- late share: {e.late_share:.3%} ({e.late_k} of {e.n_complete}), Wilson {lv} CI "
           f"[{lo:.3%}, {hi:.3%}]",
           "- promise padding (promised − delivered, days): p10 {:.1f}, median {:.1f}, p90 {:.1f}"
           .format(*np.quantile(pad, [0.1, 0.5, 0.9])),
           f"- promise ↔ transit: normal-score correlation in the data {e.promise_transit_corr:.3f}; "
           f"fitted copula ρ {r.overrides['orders']['promise_transit_corr']} (above).",
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
        md += ["", "## Tracking events", "",
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
        md += ["", "## Drift by period", "",
               "Observed figures by calendar quarter (complete orders, quarters with at least "
               "30). The scenario is stationary: it reproduces the mix of these periods, not "
               "each one.", "",
               f"| quarter | orders | late share [{lv} CI] | median lead time d [{lv} CI] | "
               "mean days late among late |", "|---|---|---|---|---|"]
        for label, n, f in r.periods:
            ls, p50, dl = f["late share"], f["lead time p50 (d)"], f["days late among late: mean"]
            md.append(f"| {label} | {n} | {ls[0]:.3f} [{ls[1]:.3f}, {ls[2]:.3f}] | "
                      f"{p50[0]:.2f} [{p50[1]:.2f}, {p50[2]:.2f}] | {_num(dl[0])} |")
    for v in r.validations:
        md += ["", f"## {v.title}", ""] + _validation_table(v, lv, s.alpha)
    if not r.validations:
        md += ["", "## Validation", "", "Too few complete orders for a held-out check."]
    if r.reviews is not None:
        md += _reviews_section(r, lv)
    else:
        md += ["", "## Customer model", "",
               f"No reviews given (`--reviews`): the outcome config `{r.outcomes_path.name}` sets "
               f"only `promise_day_penalty = {r.outcomes['promise_day_penalty']}` (padded "
               "per-order promises: delivery on the promised day costs stars; Olist classified "
               "reviews)."]
    if r.world_stars:
        on, late = r.world_stars["on time"], r.world_stars["late"]
        md += ["", "Expected stars in the calibrated world (the outcome model's lateness "
               f"penalty on the simulated deliveries; {s.replications} replications, {lv} "
               "t-interval; item problems and recovery left out):", "",
               "| orders | calibrated world | Olist public (full data) |", "|---|---|---|",
               f"| on time | {on[0]:.2f} [{on[1]:.2f}, {on[2]:.2f}] | 4.28 |",
               f"| late | {late[0]:.2f} [{late[1]:.2f}, {late[2]:.2f}] | 2.55 |",
               f"| difference | {on[0] - late[0]:.2f} | 1.73 |"]
    r.pngs = []
    if plots:
        md += ["", "## Plots", ""]
        if r.validations:
            p = out / "holdout.png"
            plot_holdout(r.validations, p)
            r.pngs.append(p)
            md.append(f"- `{p.name}`: the validations, observed vs simulated with {lv} CIs\n\n"
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


def _reviews_section(r: CalibrationResult, lv: str) -> list[str]:
    from sim.calibrate.reviews import PARAMS

    f = r.reviews
    s = r.settings
    md = ["", "## Customer model from the reviews", "",
          f"{f.n} usable reviews of {f.n_rows} rows"
          + (f" (skipped: {', '.join(f'{k}: {v}' for k, v in f.skipped.items())})" if f.skipped
             else "") + ". Mean stars by days late (delivered day − promised day):", "",
          "| bucket | reviews | mean stars |", "|---|---|---|"]
    for b, row in f.table.iterrows():
        md.append(f"| {b} | {int(row['count'])} | {row['mean']:.2f} |")
    md += ["", "Fitted curve (least squares on the reviews; penalties relative to the on-time "
           "level) and detractor curve (maximum likelihood):", "",
           "| field | fitted | written |", "|---|---|---|"]
    for k in PARAMS:
        md.append(f"| {k} | {f.params[k]:.3f} | {r.outcomes[k]} |")
    md += [f"| late_reference_penalty | {f.late_reference_penalty:.3f} | "
           f"{r.outcomes['late_reference_penalty']} |",
           f"| detractor_midpoint | {f.detractor_midpoint:.3f} | {r.outcomes['detractor_midpoint']} |",
           f"| detractor_slope | {f.detractor_slope:.3f} | {r.outcomes['detractor_slope']} |"]
    if s.reviews.on_time_stars is not None:
        md += ["", f"`reviews.on_time_stars = {s.reviews.on_time_stars}`: the on-time level is "
               "kept and only the penalties (differences) come from the reviews; the detractor "
               "curve is read at the kept level, so the sample's detractor rates move with it."]
    md += ["", "### Review hold-out", "",
           f"A random {s.reviews.holdout_share:.0%} of the reviews ({f.n_check}) are held out; "
           f"the curve fitted on the other {f.n_fit} predicts their mean stars and detractor "
           f"share per days-late bucket (buckets with at least 5 reviews). Prediction interval: "
           f"bootstrap of the fit half; observed: {lv} normal interval.", "",
           f"| figure | observed [CI] | predicted [CI] | difference, simultaneous "
           f"{1 - s.alpha:.0%} | verdict |", "|---|---|---|---|---|"]
    for row in f.holdout:
        md.append(f"| {row.figure} | {row.observed:.3f} [{row.obs_lo:.3f}, {row.obs_hi:.3f}] | "
                  f"{row.simulated:.3f} [{row.sim_lo:.3f}, {row.sim_hi:.3f}] | "
                  f"[{row.diff_lo:.3f}, {row.diff_hi:.3f}] | "
                  f"{'ok' if row.within else '**fails**'} |")
    ok = sum(x.within for x in f.holdout)
    md += ["", f"{ok} of {len(f.holdout)} pass (Bonferroni over the table: family-wise level "
           f"{s.alpha:.0%})."]
    return md
