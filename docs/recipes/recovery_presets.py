"""The four recovery presets x three detection settings, paired against the status quo.

    nice python docs/recipes/recovery_presets.py -n 10 --out outputs/presets [overrides ...]

Every setting is evaluated on the same ``n`` worlds (replications 0..n-1 of the 30-day
baseline unless overridden), one world simulated at a time and shared by the 12 settings,
so each difference to ``reactive + tiered_default`` is paired (common random numbers).
Prints a Markdown table (mean and 95 % t-interval of cost per order, stars and detractor
share, and of their paired differences) and the money of lost parcels by preset; writes
``presets.csv`` (every setting x KPI) and ``replications.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

import sim
from sim.experiment.cache import WorldCache
from sim.experiment.staffing import _evaluator
from sim.world import simulate_world

DETECTION = ("reactive", "no_movement_24h", "no_movement_48h")
RECOVERY = ("tiered_default", "refund_only", "reship_expedited_all", "notify_only")
BASE = ("reactive", "tiered_default")
SHOW = (("cost_per_order", "cost per order ($)", 3), ("stars_mean", "stars", 3),
        ("detractor_share", "detractors", 4))  # fmt: skip
MONEY = ("cost_lost_goods_per_order", "cost_reship_goods_per_order",
         "cost_duplicate_goods_per_order", "cost_reship_shipping_per_order",
         "cost_refunds_per_order", "cost_disputes_per_order", "cost_claims_per_order",
         "cost_contacts_per_order", "cost_labour_per_order", "cost_lost_revenue_per_order",
         "disputes_per_1000", "lost_made_good_share")  # fmt: skip


def markdown(df: pd.DataFrame) -> str:
    """A Markdown table (pandas needs the optional ``tabulate`` for ``to_markdown``)."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def interval(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % t-interval (scipy)."""
    x = np.asarray(x, float)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)
    return float(x.mean()), float(ci.low), float(ci.high)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*")
    p.add_argument("-n", type=int, default=10)
    p.add_argument("--out", type=Path, default=Path("outputs/presets"))
    p.add_argument("--cache", type=Path, default=None, help="world cache folder (shared)")
    args = p.parse_args(argv)
    settings = [(d, r) for d in DETECTION for r in RECOVERY]
    cfgs = [sim.load_config(*args.overrides, f"detection={d}", f"recovery={r}", "progress=false")
            for d, r in settings]  # fmt: skip
    evaluate = _evaluator()
    cache = WorldCache(args.cache) if args.cache else None
    rows = []
    t0 = time.perf_counter()
    for rep in tqdm(range(args.n), desc="worlds", file=sys.stderr):
        world = (cache.get(cfgs[0], rep) if cache is not None
                 else simulate_world(cfgs[0], replication=rep))
        for (d, r), res in zip(settings, evaluate(world, cfgs), strict=True):
            rows.append({"detection": d, "recovery": r, "replication": rep, **res.kpis})
    wall = time.perf_counter() - t0
    reps = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    reps.to_csv(args.out / "replications.csv", index=False)
    base = reps[(reps["detection"] == BASE[0]) & (reps["recovery"] == BASE[1])].set_index("replication")
    table, money = [], []
    for (d, r), g in reps.groupby(["detection", "recovery"], sort=False):
        g = g.set_index("replication").loc[base.index]
        row = {"detection": d, "recovery": r}
        for k, label, digits in SHOW:
            m, lo, hi = interval(g[k])
            row[label] = f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
            if (d, r) == BASE:
                row[f"Δ {label}"] = "(status quo)"
            else:
                m, lo, hi = interval(g[k] - base[k])
                row[f"Δ {label}"] = f"{m:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"
        table.append(row)
        money.append({"detection": d, "recovery": r, **{k: g[k].mean() for k in MONEY}})
    table = pd.DataFrame(table)
    money = pd.DataFrame(money)
    summary = reps.groupby(["detection", "recovery"], sort=False).mean(numeric_only=True)
    summary.to_csv(args.out / "presets.csv")
    print(f"{args.n} paired worlds ({' '.join(args.overrides) or 'baseline'}, warm-up "
          f"{cfgs[0].warmup_days:g} days), 12 settings, "
          f"wall {wall:.0f} s; 95 % t-intervals; Δ = setting - (reactive + tiered_default)\n")
    print(markdown(table))
    print("\nMoney per order (means), lost parcels made good before a dispute:\n")
    print(markdown(money.round(3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
