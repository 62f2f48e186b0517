"""Validation primitives shared by every config dataclass, and small shared configs.

A check is attached to a field through ``metadata={"check": ...}`` (see :func:`_f`); the
walker :func:`field_problems` visits nested dataclasses, lists and dicts and reports every
bad value with its path, so a user sees all problems at once, before any simulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

# --------------------------------------------------------------------------- checks
# A check is attached to a field through ``metadata={"check": ...}``.  It returns None
# when the value is fine, else the text "must be ...", which ``validate`` prefixes with
# the field path and the offending value.
Check = Callable[[Any], str | None]


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def prob(x: Any) -> str | None:
    return None if _num(x) and 0.0 <= x <= 1.0 else "a probability in [0, 1]"


def nonneg(x: Any) -> str | None:
    return None if _num(x) and x >= 0 else "a finite number >= 0"


def optional_nonneg(x: Any) -> str | None:
    return None if x is None or (_num(x) and x >= 0) else "a finite number >= 0, or null"


def value_bound(x: Any) -> str | None:
    """A money bound: >= 0, may be .inf (open-ended tier)."""
    ok = isinstance(x, int | float) and not isinstance(x, bool) and x >= 0 and not math.isnan(x)
    return None if ok else "a number >= 0 (or .inf)"


def positive(x: Any) -> str | None:
    return None if _num(x) and x > 0 else "a finite number > 0"


def hour_of_day(x: Any) -> str | None:
    return None if _num(x) and 0 <= x <= 24 else "an hour of the day in [0, 24]"


def one_of(*allowed: str) -> Check:
    def check(x: Any) -> str | None:
        return None if x in allowed else f"one of {list(allowed)}"

    return check


def weights(n: int | None = None) -> Check:
    """Non-negative weights, not all zero (they are normalised, so they need not sum to 1)."""

    def check(xs: Any) -> str | None:
        need = f"a list of {n} " if n else "a list of "
        if n is not None and len(xs) != n:
            return need + f"weights >= 0, not all zero (got {len(xs)} values)"
        if not all(_num(x) and x >= 0 for x in xs) or sum(xs) <= 0:
            return need + "weights >= 0, not all zero"
        return None

    return check


def rates(n: int) -> Check:
    """``n`` event rates >= 0; all zero is allowed (a calm scenario has no weather), unlike
    :func:`weights`, which are normalised and so need a positive sum."""

    def check(xs: Any) -> str | None:
        if len(xs) != n:
            return f"a list of {n} rates >= 0 (got {len(xs)} values)"
        if not all(_num(x) and x >= 0 for x in xs):
            return f"a list of {n} rates >= 0"
        return None

    return check


def keyed_weights(allowed: tuple[str, ...]) -> Check:
    """Weights keyed by a subset of known names (a missing name has weight 0)."""

    def check(d: Any) -> str | None:
        unknown = sorted(set(d) - set(allowed))
        if unknown:
            return f"keyed by {list(allowed)} (unknown: {unknown})"
        return weights()(list(d.values()))

    return check


def keyed(allowed: tuple[str, ...], value_check: Check) -> Check:
    def check(d: Any) -> str | None:
        unknown = sorted(set(d) - set(allowed))
        missing = sorted(set(allowed) - set(d))
        if unknown or missing:
            return f"keyed by exactly {list(allowed)} (unknown: {unknown}, missing: {missing})"
        for k, v in d.items():
            msg = value_check(v)
            if msg:
                return f"{k}: {msg}"
        return None

    return check


def named_weights(d: Any) -> str | None:
    """Free names (e.g. regions) mapped to weights."""
    if len(d) == 0:
        return "a non-empty mapping of names to weights"
    return weights()(list(d.values()))


def days_of_week(xs: Any) -> str | None:
    ok = len(xs) > 0 and all(isinstance(x, int) and 0 <= x <= 6 for x in xs)
    return None if ok and len(set(xs)) == len(xs) else "distinct weekdays 0 (Mon) .. 6 (Sun), at least one"


def hours_list(xs: Any) -> str | None:
    if len(xs) == 0 or not all(_num(x) and 0 <= x < 24 for x in xs):
        return "a non-empty list of hours in [0, 24)"
    return None


def int_at_least(lo: int) -> Check:
    def check(x: Any) -> str | None:
        return None if isinstance(x, int) and x >= lo else f"an integer >= {lo}"

    return check


def optional_int_at_least(lo: int) -> Check:
    def check(x: Any) -> str | None:
        ok = x is None or (isinstance(x, int) and not isinstance(x, bool) and x >= lo)
        return None if ok else f"an integer >= {lo}, or null"

    return check


def correlation(x: Any) -> str | None:
    return None if _num(x) and -0.99 <= x <= 0.99 else "a correlation in [-0.99, 0.99]"


def iso_date(x: Any) -> str | None:
    import datetime as dt

    try:
        dt.date.fromisoformat(str(x))
    except ValueError:
        return "a date as YYYY-MM-DD"
    return None


def _f(default: Any, check: Check | None = None) -> Any:
    """A dataclass field with a default (copied if mutable) and an optional check."""
    meta = {"check": check} if check else {}
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ShiftConfig:
    """A shift within one day; ``pickers`` is its head count (pickers, or analysts in the
    exception team)."""

    start_hour: float = _f(6.0, hour_of_day)
    end_hour: float = _f(14.0, hour_of_day)
    pickers: int = _f(45, int_at_least(0))


def shift_problems(shifts: list[ShiftConfig], path: str, staff: str = "pickers",
                   heads: list[int] | None = None) -> Iterator[str]:
    """The checks every rota gets (warehouse pickers, exception analysts): at least one
    shift, each inside one day (end after start), no two overlapping, and at least one
    person on some shift.  ``heads`` replaces the shifts' own head counts (a team-wide
    override); ``staff`` names them in the message."""
    if not shifts:
        yield f"{path} = []: must list at least one shift"
        return
    spans = []
    for i, sh in enumerate(shifts):
        if sh.end_hour <= sh.start_hour:
            yield (f"{path}[{i}] = {sh.start_hour}-{sh.end_hour}: end_hour must be after "
                   "start_hour (shifts lie within one day, 0-24; split a night shift in two)")
        spans.append((sh.start_hour, sh.end_hour, i))
    spans.sort()
    for (_, e0, i0), (s1, _, i1) in zip(spans, spans[1:], strict=False):
        if s1 < e0:
            yield (f"{path}[{i1}] starts at {s1} before {path}[{i0}] ends at {e0}: "
                   "shifts must not overlap")
    counts = heads if heads is not None else [sh.pickers for sh in shifts]
    if sum(counts) == 0:
        yield f"{path}: at least one shift must have {staff} > 0"


# --------------------------------------------------------------------------- validation
class ConfigError(ValueError):
    """Invalid configuration; ``problems`` lists one line per bad field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


def _walk(obj: Any, path: str) -> Iterator[tuple[str, Any, Check | None]]:
    for f in fields(obj):
        value = getattr(obj, f.name)
        p = f"{path}.{f.name}" if path else f.name
        yield p, value, f.metadata.get("check")
        if is_dataclass(value):
            yield from _walk(value, p)
        elif isinstance(value, list | dict):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                if is_dataclass(v):
                    yield from _walk(v, f"{p}[{k}]" if isinstance(k, int) else f"{p}.{k}")




def field_problems(cfg: Any, root: str = "") -> list[str]:
    """Every field whose check fails, as ``path = value: must be ...``."""
    problems = []
    for path, value, check in _walk(cfg, root):
        if check is None:
            continue
        try:
            msg = check(value)
        except TypeError:
            msg = "of the documented type"
        if msg:
            problems.append(f"{path} = {value!r}: must be {msg}")
    return problems


# --------------------------------------------------------------------------- unknown keys
def _dataclass_in(tp: Any) -> type | None:
    """The dataclass a field type holds directly or as ``X | None``."""
    import types
    import typing

    if is_dataclass(tp):
        return tp
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    for arg in typing.get_args(tp):
        if is_dataclass(arg):
            return arg
    return None


def unknown_keys(node: Any, schema: type, path: str = "") -> list[str]:
    """Keys of a composed config (an OmegaConf DictConfig) that ``schema`` does not have.

    Why: Hydra refuses ``scenario.dayz=3`` but accepts ``+scenario.dayz=3`` (the form its
    own hint suggests) and the dataclass conversion then drops the key: a typo that would
    silently run the default.  Free-keyed dicts (regions, service mixes) are checked by
    their fields' own checks, not here."""
    import difflib
    import typing

    from omegaconf import DictConfig, ListConfig

    hints = typing.get_type_hints(schema)
    names = [f.name for f in fields(schema)]
    problems = []
    for key in node.keys() if isinstance(node, DictConfig) else []:
        p = f"{path}.{key}" if path else str(key)
        if key not in hints:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            value = node._get_node(key)._value() if hasattr(node, "_get_node") else "?"
            problems.append(f"{p} = {value!r}: not a field of {path or 'the config'}{hint}; "
                            f"allowed: {names}")  # fmt: skip
            continue
        tp, child = hints[key], node.get(key)
        sub = _dataclass_in(tp)
        if sub is not None and isinstance(child, DictConfig):
            problems.extend(unknown_keys(child, sub, p))
            continue
        args = typing.get_args(tp)
        inner = _dataclass_in(args[-1]) if args else None
        if inner is None:
            continue
        if isinstance(child, ListConfig):
            for i, item in enumerate(child):
                problems.extend(unknown_keys(item, inner, f"{p}[{i}]"))
        elif isinstance(child, DictConfig):
            for k in child:
                problems.extend(unknown_keys(child.get(k), inner, f"{p}.{k}"))
    return problems
