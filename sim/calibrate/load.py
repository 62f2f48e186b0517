"""Load an order history (CSV or Parquet) and optional tracking events with a column
mapping, and sort every row into "usable" or "skipped for a named reason".

A file that cannot be used at all raises :class:`DataError` naming the problem and the
first offending line; a row that cannot be used is counted under its reason (with the
first line it happened on) and skipped.  Nothing is dropped silently.
"""

from __future__ import annotations

import difflib
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate.dates import day_month_check, parse_dates, swapped
from sim.calibrate.settings import REQUIRED, CalibrationSettings

DATE_FIELDS = ("purchase", "approval", "handoff", "delivery", "promise")


class DataError(ValueError):
    """The input file cannot be used at all (the message says why and where)."""


@dataclass
class RowIssues:
    """Skipped rows by reason, with the first file line of each reason."""

    counts: Counter = field(default_factory=Counter)
    first_line: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str, lines: np.ndarray) -> None:
        if len(lines):
            self.counts[reason] += len(lines)
            self.first_line.setdefault(reason, int(np.min(lines)))

    def total(self) -> int:
        return sum(self.counts.values())

    def table(self) -> list[tuple[str, int, int]]:
        return [(r, n, self.first_line[r]) for r, n in self.counts.most_common()]


@dataclass
class OrderHistory:
    """Parsed orders (one row per usable-for-something order) and the bookkeeping."""

    orders: pd.DataFrame  # purchase..promise (datetime64), status, value, region, line, complete
    issues: RowIssues
    n_rows: int
    formats: dict[str, str]
    path: str


@dataclass
class TrackingEvents:
    events: pd.DataFrame  # tracking_no (str), time (datetime64), status, location
    issues: RowIssues
    n_rows: int
    path: str


def read_table(path: str | Path, encoding: str = "utf-8", delimiter: str = ",") -> pd.DataFrame:
    """All columns as strings (CSV) or as stored (Parquet); DataError if unusable."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory; give the order history file itself "
                        "(CSV or Parquet)")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes)")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(path)
        except Exception as err:  # noqa: BLE001 - any reader failure is a data problem
            raise DataError(f"{path}: not a readable Parquet file ({err})") from err
    else:
        raw = path.read_bytes()
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            raise DataError(
                f"{path}: not valid {encoding} text: byte 0x{raw[err.start]:02x} on line {line}; "
                "save it as UTF-8 or set encoding=<the file's encoding> (e.g. encoding=latin-1)"
            ) from err
        except LookupError as err:
            raise DataError(f"unknown encoding {encoding!r}") from err
        text = text.removeprefix("\ufeff")
        if not text.strip():
            raise DataError(f"{path}: the file is empty (only blank lines)")
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                             skipinitialspace=True, sep=delimiter)
        except pd.errors.ParserError as err:
            raise DataError(f"{path}: not a well-formed CSV: {err}") from err
        except pd.errors.EmptyDataError as err:
            raise DataError(f"{path}: the file is empty (no header)") from err
    if len(df) == 0:
        raise DataError(f"{path}: has a header ({', '.join(map(str, df.columns))}) but no data rows")
    df.columns = [str(c).strip() for c in df.columns]
    return df


LIKELY_DELIMITERS = (";", "\t", "|", ",")


def _check_columns(df: pd.DataFrame, mapping: dict[str, str | None], required: tuple[str, ...],
                   path: str, prefix: str, delimiter: str = ",") -> None:
    missing = [c for c in mapping.values() if c is not None and c not in df.columns]
    if missing and len(df.columns) == 1:
        header = str(df.columns[0])
        other = [d for d in LIKELY_DELIMITERS if d != delimiter and d in header]
        if other:
            name = {"\t": "tab"}.get(other[0], repr(other[0]))
            raise DataError(
                f"{path}: the header is one column {header[:80]!r}: the file looks "
                f"{name}-delimited, not {delimiter!r}-delimited; set delimiter={other[0]!r} "
                f"(e.g. exsim-calibrate FILE delimiter=';')")
    mapped = {c for c in mapping.values() if c is not None}
    problems = []
    for key, col in mapping.items():
        if col is None:
            if key in required:
                problems.append(f"{prefix}.{key} is not set (required)")
            continue
        if col not in df.columns:
            # never suggest a column that already stands for another field
            free = [c for c in df.columns if c not in mapped]
            close = difflib.get_close_matches(col, free, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"column {col!r} ({prefix}.{key}) is not in the file{hint}")
    if problems:
        free = [c for c in df.columns if c not in mapped]
        raise DataError(f"{path}: " + "; ".join(problems)
                        + f". The file's columns: {list(df.columns)}"
                        + (f"; not mapped to any field: {free}" if free else ""))


def _dates(df: pd.DataFrame, col: str, settings: CalibrationSettings, key: str,
           path: str, fmt: str | None = None) -> tuple[pd.Series, pd.Series, str, pd.Series, bool]:
    """(parsed, unparseable mask, format, ambiguous day/month mask, whole column ambiguous);
    DataError if no non-empty value parses."""
    raw = df[col]
    none = pd.Series(False, index=df.index)
    if pd.api.types.is_datetime64_any_dtype(raw):
        s = raw
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert(settings.timezone).dt.tz_localize(None)
        return s.astype("datetime64[us]"), none, "native", none, False
    parsed, fmt = parse_dates(raw, fmt or settings.date_format, settings.timezone)
    ambiguous, undecided = (day_month_check(raw, fmt) if settings.date_format == "auto"
                            else (none, False))
    present = raw.astype("string").str.strip().fillna("") != ""
    bad = present & parsed.isna()
    if present.any() and bad.sum() == present.sum():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{path}: column {col!r} ({key}): no value parses as a date with "
            f"date_format={settings.date_format!r}; first offending line {i + 2}: {raw.iloc[i]!r}. "
            "Set date_format to a strftime format, e.g. date_format='%Y/%m/%d %H:%M'"
        )
    return parsed.astype("datetime64[us]"), bad & ~ambiguous, fmt, ambiguous, undecided


def load_orders(path: str | Path, settings: CalibrationSettings) -> OrderHistory:
    df = read_table(path, settings.encoding, settings.delimiter)
    cols = settings.columns
    mapping = {k: getattr(cols, k) for k in cols.__dataclass_fields__}
    _check_columns(df, mapping, REQUIRED, str(path), "columns", settings.delimiter)
    line = np.arange(len(df)) + 2  # header is line 1
    out = pd.DataFrame(index=df.index)
    issues = RowIssues()
    date_cols = {k: mapping[k] for k in DATE_FIELDS}
    if cols.label:
        date_cols["label"] = cols.label
    parsed = {k: _dates(df, c, settings, k, str(path)) for k, c in date_cols.items()}
    _settle_day_month(parsed, df, date_cols, settings, str(path))
    formats, bad, ambiguous = {}, {}, {}
    for key, (values, b, fmt, amb, _) in parsed.items():
        out[key], bad[key], formats[key], ambiguous[key] = values, b, fmt, amb
    out["order_id"] = df[cols.order_id].astype(str) if cols.order_id else (df.index + 1).astype(str)
    out["tracking_no"] = df[cols.tracking_no].astype(str) if cols.tracking_no else out["order_id"]
    out["status"] = df[cols.status].astype(str).str.strip() if cols.status else ""
    if cols.value:
        out["value"] = pd.to_numeric(df[cols.value], errors="coerce")
    if cols.region:
        out["region"] = df[cols.region].astype(str).str.strip()
    out["line"] = line

    # every row gets the first reason that applies; the rest are complete
    remaining = np.ones(len(df), bool)

    def skip(mask, reason: str) -> None:
        nonlocal remaining
        m = remaining & np.asarray(mask, bool)
        issues.add(reason, line[m])
        remaining &= ~m

    def unusable(key: str) -> None:
        skip(bad[key], f"{key}: unparseable date")
        skip(ambiguous[key], f"{key}: ambiguous day/month date (the column mixes m/d and d/m)")
        skip(out[key].isna(), f"{key}: missing date")

    if cols.order_id:
        skip(out["order_id"].duplicated(keep="first"), "duplicate order id (the first kept)")
    unusable("purchase")
    lo, hi = _span(out.loc[remaining, "purchase"], settings)
    far = f"outside the file's span ({lo:%Y-%m-%d} .. {hi:%Y-%m-%d})"

    def outside(key: str) -> np.ndarray:
        return ((out[key] < lo) | (out[key] > hi)).to_numpy()

    skip(outside("purchase"), f"purchase: {far}")
    arrivals = remaining.copy()  # usable for the arrival profile and volume
    if not arrivals.any():
        raise DataError(f"{path}: no row has a usable purchase time "
                        f"(column {cols.purchase!r}); first line {line[0]}: "
                        f"{df[cols.purchase].iloc[0]!r}")
    unusable("promise")
    skip(outside("promise"), f"promise: {far}")
    skip(out["promise"].dt.normalize() < out["purchase"].dt.normalize(),
         "promise before purchase")
    delivered_status = np.ones(len(df), bool)
    if cols.status and settings.delivered_statuses:
        delivered_status = out["status"].isin(settings.delivered_statuses).to_numpy()
    for st in sorted(set(out.loc[remaining & ~delivered_status, "status"])):
        skip(~delivered_status & (out["status"] == st).to_numpy(), f"not delivered (status {st!r})")
    for key in ("delivery", "approval", "handoff") + (("label",) if cols.label else ()):
        unusable(key)
        skip(outside(key), f"{key}: {far}")
    skip(out["approval"] < out["purchase"], "negative duration: approval before purchase")
    skip(out["handoff"] < out["approval"], "negative duration: carrier handoff before approval")
    skip(out["delivery"] < out["handoff"], "negative duration: delivery before carrier handoff")
    if not remaining.any():
        raise DataError(f"{path}: no row is complete (every row was skipped: "
                        + ", ".join(f"{r}: {n}" for r, n, _ in issues.table()) + ")")
    out["complete"] = remaining
    out["arrival_ok"] = arrivals
    return OrderHistory(out[arrivals].reset_index(drop=True), issues, len(df), formats, str(path))


def _span(purchase: pd.Series, settings: CalibrationSettings) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The robust span of the file: purchase quartiles widened by far_k inter-quartile
    ranges (Tukey's far-out fences; at least far_min_days)."""
    t = purchase.dropna()
    if t.empty:
        return pd.Timestamp.min, pd.Timestamp.max
    q1, q3 = t.quantile(0.25), t.quantile(0.75)
    width = max(settings.screen.far_k * (q3 - q1), pd.Timedelta(days=settings.screen.far_min_days))
    return q1 - width, q3 + width


def _settle_day_month(parsed: dict, df: pd.DataFrame, date_cols: dict[str, str],
                      settings: CalibrationSettings, path: str) -> None:
    """A column whose every value reads both as m/d and d/m takes the order the file's
    other date columns show; if none shows it, the file cannot be read safely."""
    decided = [fmt for _, _, fmt, _, undecided in parsed.values()
               if not undecided and swapped(fmt) is not None]
    for key, (_, _, fmt, _, undecided) in list(parsed.items()):
        if not undecided:
            continue
        alt = swapped(fmt)
        month_first = [f.index("%m") < f.index("%d") for f in decided]
        other = [fmt if m == (fmt.index("%m") < fmt.index("%d")) else alt for m in month_first]
        if not other:
            col = date_cols[key]
            example = next(v for v in df[col] if str(v).strip())
            raise DataError(
                f"{path}: column {col!r} ({key}): dates such as {example!r} read both as "
                f"month/day and day/month and no value in the file tells which; set "
                f"date_format={fmt!r} or date_format={swapped(fmt)!r}")
        parsed[key] = _dates(df, date_cols[key], settings, key, path, fmt=other[0])[:3] + (
            parsed[key][3], False)


def load_tracking(path: str | Path, settings: CalibrationSettings,
                  known_tracking: set[str]) -> TrackingEvents:
    df = read_table(path, settings.encoding, settings.delimiter)
    tc = settings.tracking.columns
    mapping = {k: getattr(tc, k) for k in tc.__dataclass_fields__}
    _check_columns(df, mapping, tuple(mapping), str(path), "tracking.columns")
    line = np.arange(len(df)) + 2
    t, bad, _, amb, _ = _dates(df, tc.time, settings, "time", str(path))
    bad = bad | amb
    ev = pd.DataFrame({"tracking_no": df[tc.tracking_no].astype(str).str.strip(), "time": t,
                       "status": df[tc.status].astype(str).str.strip(),
                       "location": df[tc.location].astype(str).str.strip(), "line": line})
    issues = RowIssues()
    keep = np.ones(len(df), bool)
    for mask, reason in ((bad.to_numpy(), "time: unparseable date"),
                         (ev["time"].isna().to_numpy(), "time: missing"),
                         (~ev["tracking_no"].isin(known_tracking).to_numpy(),
                          "tracking_no not among the usable orders")):
        m = keep & mask
        issues.add(reason, line[m])
        keep &= ~m
    if not keep.any():
        raise DataError(f"{path}: no usable tracking event ("
                        + ", ".join(f"{r}: {n}, first line {f}" for r, n, f in issues.table()) + ")")
    return TrackingEvents(ev[keep].reset_index(drop=True), issues, len(df), str(path))
