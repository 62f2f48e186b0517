"""The staffing curve: cost, case wait, backlog and utilisation over the team's size.

The team is paid for its shifts (labour = paid hours x wage), so its size is part of every
policy: a short detection window floods a small team (waits, backlog, late remedies) and a
large team idles.  For one detection/recovery setting, :func:`staffing_curve` evaluates
``recovery.team.analysts`` = each value on the *same* worlds (paired), and returns one row
per size with the mean and t-interval of each KPI, plus the paired cost difference to the
cheapest size.

    >>> from sim.experiment.staffing import staffing_curve, plot_staffing_curve
    >>> df = staffing_curve(sim.load_config("detection=no_movement_24h"), range(2, 13), n=5)
    >>> plot_staffing_curve(df).savefig("staffing.png")

CLI recipe (same Hydra overrides as ``exsim``; bad overrides exit 2 before simulating)::

    python -m sim.experiment.staffing detection=no_movement_24h --analysts 2-12 -n 5 \\
        --out outputs/staffing_24h
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.config import ConfigError, ExsimConfig, validate
from sim.experiment.cache import WorldCache
from sim.experiment.stats import paired_diff, t_interval

STAFFING_KPIS = ("cost_per_order", "case_wait_hours", "cases_backlogged_share",
                 "team_utilisation", "cost_labour_per_order", "stars_mean",
                 "disputes_per_1000")  # fmt: skip


def with_analysts(cfg: ExsimConfig, analysts: int) -> ExsimConfig:
    """``cfg`` with ``analysts`` on every team shift, validated (0 or a bad type refused)."""
    out = copy.deepcopy(cfg)
    out.recovery.team.analysts = analysts
    validate(out)
    return out


def staffing_curve(cfg: ExsimConfig, analysts: Iterable[int], n: int, *,
                   cache: WorldCache | None = None,
                   progress: bool | None = None) -> pd.DataFrame:
    """One row per analysts-per-shift value: mean and interval of :data:`STAFFING_KPIS`
    over ``n`` worlds (replications 0..n-1 of ``cfg``), every size on the same worlds.

    Columns: ``analysts``, ``n``, ``<kpi>``, ``<kpi>_low``, ``<kpi>_high`` (t-interval at
    ``cfg.experiment.confidence``), ``cost_vs_cheapest`` with ``_low``/``_high`` (paired
    difference in cost per order to the cheapest size) and ``cheapest``.  The
    per-replication KPIs are in ``df.attrs["replications"]``.
    """
    sizes = [int(a) for a in analysts]
    if not sizes:
        raise ValueError("analysts: give at least one team size")
    if n < 2:
        raise ValueError(f"n = {n}: an interval needs at least 2 replications")
    cfgs = [with_analysts(cfg, a) for a in sizes]  # all refused before any simulation
    cache = cache if cache is not None else WorldCache(None, memory=0)
    from sim.pipeline import evaluate_many  # the world and policies load when a run starts

    rows = []
    bar = tqdm(total=n * len(sizes), desc="staffing", unit="run", file=sys.stderr,
               disable=False if progress else None if progress is None else True)  # fmt: skip
    with bar:
        for r in range(n):
            world = cache.get(cfg, r)
            for a, res in zip(sizes, evaluate_many(world, cfgs), strict=True):
                rows.append({"analysts": a, "replication": r,
                             **{k: float(res.kpis[k]) for k in STAFFING_KPIS}})  # fmt: skip
                bar.update(1)
    reps = pd.DataFrame(rows)
    conf = cfg.experiment.confidence
    out = []
    for a, g in reps.groupby("analysts", sort=False):
        row = {"analysts": a, "n": len(g)}
        for k in STAFFING_KPIS:
            s = t_interval(g[k], conf)
            row |= {k: s["mean"], f"{k}_low": s["ci_low"], f"{k}_high": s["ci_high"]}
        out.append(row)
    df = pd.DataFrame(out)
    best = int(df.loc[df["cost_per_order"].idxmin(), "analysts"])
    base = reps[reps["analysts"] == best].set_index("replication")["cost_per_order"]
    diffs = [paired_diff(base, reps[reps["analysts"] == a].set_index("replication")["cost_per_order"],
                         conf) for a in df["analysts"]]  # fmt: skip
    df["cost_vs_cheapest"] = [d["diff"] for d in diffs]
    df["cost_vs_cheapest_low"] = [d["diff_low"] for d in diffs]
    df["cost_vs_cheapest_high"] = [d["diff_high"] for d in diffs]
    df["cheapest"] = df["analysts"] == best
    df.attrs["replications"] = reps
    df.attrs["setting"] = f"detection={cfg.detection.name} recovery={cfg.recovery.name}"
    df.attrs["confidence"] = conf
    return df


def plot_staffing_curve(df: pd.DataFrame, title: str | None = None):
    """Four panels over analysts per shift: cost per order (labour apart), case wait,
    backlog share and utilisation, each mean with its interval; the cheapest size marked."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = df["analysts"].to_numpy()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    panels = [("cost_per_order", "cost per order (USD)", "lower is better"),
              ("case_wait_hours", "case wait (hours)", "lower is better"),
              ("cases_backlogged_share", "cases in backlog at the end (share)", "lower is better"),
              ("team_utilisation", "team utilisation (busy / paid hours)", "")]  # fmt: skip
    conf = df.attrs.get("confidence", 0.95)
    for ax, (k, label, hint) in zip(axes.ravel(), panels, strict=True):
        y = df[k].to_numpy()
        err = np.vstack([y - df[f"{k}_low"].to_numpy(), df[f"{k}_high"].to_numpy() - y])
        ax.errorbar(x, y, yerr=np.nan_to_num(err), marker="o", capsize=3,
                    label=f"mean, {conf:.0%} interval")  # fmt: skip
        if k == "cost_per_order":
            ax.plot(x, df["cost_labour_per_order"], ls="--", color="grey", label="of which labour")
            best = df[df["cheapest"]]
            ax.scatter(best["analysts"], best[k], s=160, facecolors="none", edgecolors="red",
                       zorder=5, label=f"cheapest: {int(best['analysts'].iloc[0])} per shift")
            ax.legend(fontsize=8)
        ax.set_ylabel(label)
        if hint:
            ax.set_title(hint, fontsize=8, loc="right", color="grey")
        ax.grid(alpha=0.3)
    from matplotlib.ticker import MaxNLocator

    for ax in axes[1]:
        ax.set_xlabel("analysts per shift")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title or f"Staffing curve — {df.attrs.get('setting', '')}, "
                          f"n = {int(df['n'].min())} paired worlds")  # fmt: skip
    fig.tight_layout()
    return fig


def _sizes(text: str) -> list[int]:
    """``"2-12"`` or ``"2,4,8"`` -> sizes."""
    try:
        if "-" in text:
            lo, hi = (int(p) for p in text.split("-", 1))
            return list(range(lo, hi + 1))
        return [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--analysts {text!r}: expected a range like 2-12 or a list like 2,4,8") from None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.experiment.staffing",
                                description="Staffing curve of one policy on paired worlds.")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, as for exsim")
    p.add_argument("--analysts", type=_sizes, default=list(range(2, 13)),
                   help="analysts per shift: a range 2-12 (default) or a list 2,4,8")
    p.add_argument("-n", "--replications", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("outputs/staffing"))
    p.add_argument("--cache", type=Path, default=None, help="world cache folder (reused)")
    args = p.parse_args(argv)
    from sim.api import load_config

    try:
        cfg = load_config(*args.overrides)
        for a in args.analysts:
            with_analysts(cfg, a)
        if args.replications < 2:
            raise ConfigError([f"-n {args.replications}: must be at least 2 (an interval)"])
    except ConfigError as err:
        print(f"staffing: {err}", file=sys.stderr)
        return 2
    df = staffing_curve(cfg, args.analysts, args.replications,
                        cache=WorldCache(args.cache) if args.cache else None)  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "staffing.csv", index=False)
    df.attrs["replications"].to_csv(args.out / "staffing_replications.csv", index=False)
    plot_staffing_curve(df).savefig(args.out / "staffing.png", dpi=110)
    cols = ["analysts", "cost_per_order", "cost_per_order_low", "cost_per_order_high",
            "cost_vs_cheapest", "cost_vs_cheapest_low", "cost_vs_cheapest_high",
            "case_wait_hours", "cases_backlogged_share", "team_utilisation"]  # fmt: skip
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.attrs["setting"], f"n = {args.replications} paired worlds")
        print(df[cols].round(3).to_string(index=False))
    print(f"cheapest: {int(df.loc[df['cheapest'], 'analysts'].iloc[0])} analysts per shift; "
          f"files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
