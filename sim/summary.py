"""A readable summary of one world: what happened (truth) and what could be seen."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.world import EXCEPTIONS, World


def world_summary(world: World) -> dict[str, Any]:
    tr = world.truth.orders
    obs = world.observation
    n = len(tr)
    days = world.scenario.days
    delivered = tr["delivered_at"].notna()
    late = tr["late_hours"] > 0
    kinds = tr["exception"].value_counts().reindex(EXCEPTIONS[1:], fill_value=0)
    reasons = obs.contacts["reason"].value_counts()
    return {
        "scenario": world.scenario.name,
        "seed": world.seed,
        "replication": world.replication,
        "days": days,
        "orders": n,
        "orders_per_day": n / days,
        "exceptions": {k: {"count": int(v), "rate": v / n} for k, v in kinds.items()},
        "exception_orders": int((tr["exception"] != "none").sum()),
        "mispicks_caught_at_pack": int(tr["mispick_caught"].sum()),
        "weather_closures": len(world.truth.closures),
        "delivered_share": float(delivered.mean()),
        "on_time_share": float(tr["on_time"].mean()),
        "late_delivered_share": float((late & delivered).sum() / max(delivered.sum(), 1)),
        "mean_days_late": float(tr.loc[late & delivered, "late_hours"].mean() / 24)
        if (late & delivered).any() else 0.0,
        "tracking_events": len(obs.tracking),
        "tracking_events_per_order": len(obs.tracking) / max(n, 1),
        "missed_scans": int(tr["missed_scans"].sum()),
        "customer_contacts": len(obs.contacts),
        "contacts_per_100_orders": 100 * len(obs.contacts) / max(n, 1),
        "contacts_by_reason": {str(k): int(v) for k, v in reasons.items() if v},
    }


def format_summary(s: dict[str, Any]) -> str:
    lines = [
        f"exsim world — scenario '{s['scenario']}', seed {s['seed']}, {s['days']:g} days",
        f"  orders                 {s['orders']:>10,}  ({s['orders_per_day']:,.0f}/day)",
        f"  delivered              {s['delivered_share']:>10.2%}",
        f"  on time                {s['on_time_share']:>10.2%}",
        f"  late (of delivered)    {s['late_delivered_share']:>10.2%}   mean {s['mean_days_late']:.2f} days late",
        f"  exceptions (truth)     {s['exception_orders']:>10,}  ({s['exception_orders'] / max(s['orders'], 1):.2%} of orders)",
    ]
    for kind, v in s["exceptions"].items():
        if v["count"]:
            lines.append(f"    {kind:<20} {v['count']:>10,}  {v['rate']:>8.3%}")
    lines += [
        f"  mis-picks caught at pack {s['mispicks_caught_at_pack']:>8,}",
        f"  weather closures       {s['weather_closures']:>10,}",
        f"  tracking events        {s['tracking_events']:>10,}  ({s['tracking_events_per_order']:.2f}/order)",
        f"  missed scans           {s['missed_scans']:>10,}",
        f"  customer contacts      {s['customer_contacts']:>10,}  ({s['contacts_per_100_orders']:.2f} per 100 orders)",
    ]
    for reason, count in sorted(s["contacts_by_reason"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {reason:<20} {count:>10,}")
    return "\n".join(lines)


def jsonable(obj: Any) -> Any:
    """numpy scalars -> Python, recursively (for json.dump)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj

