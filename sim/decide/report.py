"""``report.html`` (one self-contained file, figures embedded) and ``report.md`` of a
choice: the recommendation first, then the evidence and the assumptions behind it."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.decide.cleanup import CleanupResult
from sim.decide.config import DecisionConfig
from sim.decide.evaluate import Problem

# Prices and behaviours that move the answer most (DESIGN §9, §11); shown with their values.
ASSUMPTIONS = {
    "customer_lifetime_value": "future margin of a retained customer ($)",
    "repurchase_base": "repurchase probability without a failure",
    "repurchase_drop_max": "relative repurchase drop at the worst failure",
    "contact_cost": "cost of a customer contact ($)",
    "dispute_fee": "fee of a card dispute ($)",
    "analyst_hourly": "loaded cost of an analyst hour ($)",
    "goods_cost_share": "cost of goods as a share of order value",
    "ground_shipping": "ground shipping of a reship ($)",
    "overnight_multiplier": "overnight shipping, multiple of ground",
    "wismo_cut_by_notice": "share of 'where is my order?' contacts a notice prevents",
    "recovery_proactive": "share of the stars penalty a proactive fix restores",
    "recovery_reactive": "share of the stars penalty a reactive fix restores",
}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _fmt(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.{digits}g}" if abs(x) < 1e5 else f"{x:,.0f}"
    return str(x)


def _short(label: str, n: int = 60) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def diff_figure(res: CleanupResult, summary: list[dict], d: DecisionConfig,
                confidence: float):
    """Paired differences (candidate - status quo) of the objective and every constrained
    KPI, with Bonferroni intervals over the candidates (the family Holm controls)."""
    from scipy import stats

    kpis = [d.objective.kpi] + [c.kpi for c in d.constraints.values() if c.kpi != d.objective.kpi]
    kpis = list(dict.fromkeys(kpis))
    cands = [e for e in summary if e["system"] > 0]
    m = max(1, len(cands))
    ncol = min(2, len(kpis))
    nrow = -(-len(kpis) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, nrow * (0.5 * len(cands) + 2.4)),
                             squeeze=False)  # fmt: skip
    for ax in axes.ravel()[len(kpis):]:
        ax.set_visible(False)
    rows = res.rows
    sq = rows[rows["system"] == 0].set_index("replication")
    for ax, kpi in zip(axes.ravel(), kpis, strict=False):
        for y, e in enumerate(cands):
            x = rows[rows["system"] == e["system"]].set_index("replication")
            common = x.index.intersection(sq.index)
            dd = (x.loc[common, kpi] - sq.loc[common, kpi]).dropna()
            if len(dd) < 2:
                continue
            mean = dd.mean()
            if dd.std() > 0:
                ci = stats.ttest_1samp(dd, 0).confidence_interval(1 - (1 - confidence) / m)
                lo, hi = ci.low, ci.high
            else:
                lo = hi = mean
            color = "tab:green" if e["system"] == res.selected else "tab:blue"
            ax.errorbar(mean, y, xerr=[[mean - lo], [hi - mean]], fmt="o", color=color,
                        capsize=4)  # fmt: skip
        ax.axvline(0, color="grey", lw=1)
        better = ("lower" if (kpi == d.objective.kpi and d.objective.direction == "minimize")
                  else "higher" if kpi == d.objective.kpi else None)  # fmt: skip
        for c in d.constraints.values():
            if c.kpi == kpi and better is None:
                better = "lower" if c.sense == "at_most" else "higher"
        ax.set_title(f"{kpi}\n(candidate − status quo; {better or '?'} is better)", fontsize=9)
        ax.set_xlabel(f"paired difference, {confidence:.0%} family-wise interval")
        ax.set_yticks(range(len(cands)), [_short(e["label"], 38) for e in cands], fontsize=7)
        ax.set_ylim(-0.5, len(cands) - 0.5)
    fig.suptitle("Paired differences against the status quo on the clean-up worlds "
                 "(green: the recommendation)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def cost_figure(res: CleanupResult, summary: list[dict]):
    """Cost per order by component: the recommendation against the status quo."""
    rows = res.rows
    comps = [c for c in rows.columns if c.startswith("cost_") and c.endswith("_per_order")
             and c != "cost_per_order"]  # fmt: skip
    sel = res.selected if res.selected is not None else 0
    shown = [0] if sel == 0 else [0, sel]
    common = set(rows.loc[rows["system"] == 0, "replication"])
    for i in shown:
        common &= set(rows.loc[rows["system"] == i, "replication"])
    means = {i: rows[(rows["system"] == i) & rows["replication"].isin(common)][comps].mean()
             for i in shown}  # fmt: skip
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.9 * len(shown)))
    names = ["status quo" if i == 0 else "recommended" for i in shown]
    cmap = plt.get_cmap("tab20")
    for y, i in enumerate(shown):
        left_pos, left_neg = 0.0, 0.0
        for j, c in enumerate(comps):
            v = float(means[i][c])
            if v >= 0:
                ax.barh(y, v, left=left_pos, color=cmap(j % 20),
                        label=c.removeprefix("cost_").removesuffix("_per_order") if y == 0 else None)
                left_pos += v
            else:
                ax.barh(y, v, left=left_neg, color=cmap(j % 20), hatch="//",
                        label=c.removeprefix("cost_").removesuffix("_per_order") if y == 0 else None)
                left_neg += v
        ax.text(left_pos, y, f"  total {left_pos + left_neg:.3g} $/order", va="center", fontsize=8)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(range(len(shown)), names)
    ax.set_xlabel("$ per order (mean over the shared clean-up worlds; hatched: recoveries)")
    ax.set_title("Cost breakdown: where the money goes")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    return fig


def pareto_figure(trials: pd.DataFrame, rec: dict, sq_search: dict | None):
    """Cost against stars over every search trial, the Pareto front, the recommendation."""
    t = trials[(trials["state"] == "COMPLETE")].dropna(subset=["cost_per_order", "stars_mean"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if not len(t):
        ax.text(0.5, 0.5, "no completed trial", ha="center")
        return fig
    feas = t["feasible"].astype(bool)
    ax.scatter(t.loc[~feas, "cost_per_order"], t.loc[~feas, "stars_mean"], s=14, c="lightgrey",
               label="trial breaking a constraint (search worlds)")  # fmt: skip
    ax.scatter(t.loc[feas, "cost_per_order"], t.loc[feas, "stars_mean"], s=16, c="tab:blue",
               label="feasible trial")  # fmt: skip
    pts = t.sort_values(["cost_per_order", "stars_mean"], ascending=[True, False])
    front, best = [], -np.inf
    for _, p in pts.iterrows():
        if p["stars_mean"] > best:
            front.append(p)
            best = p["stars_mean"]
    f = pd.DataFrame(front)
    ax.plot(f["cost_per_order"], f["stars_mean"], "-", color="tab:orange", lw=1.5, drawstyle="steps-post",
            label="Pareto front (cheaper and happier)")  # fmt: skip
    chosen = t[t["overrides"] == " ".join(rec["policy_overrides"])]
    if len(chosen):
        ax.scatter(chosen["cost_per_order"], chosen["stars_mean"], s=120, marker="*",
                   c="tab:green", zorder=5, label="recommended")  # fmt: skip
    if sq_search:
        ax.scatter([sq_search["cost_per_order"]], [sq_search["stars_mean"]], s=80, marker="s",
                   c="black", zorder=5, label="status quo")  # fmt: skip
    ax.set_xlabel("cost per order ($, mean over the search worlds)")
    ax.set_ylabel("expected stars (mean)")
    ax.set_title("Cost against satisfaction over the search")
    ax.annotate("better", xy=(0.08, 0.92), xytext=(0.25, 0.75), xycoords="axes fraction",
                arrowprops={"arrowstyle": "->", "color": "tab:green"}, color="tab:green")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def staffing_figure(problem: Problem, rec: dict, d: DecisionConfig, progress, cache=None):
    """The staffing curve of the chosen policy on the search worlds (paired over sizes)."""
    from sim.experiment.staffing import plot_staffing_curve, staffing_curve

    cfg = problem.status_quo() if rec["is_status_quo"] else problem.policy(rec["policy_overrides"])
    lo, hi = d.space.analysts or [1, 12]
    sizes = {int(a) for a in np.linspace(lo, hi, num=min(6, hi - lo + 1)).round()}
    chosen = cfg.recovery.team.analysts
    sizes = sorted(sizes | ({int(chosen)} if isinstance(chosen, int) else set()))  # its own size
    df = staffing_curve(cfg, sizes, max(2, d.budget.worlds), cache=cache,
                        progress=False if progress is False else None)  # fmt: skip
    return df, plot_staffing_curve(df, title="Staffing curve of the recommended policy "
                                             f"(n = {max(2, d.budget.worlds)} paired worlds)")


def _md_table(df: pd.DataFrame) -> str:
    """A pipe table (pandas' to_markdown needs tabulate, not a dependency)."""
    cells = [[_fmt(v) if not isinstance(v, str) else v for v in row] for row in df.itertuples(index=False)]
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    return "\n".join([head, rule] + ["| " + " | ".join(c.replace("|", "/") for c in row) + " |"
                                     for row in cells])  # fmt: skip


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, border=0, classes="t", na_rep="n/a",
                      float_format=lambda x: _fmt(float(x)))  # fmt: skip


def _constraints_df(cons: dict) -> pd.DataFrame:
    rows = []
    for name, c in cons.items():
        req = f"{'≤' if c.get('sense') == 'at_most' else '≥'} {_fmt(c.get('bound'))}"
        if c.get("relative"):
            req += " vs status quo (paired)"
        side = "upper" if c.get("sense") == "at_most" else "lower"
        conf = c.get("confidence") or 0
        rows.append({"constraint": name, "KPI": c["kpi"], "required": req,
                     "estimate": c.get("estimate"),
                     "one-sided bound": f"{_fmt(c.get('bound_at_confidence'))} ({side}, {conf:.0%})",
                     "holds": _fmt(c.get("holds"))})  # fmt: skip
    return pd.DataFrame(rows)


def _candidates_df(rec: dict) -> pd.DataFrame:
    rows = []
    for e in rec["candidates"]:
        rows.append({"system": _short(e["label"], 90), "N": e["n"], "mean": e["mean"],
                     "CI low": e["ci_low"], "CI high": e["ci_high"],
                     "diff vs status quo": e.get("diff"), "adj. low": e.get("diff_low"),
                     "adj. high": e.get("diff_high"), "Holm p": e.get("p_holm"),
                     "feasible": _fmt(e["feasible"]),
                     "within δ of best": _fmt(e["label"] in rec["subset"])})  # fmt: skip
    return pd.DataFrame(rows)


def _assumptions_df(cfg, d: DecisionConfig) -> pd.DataFrame:
    o = cfg.outcomes
    rows = [{"assumption": k, "value": getattr(o, k), "meaning": v}
            for k, v in ASSUMPTIONS.items() if hasattr(o, k)]  # fmt: skip
    s = cfg.scenario
    rows += [
        {"assumption": "scenario", "value": f"{s.name}: {s.days:g} days, "
         f"{s.orders.per_day:,.0f} orders/day", "meaning": "the world the choice is made for"},
        {"assumption": "carrier.loss_prob_per_leg", "value": s.carrier.loss_prob_per_leg,
         "meaning": "loss per transit leg (3 legs)"},
        {"assumption": "warmup_days", "value": cfg.warmup_days,
         "meaning": "orders of the first days left out of the KPIs"},
        {"assumption": "delta (indifference zone)", "value": d.delta,
         "meaning": f"differences below this ({d.objective.kpi}) are not worth telling apart"},
    ]  # fmt: skip
    return pd.DataFrame(rows)


def headline(rec: dict) -> str:
    o, sq, dif = rec["objective"], rec["status_quo"], rec["difference"]
    k = o["kpi"]
    text = (f"Recommended: {rec['policy']}. {k} {_fmt(o['mean'])} "
            f"[{_fmt(o['ci_low'])}, {_fmt(o['ci_high'])}] against the status quo's "
            f"{_fmt(sq['mean'])} [{_fmt(sq['ci_low'])}, {_fmt(sq['ci_high'])}] "
            f"({o['confidence']:.0%} intervals, {o['n']} and {sq['n']} fresh worlds).")  # fmt: skip
    if dif:
        text += (f" Paired difference {_fmt(dif['mean'])} [{_fmt(dif['ci_low'])}, "
                 f"{_fmt(dif['ci_high'])}] (Holm-adjusted p {_fmt(dif['p_holm'], 2)}).")  # fmt: skip
    elif rec["is_status_quo"]:
        text += " " + rec["reason"] + "."
    held = [n for n, c in rec["constraints"].items() if c.get("holds")]
    failed = [n for n, c in rec["constraints"].items() if not c.get("holds")]
    if rec["constraints"]:
        text += f" Constraints holding: {', '.join(held) or 'none'}"
        text += f"; not shown to hold: {', '.join(failed)}." if failed else "."
    pcs = rec["pcs"]
    text += (f" Probability of correct selection ≥ {pcs:g} within δ = {rec['delta']:g}."
             if pcs else f" {rec['pcs_note']}.")  # fmt: skip
    return text


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;margin-top:2em}
.rec{background:#eef7ee;border-left:5px solid #3a3;padding:.8em 1em;font-size:1.05em}
table.t{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.t td,table.t th{border:1px solid #ccc;padding:3px 6px;text-align:right}
table.t td:first-child,table.t th:first-child{text-align:left}
img{max-width:100%}code{background:#f4f4f4;padding:1px 4px}"""


def write_report(out: Path, rec: dict, trials: pd.DataFrame, res: CleanupResult,
                 problem: Problem, d: DecisionConfig, progress=None,
                 sq_search: dict | None = None, cache=None) -> None:
    """Write ``report.html`` (self-contained) and ``report.md`` (+ PNGs) into ``out``."""
    cfg = problem.cfg
    conf = rec["objective"]["confidence"]
    figs: list[tuple[str, str, bytes]] = []
    figs.append(("differences", "Paired differences against the status quo",
                 _png(diff_figure(res, rec["candidates"], d, conf))))  # fmt: skip
    staff_df, staff_fig = staffing_figure(problem, rec, d, progress, cache)
    figs.append(("staffing", "Staffing curve of the recommended policy", _png(staff_fig)))
    figs.append(("costs", "Cost breakdown", _png(cost_figure(res, rec["candidates"]))))
    figs.append(("pareto", "Cost against stars (search)",
                 _png(pareto_figure(trials, rec, sq_search))))  # fmt: skip
    for name, _, png in figs:
        (out / f"{name}.png").write_bytes(png)
    cons, cands, assum = (_constraints_df(rec["constraints"]), _candidates_df(rec),
                          _assumptions_df(cfg, d))  # fmt: skip
    run_cmd = "exsim " + " ".join(rec["run_overrides"])
    head = headline(rec)
    facts = (f"{rec['trials']} search trials on {rec['worlds_search']} common worlds; "
             f"clean-up on {rec['worlds_cleanup']} fresh worlds (replications "
             f"{rec['cleanup_replications'][0]}–{rec['cleanup_replications'][1]}); "
             f"δ = {rec['delta']:g}; wall time {rec['timing_s'].get('total', 0):.0f} s.")  # fmt: skip
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>exsim: choose a policy"
             f"</title><style>{CSS}</style></head><body>",
             "<h1>Which policy should we run?</h1>",
             f"<p class='rec'>{html.escape(head)}</p>",
             f"<p>Reproduce it: <code>{html.escape(run_cmd)}</code></p>",
             f"<p>{html.escape(facts)}</p>",
             "<h2>Constraints of the recommendation</h2>", _table_html(cons),
             "<h2>Clean-up: candidates and the status quo on fresh worlds</h2>",
             f"<p>Objective {html.escape(rec['objective']['kpi'])} "
             f"({rec['objective']['direction']}); differences are paired (same worlds) with "
             "intervals and p-values adjusted for comparing every candidate with the status "
             "quo (Holm; Bonferroni intervals).</p>", _table_html(cands)]  # fmt: skip
    for name, title, png in figs:
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{name}' "
                     f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")  # fmt: skip
        if name == "staffing":
            cols = ["analysts", "n", "cost_per_order", "cost_per_order_low", "cost_per_order_high",
                    "case_wait_hours", "cases_backlogged_share", "team_utilisation"]  # fmt: skip
            parts.append(_table_html(staff_df[[c for c in cols if c in staff_df.columns]]))
    parts += ["<h2>Assumptions that drive the answer</h2>", _table_html(assum),
              "<p>Change one (e.g. <code>outcomes.customer_lifetime_value=60</code>) and run "
              "exsim-optimize again to see whether the recommendation moves.</p>",
              f"<p>Study: <code>optuna-dashboard sqlite:///{html.escape(str((out / 'study.db').resolve()))}"
              "</code> · trials.parquet · cleanup.parquet · recommendation.json</p>",
              "</body></html>"]  # fmt: skip
    (out / "report.html").write_text("\n".join(parts), encoding="utf-8")
    md = ["# Which policy should we run?", "", f"**{head}**", "",
          f"Reproduce it: `{run_cmd}`", "", facts, "",
          "## Constraints of the recommendation", "", _md_table(cons), "",
          "## Clean-up: candidates and the status quo on fresh worlds", "",
          _md_table(cands), ""]  # fmt: skip
    for name, title, _ in figs:
        md += [f"## {title}", "", f"![{title}]({name}.png)", ""]
    md += ["## Assumptions that drive the answer", "", _md_table(assum), ""]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
