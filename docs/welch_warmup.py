"""Welch plot of the initial transient on the 30-day baseline (makes docs/warmup.png).

The world starts empty: no parcel in transit, no open case, an idle exception team.  Daily
KPIs by day (alerts by the day they fire, case wait by the day the case opens, cost per order
and on-time share by the day the order is placed) are averaged over replications, then
smoothed with Welch's centred moving average (window w days); the warm-up ends where the
smoothed curve levels off.  Run from the repository root::

    PYTHONPATH=$PWD python docs/welch_warmup.py --replications 10 --out docs/warmup.png

Writes the PNG and ``<out>.csv`` (mean per day and KPI, the data behind the plot).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from sim.pipeline import run_once
from sim.world import simulate_world

KPIS = {
    "alerts": "alerts / day\n(by alert day)",
    "case_wait_hours": "case wait (h)\n(by day opened)",
    "cost_per_order": "cost / order (USD)\n(by order day)",
    "on_time_share": "on-time share\n(by order day)",
}


def daily(cfg, r: int) -> pd.DataFrame:
    """One replication's daily KPIs (index: day 0..days-1)."""
    world = simulate_world(cfg, replication=r)
    res = run_once(cfg, r, world)
    days = int(round(cfg.scenario.days))
    idx = pd.RangeIndex(days, name="day")
    al = res.tables["alerts"]
    alert_day = np.clip(np.floor(al["time"].to_numpy(float) / 24), 0, days - 1).astype(np.int64)
    alerts = np.bincount(alert_day, minlength=days)[:days]
    cs = res.tables["cases"]
    wait = (cs["first_handled_at"] - cs["opened_at"]).groupby(
        (cs["opened_at"] // 24).astype(int)).mean()
    out = res.tables["outcomes"]
    day = (world.truth.orders["placed_at"].to_numpy() // 24).astype(int)
    cost = out["cost_total"].groupby(day).mean()
    on_time = (out["days_late"] <= 0).groupby(day).mean()
    return pd.DataFrame({"alerts": alerts, "case_wait_hours": wait.reindex(idx),
                         "cost_per_order": cost.reindex(idx),
                         "on_time_share": on_time.reindex(idx)}, index=idx)


def welch_average(y: np.ndarray, w: int) -> np.ndarray:
    """Welch's moving average: a centred window of 2w+1 days, shrinking near the start."""
    n = len(y)
    out = np.full(n, np.nan)
    for i in range(n - w):
        h = min(i, w)
        out[i] = np.nanmean(y[i - h: i + h + 1])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--window", type=int, default=2, help="Welch half-window w (days)")
    ap.add_argument("--out", default="docs/warmup.png")
    ap.add_argument("--warmup", type=float, default=7.0, help="draw the recommended warm-up")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides (default: the baseline)")
    a = ap.parse_args(argv)
    cfg = sim.load_config("progress=false", "write_tables=false", *a.overrides)
    t0 = time.perf_counter()
    frames = []
    for r in range(a.replications):
        frames.append(daily(cfg, r).assign(replication=r))
        print(f"replication {r + 1}/{a.replications} done "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    df = pd.concat(frames).reset_index()
    mean = df.groupby("day")[list(KPIS)].mean()
    sem = df.groupby("day")[list(KPIS)].sem()
    out = Path(a.out)
    mean.join(sem.add_suffix("_sem")).to_csv(out.with_suffix(".csv"))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(KPIS), 1, figsize=(7.5, 2.3 * len(KPIS)), sharex=True)
    for ax, (k, label) in zip(axes, KPIS.items(), strict=True):
        y = mean[k].to_numpy()
        ax.plot(mean.index, y, "o", ms=3, color="0.6", label=f"mean of {a.replications} reps")
        ax.plot(mean.index, welch_average(y, a.window), "-", lw=2,
                label=f"Welch moving average (w = {a.window} d)")
        ax.axvspan(-0.5, a.warmup, color="orange", alpha=0.12,
                   label=f"warm-up ({a.warmup:g} days, left out of the KPIs)")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[-1].set_xlabel("day of the run (0 = the world starts empty)")
    fig.suptitle(f"Initial transient, 30-day baseline ({a.replications} replications)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"wrote {out} and {out.with_suffix('.csv')} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
