"""The search space: Optuna parameters of a trial <-> the Hydra overrides of a policy.

A trial is *only* a list of ``key=value`` overrides on top of the composed config, so the
recommended policy is reproduced by ``exsim <those overrides>`` and nothing else.
"""

from __future__ import annotations

import optuna

from policies.config import RecoveryConfig
from sim.decide.config import SpaceConfig


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}" if v != int(v) else f"{v:.1f}"
    if isinstance(v, list):
        return "[" + ",".join(v) + "]"
    return str(v)


def suggest(trial: optuna.Trial, space: SpaceConfig, recovery: RecoveryConfig) -> list[str]:
    """Draw one policy from ``space`` (tiers as in ``recovery``) and return its overrides."""
    out: list[str] = []
    searched = []
    for rule, rs in space.rules.items():
        on = trial.suggest_categorical(f"{rule}.on", [True, False]) if rs.optional else True
        out.append(f"detection.{rule}.enabled={_fmt(on)}")
        if on:
            hours = trial.suggest_float(f"{rule}.hours", rs.low, rs.high,
                                        step=rs.step if rs.step > 0 else None)  # fmt: skip
            out.append(f"detection.{rule}.hours={_fmt(float(hours))}")
            searched.append(rule)
    if searched and space.business_hours:
        bh = trial.suggest_categorical("business_hours", [False, True])
        out += [f"detection.{r}.business_hours={_fmt(bh)}" for r in searched]
    if searched and space.weather_hold:
        wh = trial.suggest_categorical("weather_hold", [False, True])
        out += [f"detection.{r}.suppress_weather={_fmt(wh)}" for r in searched]
    for i, _tier in enumerate(recovery.tiers):
        for kind, menu in space.plans.items():
            name = trial.suggest_categorical(f"tier{i}.{kind}", list(menu))
            out.append(f"recovery.tiers.{i}.plans.{kind}={_fmt(list(menu[name]))}")
    if space.analysts:
        lo, hi = space.analysts
        out.append(f"recovery.team.analysts={trial.suggest_int('analysts', lo, hi)}")
    return out


def describe(params: dict, recovery: RecoveryConfig) -> str:
    """A short human label of a trial's parameters (for tables and plots)."""
    bits = []
    for k, v in params.items():
        if k.endswith(".on") and not v:
            bits.append(f"{k[:-3]} off")
        elif k.endswith(".hours"):
            bits.append(f"{k[:-6]} {v:g} h")
        elif k.startswith("tier"):
            i = int(k[4:].split(".")[0])
            t = recovery.tiers[i]
            hi = "∞" if t.max_value == float("inf") else f"{t.max_value:g}"
            bits.append(f"${t.min_value:g}–{hi}: {v}")
        elif k == "analysts":
            bits.append(f"{v} analysts/shift")
        elif k in ("business_hours", "weather_hold") and v:
            bits.append(k.replace("_", " "))
    return ", ".join(bits)
