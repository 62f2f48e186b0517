"""Which money assumptions drive the answer: each paired cost difference as a function of
the customer's lifetime value, the contact cost and the dispute fee.

    python docs/recipes/money_sensitivity.py outputs/presets/replications.csv

Those three prices change no decision inside a run (policies never see them), so the cost
per order is exactly linear in each: ``cost = rest + CLV * a + contact_cost * b +
dispute_fee * c`` with ``a`` = lost repurchase probability per order, ``b`` = contacts per
order, ``c`` = disputes per order, all recorded per replication.  So the difference to the
status quo over a price range is exact from one run, with its paired interval.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy import stats

import sim

BASE = ("reactive", "tiered_default")


def _ci(x: np.ndarray) -> str:
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)
    return f"{x.mean():+.3f} [{ci.low:+.3f}, {ci.high:+.3f}]"


def main(path: str) -> None:
    reps = pd.read_csv(path)
    c = sim.load_config().outcomes
    reps["per_clv"] = reps["cost_lost_revenue_per_order"] / c.customer_lifetime_value
    reps["per_contact"] = reps["cost_contacts_per_order"] / c.contact_cost
    reps["per_dispute"] = reps["disputes_per_1000"] / 1000.0
    ranges = {"customer_lifetime_value": ("per_clv", c.customer_lifetime_value, (60.0, 240.0)),
              "contact_cost": ("per_contact", c.contact_cost, (2.5, 8.01)),
              "dispute_fee": ("per_dispute", c.dispute_fee, (15.0, 25.0))}  # fmt: skip
    base = reps[(reps["detection"] == BASE[0]) & (reps["recovery"] == BASE[1])].set_index("replication")
    rows = []
    for (d, r), g in reps.groupby(["detection", "recovery"], sort=False):
        if (d, r) == BASE:
            continue
        g = g.set_index("replication").loc[base.index]
        diff = (g["cost_per_order"] - base["cost_per_order"]).to_numpy()
        row = {"setting": f"{d} + {r}", "Δ cost (defaults)": _ci(diff)}
        for name, (col, now, (lo, hi)) in ranges.items():
            slope = (g[col] - base[col]).to_numpy()
            row[f"{name} {lo:g}"] = _ci(diff + slope * (lo - now))
            row[f"{name} {hi:g}"] = _ci(diff + slope * (hi - now))
        rows.append(row)
    out = pd.DataFrame(rows)
    head = "| " + " | ".join(out.columns) + " |"
    print(head + "\n|" + "---|" * len(out.columns))
    for row in out.itertuples(index=False):
        print("| " + " | ".join(map(str, row)) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "outputs/presets/replications.csv")
