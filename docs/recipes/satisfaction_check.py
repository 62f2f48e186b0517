"""Check the satisfaction model against DESIGN §7 (Olist: 4.28 stars on time, 2.55 late).

    python docs/recipes/satisfaction_check.py [scenario ...]   # default: baseline

Prints, per scenario, the mean expected stars of orders that arrived by the promised day
and of late ones (reactive detection, tiered recovery: close to the status quo the reviews
come from), with the promise-day penalty in force.  A calibrated scenario
(``exsim-calibrate ... --name X`` writes ``conf/scenario/calibrated_X.yaml``) has padded
marketplace promises and so keeps Olist's promise-day penalty; the US business-day
scenarios do not.
"""

from __future__ import annotations

import sys

import sim
from sim.outcomes import promise_day_penalty
from sim.pipeline import run_once


def check(scenario: str, replications: int = 3) -> None:
    rows = []
    for r in range(replications):
        cfg = sim.load_config(f"scenario={scenario}", "detection=reactive", "progress=false")
        o = run_once(cfg, r).tables["outcomes"]
        late = o["days_late"] > 0
        rows.append((o.loc[~late & o["days_late"].notna(), "stars"].mean(),
                     o.loc[late | o["days_late"].isna(), "stars"].mean(),
                     (o["days_late"] == 0).mean(), late.mean()))
    on, lt, day, share = (sum(x[i] for x in rows) / len(rows) for i in range(4))
    padded = cfg.scenario.orders.promise_lead is not None
    print(f"{scenario:<28} promise-day penalty {promise_day_penalty(cfg.outcomes, padded):.2f}  "
          f"on time {on:.2f} stars  late or never {lt:.2f} stars  "
          f"(on the promised day {day:.1%}, late {share:.1%}; Olist: 4.28 vs 2.55)")


if __name__ == "__main__":
    for name in sys.argv[1:] or ["baseline"]:
        check(name)
