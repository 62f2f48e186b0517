"""``exsim-report <sweep folder>``: join a sweep into one tidy table, draw the trade-offs,
write ``report.md``.  Sits on top (reads run folders only): nothing imports it.

Outputs, all in the sweep folder:

* ``results.parquet`` / ``results.csv`` -- one row per setting x KPI: the swept parameters,
  mean, sd, CI, N, and the paired difference against the baseline setting (CI, p,
  significant, and the share of replications on literally the same world);
* ``tradeoff_<kpi>.png`` -- each headline KPI against the swept numeric parameter with CI
  bands, one line per value of the other parameters (e.g. per recovery plan);
* ``cost_vs_satisfaction.png`` -- mean cost per order vs expected stars with CIs, the
  Pareto front (cheaper and better) marked;
* ``case_wait_vs_alerts.png`` -- the exception team's case wait against alerts per day;
* ``report.md`` -- best settings by cost and by satisfaction with CIs, and the settings
  statistically indistinguishable from them.

A KPI that is absent from the runs skips its plot, with a note in ``report.md``.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiment.collect import Collected, collect, pair, results_table
from sim.experiment.runs import write_atomic
from sim.experiment.stats import welch_diff

CURVE_KPIS = ("cost_per_order", "stars_mean", "detractor_share", "alerts_per_day",
              "proactive_catch_share")  # fmt: skip
COST_KPI = "cost_per_order"
SATISFACTION_KPI = "stars_mean"
LABELS = {
    "cost_per_order": "total cost per order (USD)", "stars_mean": "expected stars (1-5)",
    "detractor_share": "detractor share (1-2 stars)", "alerts_per_day": "alerts per day",
    "proactive_catch_share": "proactive-catch share", "case_wait_hours": "case wait (hours)",
    "on_time_share": "on-time share", "contacts_per_order": "contacts per order",
}  # fmt: skip


def _plt():
    """pyplot, with whatever backend is active (inline in a notebook; ``main`` picks Agg)."""
    import matplotlib.pyplot as plt

    return plt


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


@dataclass
class Report:
    root: Path
    collected: Collected
    results: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    markdown: str = ""


def varying_params(c: Collected) -> list[str]:
    ok = c.ok
    return [p for p in c.params if p in ok.columns and ok[p].astype(str).nunique() > 1]


def inert_params(c: Collected) -> list[str]:
    """Swept parameters that changed no KPI in any replication (e.g. a window swept on a
    rule that is not enabled): the runs differing only in them have identical results."""
    vary, ok = varying_params(c), c.ok
    kpis = c.kpis
    out = []
    for p in vary:
        others = [q for q in vary if q != p]
        groups = ok.groupby(others, dropna=False) if others else [((), ok)]
        same = True
        for _, g in groups:
            mats = [c.reps[c.reps["run"] == r].sort_values(["seed", "replication"])[kpis]
                    .to_numpy() for r in g["run"]]  # fmt: skip
            if any(m.shape != mats[0].shape or not np.array_equal(m, mats[0], equal_nan=True)
                   for m in mats[1:]):  # fmt: skip
                same = False
                break
        if same:
            out.append(p)
    return out


def _is_numeric(s: pd.Series) -> bool:
    return pd.to_numeric(s, errors="coerce").notna().all()


def choose_axes(c: Collected, x: str | None = None) -> tuple[str | None, list[str]]:
    """The x parameter (given, else the first varying numeric one) and the line groups."""
    vary = varying_params(c)
    if x is None:
        numeric = [p for p in vary if _is_numeric(c.ok[p])]
        x = numeric[0] if numeric else None
    return x, [p for p in vary if p != x]


def _label(row, params: list[str]) -> str:
    return " ".join(f"{_short(p)}={row[p]}" for p in params) if params else "all"


def tradeoff_figure(results: pd.DataFrame, kpi: str, x: str | None, by: list[str]):
    """``kpi`` (mean and CI band) against parameter ``x``, one line per ``by`` group."""
    plt = _plt()
    df = results[results["kpi"] == kpi].copy()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if x is None:  # nothing numeric swept: one point per setting
        pos = np.arange(len(df))
        ax.errorbar(pos, df["mean"], yerr=df["half_width"].fillna(0), fmt="o", capsize=4)
        ax.set_xticks(pos, df["setting"], rotation=30, ha="right", fontsize=7)
    else:
        df["_x"] = pd.to_numeric(df[x])
        groups = df.groupby(by, sort=False, dropna=False) if by else [((), df)]
        for key, g in groups:
            g = g.sort_values("_x")
            key = key if isinstance(key, tuple) else (key,)
            label = " ".join(f"{_short(p)}={v}" for p, v in zip(by, key, strict=True)) or None
            (line,) = ax.plot(g["_x"], g["mean"], marker="o", label=label)
            ax.fill_between(g["_x"], g["ci_low"], g["ci_high"], alpha=0.2, color=line.get_color())
        ax.set_xlabel(x)
        if by:
            ax.legend(fontsize=8)
    n = df["n"].min()
    ax.set_ylabel(LABELS.get(kpi, kpi))
    ax.set_title(f"{LABELS.get(kpi, kpi)}: mean and 95 % CI (N = {n})", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def pareto_front(cost: np.ndarray, sat: np.ndarray) -> np.ndarray:
    """Boolean mask of settings no other setting beats on both (lower cost, higher sat)."""
    keep = np.ones(len(cost), bool)
    for i in range(len(cost)):
        dominated = (cost <= cost[i]) & (sat >= sat[i]) & ((cost < cost[i]) | (sat > sat[i]))
        keep[i] = not dominated.any()
    return keep


def _wide(results: pd.DataFrame, kpis: list[str]) -> pd.DataFrame:
    w = results[results["kpi"].isin(kpis)].pivot_table(
        index=["run", "setting"], columns="kpi", values=["mean", "half_width"], sort=False)
    return w.dropna()


def scatter_figure(results: pd.DataFrame, kx: str, ky: str, params: list[str], front: bool):
    plt = _plt()
    w = _wide(results, [kx, ky])
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    xs, ys = w[("mean", kx)].to_numpy(), w[("mean", ky)].to_numpy()
    ax.errorbar(xs, ys, xerr=w[("half_width", kx)], yerr=w[("half_width", ky)], fmt="o",
                capsize=3, alpha=0.7, label="setting (95 % CI)")  # fmt: skip
    labels = results.drop_duplicates("run").set_index("run")
    for (run, _), x_, y_ in zip(w.index, xs, ys, strict=True):
        ax.annotate(_label(labels.loc[run], params) if params else run, (x_, y_), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")  # fmt: skip
    if front:
        mask = pareto_front(xs, ys)
        order = np.argsort(xs[mask])
        ax.plot(xs[mask][order], ys[mask][order], "r-", marker="*", ms=12, lw=1.5,
                label="Pareto front (cheaper and better)")  # fmt: skip
    ax.set_xlabel(LABELS.get(kx, kx))
    ax.set_ylabel(LABELS.get(ky, ky))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _fmt(s: pd.Series) -> str:
    if not math.isfinite(s["half_width"]):
        return f"{s['mean']:.4g} (N={s['n']}, no CI)"
    return f"{s['mean']:.4g} ± {s['half_width']:.2g} [{s['ci_low']:.4g}, {s['ci_high']:.4g}], N={s['n']}"


def _indistinguishable(c: Collected, best_run: str, kpi: str, conf: float) -> list[tuple[str, str]]:
    """Runs whose difference to the best is not significant (paired where worlds match)."""
    out = []
    for _, r in c.ok.iterrows():
        if r["run"] == best_run:
            continue
        d = pair(c, best_run, r["run"], kpi, conf)
        how = "paired"
        if not d.get("diff_n") or (isinstance(d.get("diff_n"), float) and math.isnan(d["diff_n"])):
            a = c.reps.loc[c.reps["run"] == best_run, kpi]
            b = c.reps.loc[c.reps["run"] == r["run"], kpi]
            d, how = welch_diff(a, b, conf), "unpaired"
        if math.isfinite(d.get("diff_low", math.nan)) and not d["significant"]:
            out.append((r["setting"], f"diff {d['diff']:+.3g} [{d['diff_low']:+.3g}, "
                                      f"{d['diff_high']:+.3g}] ({how})"))  # fmt: skip
    return out


def _best_section(c: Collected, res: pd.DataFrame, kpi: str, lower: bool, title: str,
                  conf: float) -> list[str]:
    df = res[res["kpi"] == kpi]
    if df.empty:
        return [f"## Best by {title}", "", f"_`{kpi}` is not among the KPIs of these runs: "
                f"no ranking by {title}._", ""]  # fmt: skip
    best = df.loc[df["mean"].idxmin() if lower else df["mean"].idxmax()]
    lines = [f"## Best by {title} (`{kpi}`, {'lowest' if lower else 'highest'} mean)", "",
             f"**{best['setting']}**: {_fmt(best)}", ""]  # fmt: skip
    same = _indistinguishable(c, best["run"], kpi, conf)
    if same:
        lines.append(f"Statistically indistinguishable from it ({100 * conf:g} % CI of the "
                     "difference contains 0):")  # fmt: skip
        lines += [f"- {s}: {d}" for s, d in same]
    else:
        lines.append("Every other setting differs significantly from it.")
    return [*lines, ""]


def make_report(sweep_dir: str | Path, baseline: str | None = None, x: str | None = None,
                curve_kpis=CURVE_KPIS, cost_kpi: str = COST_KPI,
                satisfaction_kpi: str = SATISFACTION_KPI, confidence: float = 0.95) -> Report:
    root = Path(sweep_dir)
    c = collect(root)
    res = results_table(c, baseline, confidence)
    vary = varying_params(c)
    if vary:  # name settings by what varies (the constant overrides are in every label)
        short = {r["run"]: _label(r, vary) for _, r in c.runs.iterrows()}
        if len(set(short.values())) == len(short):
            base_of = dict(zip(res["setting"], res["run"], strict=False))
            c.runs["setting"] = c.runs["run"].map(short)
            res["setting"] = res["run"].map(short)
            res["baseline"] = res["baseline"].map(lambda b: short.get(base_of.get(b), b))
    rep = Report(root, c, res)
    write_atomic(root / "results.parquet", lambda p: res.to_parquet(p, index=False))
    write_atomic(root / "results.csv", lambda p: res.to_csv(p, index=False))
    rep.files += [root / "results.parquet", root / "results.csv"]
    present = set(res["kpi"])
    xp, by = choose_axes(c, x)
    plt = _plt()

    def save(fig, name: str) -> None:
        path = root / name
        write_atomic(path, lambda p: fig.savefig(p, dpi=110, format="png"))
        plt.close(fig)
        rep.files.append(path)

    for k in curve_kpis:
        if k not in present:
            rep.notes.append(f"skipped `tradeoff_{k}.png`: KPI `{k}` is not in the results")
            continue
        save(tradeoff_figure(res, k, xp, by), f"tradeoff_{k}.png")
    if {cost_kpi, satisfaction_kpi} <= present:
        save(scatter_figure(res, cost_kpi, satisfaction_kpi, vary, front=True),
             "cost_vs_satisfaction.png")  # fmt: skip
    else:
        missing = sorted({cost_kpi, satisfaction_kpi} - present)
        rep.notes.append(f"skipped `cost_vs_satisfaction.png`: KPI {missing} not in the results")
    if {"alerts_per_day", "case_wait_hours"} <= present:
        save(scatter_figure(res, "alerts_per_day", "case_wait_hours", vary, front=False),
             "case_wait_vs_alerts.png")  # fmt: skip
    else:
        missing = sorted({"alerts_per_day", "case_wait_hours"} - present)
        rep.notes.append(f"skipped `case_wait_vs_alerts.png`: KPI {missing} not in the results")

    for p in inert_params(c):
        rep.notes.append(f"**`{p}` changed nothing**: runs that differ only in it have identical "
                         "KPIs in every replication -- is the setting it belongs to enabled? "
                         "(e.g. `detection.no_movement.hours` needs a preset with the rule on, "
                         "such as `detection=no_movement_24h`)")  # fmt: skip
    rep.markdown = _markdown(rep, baseline, xp, by, cost_kpi, satisfaction_kpi, confidence)
    write_atomic(root / "report.md", lambda p: p.write_text(rep.markdown))
    rep.files.append(root / "report.md")
    return rep


def _markdown(rep: Report, baseline, xp, by, cost_kpi, sat_kpi, conf) -> str:
    c, res = rep.collected, rep.results
    n_ok, n_all = len(c.ok), len(c.runs)
    ns = sorted({int(n) for n in c.ok["n"]}) if len(c.ok) else []
    lines = [f"# exsim sweep report: `{rep.root}`", "",
             f"{n_ok} of {n_all} runs finished; replications per run: {ns or '-'}; "
             f"intervals are {100 * conf:g} % t-intervals over replications.", ""]  # fmt: skip
    if len(c.failed):
        lines += ["**Failed runs** (see `status.json` in each folder):", ""]
        lines += [f"- `{r['run']}` {r['setting']}: status {r['status']}: {r['error']}"
                  for _, r in c.failed.iterrows()]  # fmt: skip
        lines.append("")
    lines += _best_section(c, res, cost_kpi, True, "cost", conf)
    lines += _best_section(c, res, sat_kpi, False, "satisfaction", conf)
    if len(res):
        bl = res["baseline"].dropna().unique()
        lines += ["## Paired differences", "",
                  f"Against baseline {', '.join(f'**{b}**' for b in bl) or '-'} "
                  f"({'--baseline ' + repr(baseline) if baseline else 'default: the first run'}): "
                  "see the `diff*` columns of `results.csv`; replications are matched on "
                  "(seed, replication), i.e. on the same world.", ""]  # fmt: skip
        heads = [k for k in dict.fromkeys((cost_kpi, sat_kpi, "detractor_share", "alerts_per_day",
                             "proactive_catch_share", "case_wait_hours", "on_time_share",
                             "contacts_per_order")) if k in set(res["kpi"])]  # fmt: skip
        heads = heads or list(dict.fromkeys(res["kpi"]))[:6]
        lines += ["## Settings", "", "| setting | " + " | ".join(heads) + " |",
                  "|---|" + "---|" * len(heads)]  # fmt: skip
        for _, g in res.groupby("run", sort=False):
            g = g.set_index("kpi")
            cells = [f"{g.loc[k, 'mean']:.4g} ± {g.loc[k, 'half_width']:.2g}" if k in g.index
                     else "-" for k in heads]  # fmt: skip
            lines.append(f"| {g['setting'].iloc[0]} | " + " | ".join(cells) + " |")
        lines.append("")
    plots = [f for f in rep.files if f.suffix == ".png"]
    lines += ["## Plots", ""]
    lines += [f"- `{p.name}`" for p in plots] or ["- none"]
    if xp:
        per = f"one line per {', '.join(f'`{b}`' for b in by)}" if by else "one line"
        lines.append(f"\nx axis: `{xp}`; {per}; bands are 95 % CIs of each mean (the paired "
                     "differences in `results.csv` are usually much tighter).")
    if rep.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in rep.notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="exsim-report", description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", help="a multirun folder (hydra.sweep.dir) or sweep() out_dir")
    ap.add_argument("--baseline", help="setting to compare against, e.g. 'detection=reactive' "
                    "(key=value pairs; default: the first run)")  # fmt: skip
    ap.add_argument("--x", help="parameter on the x axis (default: first numeric swept one)")
    ap.add_argument("--curves", help=f"comma-separated KPIs to plot (default: {','.join(CURVE_KPIS)})")
    ap.add_argument("--cost", default=COST_KPI, help="KPI ranked lowest-is-best")
    ap.add_argument("--satisfaction", default=SATISFACTION_KPI, help="KPI ranked highest-is-best")
    ap.add_argument("--confidence", type=float, default=0.95)
    a = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    if not Path(a.sweep_dir).is_dir():
        print(f"exsim-report: {a.sweep_dir}: not a folder", file=sys.stderr)
        return 2
    curves = tuple(a.curves.split(",")) if a.curves else CURVE_KPIS
    try:
        rep = make_report(a.sweep_dir, a.baseline, a.x, curves, a.cost, a.satisfaction,
                          a.confidence)  # fmt: skip
    except ValueError as err:
        print(f"exsim-report: {err}", file=sys.stderr)
        return 2
    if rep.collected.runs.empty:
        print(f"exsim-report: no run folders (status.json) under {a.sweep_dir}", file=sys.stderr)
        return 1
    print(rep.markdown)
    print("wrote: " + ", ".join(p.name for p in rep.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
