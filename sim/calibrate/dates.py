"""Parse date columns of real exports: ISO 8601, m/d/YYYY H:MM, dd-mm-YYYY HH:MM, with or
without seconds or a time, with or without a time zone.

A column gets one format (the one that parses most of its values); values that do not fit
it are reported row by row, never silently turned into missing dates.
"""

from __future__ import annotations

import pandas as pd

# tried in this order; "ISO8601" is pandas' own ISO parser (offsets and "Z" included)
AUTO_FORMATS = (
    "ISO8601",
    "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y",
    "%d-%m-%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y",
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y",
)  # fmt: skip


TZ_SUFFIX = r"\d:\d\d(?::\d\d(?:\.\d+)?)?[+-]\d\d:?\d\d$"  # a time, then an offset


def _normalise_zone(values: pd.Series) -> pd.Series:
    """'... UTC' / 'GMT' / 'Z' -> '+00:00'; '10:00 -03:00' -> '10:00-03:00'."""
    values = values.str.replace(r"(\d)\s*(?:UTC|GMT|Z)$", r"\1+00:00", regex=True)
    return values.str.replace(r"(\d)\s+([+-]\d\d:?\d\d)$", r"\1\2", regex=True)


def _try(values: pd.Series, fmt: str) -> pd.Series:
    """Parse with one format; unparseable -> NaT.  Offsets are kept by going through UTC."""
    has_tz = bool(values.str.contains(TZ_SUFFIX, regex=True, na=False).any())
    if has_tz and fmt != "ISO8601" and "%z" not in fmt:
        fmt = fmt + "%z"
    return pd.to_datetime(values, format=fmt, errors="coerce", utc=has_tz)


MIXED_SHARE = 0.05  # a minority convention above this share: the column mixes both


def swapped(fmt: str) -> str | None:
    """The day/month-swapped format (``%m/%d/%Y`` <-> ``%d/%m/%Y``), or None."""
    if "%m" not in fmt or "%d" not in fmt:
        return None
    return fmt.replace("%m", "\0").replace("%d", "%m").replace("\0", "%d")


def day_month_check(raw: pd.Series, fmt: str) -> tuple[pd.Series, bool]:
    """(rows whose day/month order cannot be trusted, whether no value disambiguates).

    A value such as 3/4/2018 reads as March 4 or April 3.  The column's convention comes
    from the values only one order can read (25/12 or 12/25).  When a small minority of
    such values contradicts the majority, those rows are flagged (a stray convention);
    when both conventions are common, every value that reads both ways with different
    dates is flagged too (nothing tells which one it used)."""
    values = raw.astype("string").str.strip()
    values = _normalise_zone(values.mask(values == ""))
    none = pd.Series(False, index=raw.index)
    alt_fmt = swapped(fmt)
    if alt_fmt is None:
        return none, False
    parsed, alt = _try(values, fmt), _try(values, alt_fmt)
    present = values.notna()
    only_best = int((parsed.notna() & alt.isna() & present).sum())
    only_alt = (alt.notna() & parsed.isna() & present)
    differ = parsed.notna() & alt.notna() & (parsed != alt)
    if only_best == 0 and int(only_alt.sum()) == 0:
        return none, bool(differ.any())
    if int(only_alt.sum()) / (only_best + int(only_alt.sum())) >= MIXED_SHARE:
        return only_alt | differ, False
    return only_alt, False


def parse_dates(raw: pd.Series, date_format: str = "auto", timezone: str = "UTC"
                ) -> tuple[pd.Series, str]:
    """Strings -> naive local datetimes in ``timezone``; returns (parsed, format used).

    Empty cells give NaT; so do cells that do not parse (the caller tells them apart:
    ``raw`` non-empty but result NaT = unparseable).
    """
    values = raw.astype("string").str.strip()
    values = _normalise_zone(values.mask(values == ""))
    present = values.notna()
    candidates = (date_format,) if date_format != "auto" else AUTO_FORMATS
    best, best_fmt, best_ok = None, candidates[0], -1
    for fmt in candidates:
        parsed = _try(values, fmt)
        ok = int((parsed.notna() & present).sum())
        if ok > best_ok:
            best, best_fmt, best_ok = parsed, fmt, ok
        if ok == int(present.sum()):
            break
    assert best is not None
    if isinstance(best.dtype, pd.DatetimeTZDtype):
        best = best.dt.tz_convert(timezone).dt.tz_localize(None)
    return best, best_fmt
