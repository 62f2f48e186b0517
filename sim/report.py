"""``exsim-report <sweep folder>``: which settings are best, how surely, and by how much.

Outputs, all in the sweep folder (written only after every input was checked):

* ``results.parquet`` / ``results.csv`` -- one row per setting x KPI: the swept parameters,
  mean, sd, CI, N, and the paired difference against the baseline setting (per-comparison
  interval, p, Holm-adjusted p and interval, significant, and the share of
  replications on literally the same world);
* ``differences.png`` -- the paired differences against the baseline with Holm-adjusted
  intervals (what decides; intervals of means overlap even where differences are clear);
* ``tradeoff_<kpi>.png`` -- each headline KPI against the swept numeric parameter with CI
  bands, one line per value of the other parameters (log scale where values span decades);
* ``cost_vs_satisfaction.png`` -- cost per order against expected stars, the Pareto front;
* ``case_wait_vs_alerts.png`` -- the exception team's case wait against alerts per day;
* ``report.md`` and ``report.html`` (one self-contained file, images embedded).

Every claim of a difference in the report belongs to one family of paired t-tests (every
setting against its baseline on every KPI; every pair of settings on the cost and
satisfaction KPIs), Holm-adjusted: the chance of any false claim is at most 1 - confidence.
"""

from __future__ import annotations

import argparse
import difflib
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiment.collect import Collected, analyse, baseline_runs, collect
from sim.experiment.runs import write_atomic
from sim.experiment.stats import Family
from sim.report_format import KPI_LABELS, Doc, axis_label, direction, fmt_interval, fmt_kpi, unit_of

CURVE_KPIS = ("cost_per_order", "stars_mean", "detractor_share", "alerts_per_day",
              "proactive_catch_share")  # fmt: skip
COST_KPI = "cost_per_order"
SATISFACTION_KPI = "stars_mean"
HEAD_KPIS = ("cost_per_order", "stars_mean", "detractor_share", "alerts_per_day",
             "proactive_catch_share", "case_wait_hours", "on_time_share", "contacts_per_order")
DECADES = 10.0  # a log axis when the largest mean is at least this many times the smallest


class ReportError(Exception):
    """Bad input or nothing to report: the message says what and what is allowed."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


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
    family: Family | None = None
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    markdown: str = ""
    html: str = ""


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
    return bool(pd.to_numeric(s, errors="coerce").notna().all())


def choose_axes(c: Collected, x: str | None = None) -> tuple[str | None, list[str]]:
    """The x parameter (given, else the first varying numeric one) and the line groups."""
    vary = varying_params(c)
    if x is None:
        numeric = [p for p in vary if _is_numeric(c.ok[p])]
        x = numeric[0] if numeric else None
    return x, [p for p in vary if p != x]


def _label(row, params: list[str]) -> str:
    return " ".join(f"{_short(p)}={row[p]}" for p in params) if params else "all"


def _decades(values) -> bool:
    """Positive values whose largest is at least :data:`DECADES` times the smallest."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return bool(v.size and (v > 0).all() and v.max() >= DECADES * v.min())


def _log_if_decades(ax, values, axis: str = "y") -> bool:
    if _decades(values):
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        return True
    return False


def _scale(kpi: str) -> float:
    return 100.0 if unit_of(kpi) == "%" else 1.0


def tradeoff_figure(results: pd.DataFrame, kpi: str, x: str | None, by: list[str],
                    confidence: float = 0.95):
    """``kpi`` (mean and CI band) against parameter ``x``, one line per ``by`` group."""
    plt = _plt()
    df = results[results["kpi"] == kpi].copy()
    f = _scale(kpi)  # shares are drawn in %
    for col in ("mean", "ci_low", "ci_high", "half_width"):
        df[col] = df[col].astype(float) * f
    if _decades(df["mean"]):  # a band reaching 0 cannot be drawn on a log axis: clip it
        df["ci_low"] = df["ci_low"].clip(lower=float(df["mean"].min()) / 10)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if x is None or not _is_numeric(df[x]):  # nothing numeric: one point per setting
        pos = np.arange(len(df))
        ax.errorbar(pos, df["mean"], yerr=df["half_width"].fillna(0).to_numpy(float), fmt="o",
                    capsize=4)  # fmt: skip
        ax.set_xticks(pos, df["setting"] if x is None else df[x].astype(str), rotation=30,
                      ha="right", fontsize=7)  # fmt: skip
        if x is not None:
            ax.set_xlabel(x)
    else:
        df["_x"] = pd.to_numeric(df[x])
        groups = df.groupby(by, sort=False, dropna=False) if by else [((), df)]
        for key, g in groups:
            g = g.sort_values("_x")
            key = key if isinstance(key, tuple) else (key,)
            label = " ".join(f"{_short(p)}={v}" for p, v in zip(by, key, strict=True)) or None
            (line,) = ax.plot(g["_x"], g["mean"], marker="o", label=label)
            ax.fill_between(g["_x"], g["ci_low"].astype(float), g["ci_high"].astype(float),
                            alpha=0.2, color=line.get_color())  # fmt: skip
        ax.set_xlabel(x)
        if by:
            ax.legend(fontsize=8)
    log = _decades(df["mean"])
    if log:
        ax.set_yscale("log")
    n = int(df["n"].min())
    band = (f"mean and {100 * confidence:g} % CI of the mean" if n >= 2
            else "mean (no interval with N = 1)")  # fmt: skip
    ax.set_ylabel(axis_label(kpi) + (" (log scale)" if log else ""))
    ax.set_title(f"{axis_label(kpi)}: {band}, N = {n}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def differences_figure(fam: Family, kpis: list[str], names: dict[str, str]):
    """Paired differences (setting - its baseline) with Holm-adjusted intervals, one panel per
    KPI; a filled marker is a difference the report claims (Holm, family-wise level)."""
    plt = _plt()
    t = fam.tests[(fam.tests["kind"] == "baseline") & fam.tests["kpi"].isin(kpis)]
    kpis = [k for k in kpis if (t["kpi"] == k).any()]
    rows = list(dict.fromkeys(t["b"]))
    ncol = min(3, len(kpis))
    nrow = -(-len(kpis) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol + 1.8, nrow * (1.6 + 0.3 * len(rows))),
                             squeeze=False)  # fmt: skip
    for ax in axes.flat[len(kpis):]:
        ax.set_visible(False)
    conf = 100 * (1 - fam.alpha)
    for i, (ax, k) in enumerate(zip(axes.flat, kpis, strict=False)):
        g = t[t["kpi"] == k].set_index("b").reindex(rows)
        pos = np.arange(len(rows))[::-1]
        f = _scale(k)
        d = g["diff"].to_numpy(float) * f
        lo, hi = g["adj_low"].to_numpy(float) * f, g["adj_high"].to_numpy(float) * f
        err = np.vstack([np.nan_to_num(d - lo), np.nan_to_num(hi - d)])
        sig = g["significant"].fillna(False).to_numpy(bool)
        ax.errorbar(d, pos, xerr=err, fmt="none", ecolor="C0", capsize=3)
        ax.plot(d[sig], pos[sig], "o", color="C3", label="claimed difference")
        ax.plot(d[~sig], pos[~sig], "o", mfc="white", color="C0", label="not distinguishable")
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(axis_label(k), fontsize=9)
        better = direction(k)
        if better:
            ax.set_xlabel(f"difference vs baseline\n(better: {'<- lower' if better == 'lower' else 'higher ->'})",
                          fontsize=8)  # fmt: skip
        else:
            ax.set_xlabel("difference vs baseline", fontsize=8)
        ax.set_yticks(pos, [names.get(r, r) for r in rows] if i % ncol == 0 else [""] * len(rows),
                      fontsize=7)  # fmt: skip
        ax.grid(alpha=0.3, axis="x")
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle("Paired differences against the baseline (same worlds), with Holm-adjusted "
                 f"intervals\n({fam.m} comparisons, family-wise level {100 - conf:g} %; filled"
                 " = claimed: its interval excludes 0)", fontsize=9)  # fmt: skip
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
        index=["run", "setting"], columns="kpi", values=["mean", "half_width"], sort=False,
        dropna=False)  # fmt: skip
    return w.dropna(subset=[("mean", k) for k in kpis])


def scatter_figure(results: pd.DataFrame, kx: str, ky: str, params: list[str], front: bool,
                   confidence: float = 0.95):
    plt = _plt()
    w = _wide(results, [kx, ky])
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    fx, fy = _scale(kx), _scale(ky)  # shares in %
    xs, ys = w[("mean", kx)].to_numpy(float) * fx, w[("mean", ky)].to_numpy(float) * fy
    xe = w[("half_width", kx)].to_numpy(float) * fx
    ye = w[("half_width", ky)].to_numpy(float) * fy
    ax.errorbar(xs, ys, xerr=np.nan_to_num(xe), yerr=np.nan_to_num(ye), fmt="o", capsize=3,
                alpha=0.7, label=f"setting ({100 * confidence:g} % CI of each mean)")  # fmt: skip
    labels = results.drop_duplicates("run").set_index("run")
    for (run, _), x_, y_ in zip(w.index, xs, ys, strict=True):
        ax.annotate(_label(labels.loc[run], params) if params else run, (x_, y_), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")  # fmt: skip
    if front:
        mask = pareto_front(xs, ys)
        order = np.argsort(xs[mask])
        ax.plot(xs[mask][order], ys[mask][order], "r-", marker="*", ms=12, lw=1.5,
                label="Pareto front (no setting is cheaper and better)")  # fmt: skip
    logx = _log_if_decades(ax, xs, "x")
    logy = _log_if_decades(ax, ys, "y")
    ax.set_xlabel(axis_label(kx) + (" (log scale)" if logx else ""))
    ax.set_ylabel(axis_label(ky) + (" (log scale)" if logy else ""))
    dx, dy = direction(kx), direction(ky)
    if dx and dy:  # an arrow towards the better corner
        ax.annotate("better", xy=(0.06 if dx == "lower" else 0.94, 0.94 if dy == "higher" else 0.06),
                    xytext=(0.24 if dx == "lower" else 0.76, 0.76 if dy == "higher" else 0.24),
                    xycoords="axes fraction", textcoords="axes fraction", fontsize=9,
                    color="green", ha="center", va="center",
                    arrowprops={"arrowstyle": "->", "color": "green", "lw": 2})  # fmt: skip
    title = (f"{axis_label(kx)} against {axis_label(ky)}" if not front else
             f"Cost against satisfaction: the Pareto front\n(better: {'lower' if dx == 'lower' else 'higher'}"
             f" {KPI_LABELS.get(kx, kx)}, {'higher' if dy == 'higher' else 'lower'} "
             f"{KPI_LABELS.get(ky, ky)})")  # fmt: skip
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- checks
def _kpi_error(flag: str, name: str, kpis: list[str]) -> ReportError:
    near = difflib.get_close_matches(name, kpis, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return ReportError(f"{flag} {name!r}: not a KPI of these runs{hint}; allowed: "
                       f"{', '.join(sorted(kpis))}")  # fmt: skip


def _problems(c: Collected) -> list[str]:
    out = []
    for _, r in c.failed.iterrows():
        why = (str(r["error"]).strip().splitlines() or ["no reason recorded"])[0]
        out.append(f"`{r['run']}` ({r['setting']}): **{r['status']}** -- {why}")
    return out


def check_inputs(c: Collected, *, x: str | None, cost_kpi: str, satisfaction_kpi: str,
                 curve_kpis, named: set[str], baseline: str | None) -> None:
    """Everything that can be wrong with the arguments or the runs, before any file is
    written.  ``named``: the options the user gave explicitly (a KPI they name must exist;
    a default KPI that is absent only skips its plot)."""
    if c.runs.empty:
        raise ReportError(f"{c.root}: no run folders (a folder with a status.json) below it; "
                          "give a sweep folder (hydra.sweep.dir, or sweep(out_dir=...)) or a "
                          "run folder")  # fmt: skip
    if c.ok.empty:
        listing = "\n  ".join(p.replace("`", "").replace("**", "") for p in _problems(c))
        raise ReportError(f"{c.root}: no run finished ({len(c.runs)} run folders):\n  {listing}",
                          code=1)  # fmt: skip
    kpis = c.kpis
    if "cost" in named and cost_kpi not in kpis:
        raise _kpi_error("--cost", cost_kpi, kpis)
    if "satisfaction" in named and satisfaction_kpi not in kpis:
        raise _kpi_error("--satisfaction", satisfaction_kpi, kpis)
    if "curves" in named:
        for k in curve_kpis:
            if k not in kpis:
                raise _kpi_error("--curves", k, kpis)
    if x is not None:
        vary = varying_params(c)
        if x not in vary:
            fixed = [p for p in c.params if p not in vary]
            why = ("it has the same value in every finished run" if x in fixed
                   else "it was not swept")  # fmt: skip
            raise ReportError(f"--x {x!r}: {why}; parameters that vary: "
                              f"{', '.join(vary) or 'none (a single setting)'}")  # fmt: skip
    try:
        baseline_runs(c, baseline)
    except ValueError as err:
        raise ReportError(f"--baseline: {err}") from None


# --------------------------------------------------------------------------- the report
def build_report(sweep_dir: str | Path, baseline: str | None = None, x: str | None = None,
                 curve_kpis=CURVE_KPIS, cost_kpi: str = COST_KPI,
                 satisfaction_kpi: str = SATISFACTION_KPI, confidence: float = 0.95,
                 named: set[str] | None = None) -> Report:
    """Check, analyse and draw everything in memory; nothing is written (see :func:`write`)."""
    if not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise ReportError(f"--confidence {confidence!r}: must be between 0 and 1 (exclusive), "
                          "e.g. 0.95 for 95 % intervals and a 5 % family-wise level")  # fmt: skip
    root = Path(sweep_dir)
    if not root.is_dir():
        raise ReportError(f"{root}: not a folder")
    c = collect(root)
    curve_kpis = tuple(curve_kpis)
    check_inputs(c, x=x, cost_kpi=cost_kpi, satisfaction_kpi=satisfaction_kpi,
                 curve_kpis=curve_kpis, named=named or set(), baseline=baseline)  # fmt: skip
    # cost: lowest is best; satisfaction: highest is best (whatever KPIs the user named)
    ranking = {k: v for k, v in ((cost_kpi, True), (satisfaction_kpi, False)) if k in c.kpis}
    res, fam = analyse(c, baseline, confidence, ranking)
    vary = varying_params(c)
    if vary:  # name settings by what varies (the constant overrides are in every label)
        short = {r["run"]: _label(r, vary) for _, r in c.ok.iterrows()}
        if len(set(short.values())) == len(short):
            base_of = dict(zip(res["setting"], res["run"], strict=False))
            c.runs["setting"] = c.runs["run"].map(lambda r: short.get(r, r)).where(
                c.runs["run"].isin(list(short)), c.runs["setting"])
            res["setting"] = res["run"].map(short)
            res["baseline"] = res["baseline"].map(lambda b: short.get(base_of.get(b), b))
    rep = Report(root, c, res, fam)
    present = set(res["kpi"])
    xp, by = choose_axes(c, x)
    plt = _plt()

    def draw(fig, name: str) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, dpi=100, format="png")
        plt.close(fig)
        rep.images[name] = buf.getvalue()

    names = dict(zip(res["run"], res["setting"], strict=False))
    n_min = int(c.ok["n"].min()) if len(c.ok) else 0
    if n_min < 2:
        rep.notes.append("**no interval with N = 1**: runs with one replication give means only, "
                         "no intervals and no comparisons; run with `replications=10` (or "
                         "`experiment.target_kpi=...`, which starts at "
                         "`experiment.min_replications`)")  # fmt: skip
    diff_kpis = [k for k in HEAD_KPIS if k in present][:5]
    if len(c.ok) > 1 and fam.m:
        draw(differences_figure(fam, diff_kpis, names), "differences.png")
    for k in curve_kpis:
        if k not in present:
            rep.notes.append(f"skipped `tradeoff_{k}.png`: KPI `{k}` is not in the results")
            continue
        draw(tradeoff_figure(res, k, xp, by, confidence), f"tradeoff_{k}.png")
    if {cost_kpi, satisfaction_kpi} <= present:
        draw(scatter_figure(res, cost_kpi, satisfaction_kpi, vary, True, confidence),
             "cost_vs_satisfaction.png")  # fmt: skip
    else:
        missing = sorted({cost_kpi, satisfaction_kpi} - present)
        rep.notes.append(f"skipped `cost_vs_satisfaction.png`: KPI {missing} not in the results")
    if {"alerts_per_day", "case_wait_hours"} <= present:
        draw(scatter_figure(res, "alerts_per_day", "case_wait_hours", vary, False, confidence),
             "case_wait_vs_alerts.png")  # fmt: skip
    else:
        missing = sorted({"alerts_per_day", "case_wait_hours"} - present)
        rep.notes.append(f"skipped `case_wait_vs_alerts.png`: KPI {missing} not in the results")
    for p in inert_params(c):
        rep.notes.append(f"**`{p}` changed nothing**: runs that differ only in it have identical "
                         "KPIs in every replication -- is the setting it belongs to enabled? "
                         "(e.g. `detection.no_movement.hours` needs a preset with the rule on, "
                         "such as `detection=no_movement_24h`)")  # fmt: skip
    doc = _document(rep, baseline, xp, by, cost_kpi, satisfaction_kpi, confidence)
    rep.markdown, rep.html = doc.markdown(), doc.html(rep.images)
    return rep


def write(rep: Report) -> list[Path]:
    """Write the tables, the images, report.md and report.html (each atomically)."""
    root, res = rep.root, rep.results
    write_atomic(root / "results.parquet", lambda p: res.to_parquet(p, index=False))
    write_atomic(root / "results.csv", lambda p: res.to_csv(p, index=False))
    rep.files += [root / "results.parquet", root / "results.csv"]
    for name, data in rep.images.items():
        write_atomic(root / name, lambda p, data=data: p.write_bytes(data))
        rep.files.append(root / name)
    write_atomic(root / "report.md", lambda p: p.write_text(rep.markdown))
    write_atomic(root / "report.html", lambda p: p.write_text(rep.html))
    rep.files += [root / "report.md", root / "report.html"]
    return rep.files


def make_report(sweep_dir: str | Path, baseline: str | None = None, x: str | None = None,
                curve_kpis=CURVE_KPIS, cost_kpi: str = COST_KPI,
                satisfaction_kpi: str = SATISFACTION_KPI, confidence: float = 0.95,
                named: set[str] | None = None) -> Report:
    """:func:`build_report` then :func:`write`: nothing is written unless all checks pass."""
    rep = build_report(sweep_dir, baseline, x, curve_kpis, cost_kpi, satisfaction_kpi,
                       confidence, named)  # fmt: skip
    write(rep)
    return rep


def _best_block(doc: Doc, rep: Report, kpi: str, lower: bool, title: str, conf: float) -> None:
    res, fam = rep.results, rep.family
    df = res[res["kpi"] == kpi]
    if df.empty or not df["mean"].notna().any():
        doc.h2(f"Best by {title}")
        doc.p(f"_`{kpi}` is not among the KPIs of these runs: no ranking by {title}._")
        return
    order = df.sort_values("mean", ascending=lower)
    best = order.iloc[0]
    doc.h2(f"Best by {title} (`{kpi}`, {'lower' if lower else 'higher'} is better)")
    names = dict(zip(res["run"], res["setting"], strict=False))
    n_min = int(df["n"].min())
    if len(df) == 1:
        doc.p(f"One setting: **{best['setting']}**, {fmt_kpi(kpi, best['mean'])} "
              f"{fmt_interval(kpi, best['ci_low'], best['ci_high'])}, N = {best['n']}.")
        return
    if n_min < 2:
        doc.p(f"Ranked by the mean only (**no interval with N = 1**): **{best['setting']}** "
              f"{fmt_kpi(kpi, best['mean'])}. Nothing can be said about how surely.")
        return
    keep = fam.best.get(kpi, []) if fam else []
    rows = []
    for _, r in order.iterrows():
        inset = r["run"] in keep
        rows.append([("**" + names[r["run"]] + "**") if inset else names[r["run"]],
                     fmt_kpi(kpi, r["mean"]), fmt_interval(kpi, r["ci_low"], r["ci_high"]),
                     str(r["n"]), "yes" if inset else "no"])  # fmt: skip
    out = len(df) - len(keep)
    doc.p(f"**{len(keep)} of {len(df)} settings** cannot be told apart from the best "
          f"(the _best set_); {out} {'is' if out == 1 else 'are'} significantly worse than some "
          f"other setting. Each pair of settings is compared on the same worlds; the best "
          f"setting is left out of the set with probability at most {100 * (1 - conf):g} %.")
    doc.table(["setting", "mean", f"{100 * conf:g} % CI of the mean", "N", "in the best set"],
              rows)


def _document(rep: Report, baseline, xp, by, cost_kpi, sat_kpi, conf) -> Doc:
    c, res, fam = rep.collected, rep.results, rep.family
    n_ok, n_all = len(c.ok), len(c.runs)
    ns = sorted({int(n) for n in c.ok["n"]}) if len(c.ok) else []
    doc = Doc(f"exsim sweep report: {rep.root.name or rep.root}")
    alpha = f"{100 * (1 - conf):g}"
    doc.p(f"`{rep.root}`: {n_ok} of {n_all} runs finished; replications per run: "
          f"{', '.join(map(str, ns)) or '-'}; intervals are {100 * conf:g} % t-intervals over "
          "replications (independent worlds).")
    if fam is not None and fam.m:
        doc.p(f"**How sure**: every difference this report claims comes from one family of "
              f"{fam.m} paired comparisons (each setting against its baseline on every KPI, "
              f"every pair of settings on `{cost_kpi}` and `{sat_kpi}`), Holm-adjusted: the "
              f"chance that it claims _any_ difference that is not real is at most {alpha} % "
              f"(family-wise level). {int(fam.tests['significant'].sum())} comparisons are "
              "claimed.")  # fmt: skip
    problems = _problems(c)
    if problems:
        doc.h2("Failed runs and runs not finished (not in this report)")
        doc.ul(problems)
    _best_block(doc, rep, cost_kpi, True, "cost", conf)
    _best_block(doc, rep, sat_kpi, False, "satisfaction", conf)
    if fam is not None and fam.best.get(cost_kpi) and fam.best.get(sat_kpi):
        both = [s for s in fam.best[cost_kpi] if s in fam.best[sat_kpi]]
        names = dict(zip(res["run"], res["setting"], strict=False))
        if len(both) == len(c.ok) and int(c.ok["n"].min()) >= 2:
            doc.p("Every setting is in both best sets: these runs cannot tell them apart on cost "
                  "or satisfaction. More replications (N) narrow the intervals.")
        elif both and int(c.ok["n"].min()) >= 2:
            doc.p("In both best sets (as cheap and as well rated as the best, within the noise): "
                  + ", ".join(f"**{names[s]}**" for s in both) + ".")
    heads = [k for k in HEAD_KPIS if k in set(res["kpi"])] or list(dict.fromkeys(res["kpi"]))[:6]
    bl = res["baseline"].replace("", np.nan).dropna().unique()
    diff_rows = res[res["diff_n"].notna() & res["kpi"].isin(heads)]
    if len(diff_rows):
        doc.h2("Differences against the baseline")
        how = f"--baseline {baseline!r}" if baseline else "default: the first finished run"
        doc.p(f"Baseline {', '.join(f'**{b}**' for b in bl)} ({how}). Each cell: the paired "
              f"difference (setting - baseline, on the same worlds) and its interval at the "
              f"level Holm's procedure tested it; **bold** = a difference the report claims "
              f"(its interval excludes 0; family-wise level {alpha} %). All KPIs: the `diff*`, "
              "`p_holm` and `adj_*` columns of `results.csv`.")  # fmt: skip
        rows = []
        for _, g in diff_rows.groupby("run", sort=False):
            g = g.set_index("kpi")
            cells = []
            for k in heads:
                if k not in g.index or pd.isna(g.loc[k, "diff"]):
                    cells.append("-")
                    continue
                s = g.loc[k]
                cell = (f"{fmt_kpi(k, s['diff'], True)} "
                        f"{fmt_interval(k, s['adj_low'], s['adj_high'], True)}")  # fmt: skip
                cells.append(f"**{cell}**" if bool(s["significant"]) else cell)
            rows.append([g["setting"].iloc[0], *cells])
        doc.table(["setting", *[axis_label(k) for k in heads]], rows)
    if len(res):
        doc.h2("Settings")
        doc.p(f"Mean ± half-width of the {100 * conf:g} % interval of the mean; units in the "
              "column names.")
        rows = []
        for _, g in res.groupby("run", sort=False):
            g = g.set_index("kpi")
            cells = []
            for k in heads:
                if k not in g.index:
                    cells.append("-")
                    continue
                m, h = g.loc[k, "mean"], g.loc[k, "half_width"]
                hw = fmt_kpi(k, h).lstrip("$") if unit_of(k) != "USD" else fmt_kpi(k, h)
                cells.append(fmt_kpi(k, m) + (f" ± {hw}" if pd.notna(h) else ""))
            rows.append([g["setting"].iloc[0], *cells])
        doc.table(["setting", *[axis_label(k) for k in heads]], rows)
    doc.h2("Plots")
    caps = {"differences.png": "Paired differences against the baseline (Holm-adjusted "
                               "intervals; filled red = claimed).",
            "cost_vs_satisfaction.png": "Cost against expected stars: settings on the Pareto "
                                        "front are not beaten on both; the arrow points to "
                                        "better.",
            "case_wait_vs_alerts.png": "The exception team's case wait against the alerts it "
                                       "receives."}  # fmt: skip
    per = (f"one line per {', '.join(f'`{b}`' for b in by)}" if by else "one line") if xp else ""
    for name in rep.images:
        cap = caps.get(name) or (f"{name[9:-4]} against `{xp}` ({per}); bands are intervals of "
                                 "each mean -- they overlap even where the paired differences "
                                 "are clear." if xp else f"{name[9:-4]} per setting.")  # fmt: skip
        doc.img(name, cap)
    if not rep.images:
        doc.p("none")
    if rep.notes:
        doc.h2("Notes")
        doc.ul(rep.notes)
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="exsim-report", description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", help="a multirun folder (hydra.sweep.dir), a sweep() out_dir "
                    "or a single run folder")  # fmt: skip
    ap.add_argument("--baseline", help="setting to compare against, e.g. 'detection=reactive' "
                    "(key=value pairs; default: the first run)")  # fmt: skip
    ap.add_argument("--x", help="parameter on the x axis (default: first numeric swept one)")
    ap.add_argument("--curves", help=f"comma-separated KPIs to plot (default: {','.join(CURVE_KPIS)})")
    ap.add_argument("--cost", help=f"KPI ranked lowest-is-best (default: {COST_KPI})")
    ap.add_argument("--satisfaction", help=f"KPI ranked highest-is-best (default: {SATISFACTION_KPI})")
    ap.add_argument("--confidence", type=float, default=0.95,
                    help="interval level; 1 - confidence is the family-wise error level")
    a = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    named = {k for k in ("cost", "satisfaction", "curves") if getattr(a, k)}
    curves = tuple(k.strip() for k in a.curves.split(",") if k.strip()) if a.curves else CURVE_KPIS
    try:
        rep = make_report(a.sweep_dir, a.baseline, a.x, curves, a.cost or COST_KPI,
                          a.satisfaction or SATISFACTION_KPI, a.confidence, named)  # fmt: skip
    except ReportError as err:
        print(f"exsim-report: {err}", file=sys.stderr)
        return err.code
    except OSError as err:  # e.g. a read-only sweep folder: nothing half-written stays
        print(f"exsim-report: cannot write into {a.sweep_dir}: {err}", file=sys.stderr)
        return 1
    print(rep.markdown)
    print("wrote: " + ", ".join(p.name for p in rep.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
