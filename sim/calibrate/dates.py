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
