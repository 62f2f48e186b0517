"""Bad input: every unusable row is counted under a reason, every unusable file is a clear
error naming the problem and the first offending line; the CLI never shows a traceback."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.calibrate import DataError, load_settings
from sim.calibrate.cli import main
from sim.calibrate.dates import parse_dates
from sim.calibrate.load import load_orders

HEADER = "id,bought,ok,shipped,arrived,promise,state\n"
COLS = ["columns.order_id=id", "columns.purchase=bought", "columns.approval=ok",
        "columns.handoff=shipped", "columns.delivery=arrived", "columns.promise=promise",
        "columns.status=state"]


def good_row(i: int) -> str:
    d = 1 + i % 20
    return (f"{i},2024-03-{d:02d} 10:00,2024-03-{d:02d} 11:00,2024-03-{d:02d} 18:00,"
            f"2024-03-{d + 3:02d} 12:00,2024-03-{d + 5:02d},delivered\n")


def settings(*extra: str):
    return load_settings(None, [*COLS, *extra])


def write(tmp_path, text: str | bytes, name: str = "orders.csv"):
    p = tmp_path / name
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    return p


@pytest.mark.parametrize("values, fmt, expect", [
    (["2024-03-01 10:00:00", "2024-03-01T10:00:00Z"], "ISO8601", "2024-03-01 10:00"),
    (["3/1/2024 10:00", "12/31/2024 0:05"], "%m/%d/%Y %H:%M", "2024-03-01 10:00"),
    (["01-03-2024 10:00", "31-12-2024 00:05"], "%d-%m-%Y %H:%M", "2024-03-01 10:00"),
    (["2024-03-01T13:00:00+03:00", "2024-03-01T10:00:00Z"], "ISO8601", "2024-03-01 10:00"),
    (["2024-03-01 10:00:00 UTC", "2024-03-01 11:00:00 UTC"], "ISO8601", "2024-03-01 10:00"),
    (["3/1/2024 7:00 -03:00", "3/2/2024 7:00 -03:00"], "%m/%d/%Y %H:%M", "2024-03-01 10:00"),
    (["01-03-2024 11:00 +01:00", "02-03-2024 11:00 +01:00"], "%d-%m-%Y %H:%M", "2024-03-01 10:00"),
    (["01-03-2024", "31-12-2024"], "%d-%m-%Y", "2024-03-01 00:00"),
])  # fmt: skip
def test_date_formats(values, fmt, expect):
    parsed, used = parse_dates(pd.Series(values), "auto", "UTC")
    assert used == fmt
    assert parsed.iloc[0] == pd.Timestamp(expect)
    assert parsed.notna().all()


def test_bad_rows_are_counted_by_reason_and_skipped(tmp_path):
    rows = [good_row(i) for i in range(40)]
    rows[3] = "3,not a date,2024-03-01 11:00,2024-03-01 18:00,2024-03-04 12:00,2024-03-06,delivered\n"
    rows[5] = "5,2024-03-05 10:00,2024-03-05 11:00,2024-03-05 08:00,2024-03-08 12:00,2024-03-10,delivered\n"
    rows[7] = "7,2024-03-07 10:00,2024-03-07 11:00,,,2024-03-12,canceled\n"
    rows[9] = "9,2024-03-09 10:00,2024-03-09 11:00,2024-03-09 18:00,31/31/2024 x,2024-03-14,delivered\n"
    h = load_orders(write(tmp_path, HEADER + "".join(rows)), settings())
    counts = dict(h.issues.counts)
    assert counts == {
        "purchase: unparseable date": 1,
        "negative duration: carrier handoff before approval": 1,
        "not delivered (status 'canceled')": 1,
        "delivery: unparseable date": 1,
    }
    assert h.issues.first_line["purchase: unparseable date"] == 5  # header is line 1
    assert h.issues.first_line["negative duration: carrier handoff before approval"] == 7
    assert int(h.orders["complete"].sum()) == 36
    assert len(h.orders) == 39  # the canceled order still counts for arrivals


@pytest.mark.parametrize("content, extra, message", [
    (b"", [], "empty"),
    (HEADER.encode(), [], "no data rows"),
    ((HEADER + good_row(1)).replace("bought", "bougth").encode(), [], "did you mean 'bougth'"),
    ((HEADER + good_row(1) + "2,café\xe9,x\n").encode("latin-1"), [], "line 3"),
    ((HEADER + "1,yesterday,x,y,z,w,delivered\n").encode(), [], "first offending line 2: 'yesterday'"),
    ((HEADER + good_row(1)).encode(), ["date_format=%d.%m.%Y"], "no value parses"),
])  # fmt: skip
def test_unusable_files_raise_a_clear_error(tmp_path, content, extra, message):
    with pytest.raises(DataError, match=message):
        load_orders(write(tmp_path, content), settings(*extra))


def test_latin1_file_loads_with_encoding_setting(tmp_path):
    text = HEADER + "".join(good_row(i) for i in range(3))
    text = text.replace("delivered\n", "delivered\n", 1).replace("id,", "id,", 1)
    p = write(tmp_path, (text.replace("1,2024", "1é,2024", 1)).encode("latin-1"))
    with pytest.raises(DataError, match="encoding=latin-1"):
        load_orders(p, settings())
    h = load_orders(p, settings("encoding=latin-1"))
    assert "1é" in set(h.orders["order_id"])


def test_cli_reports_data_problems_without_traceback(tmp_path, capsys):
    p = write(tmp_path, (HEADER + good_row(1)).replace("bought", "created"))
    code = main([str(p), *COLS, "--out", str(tmp_path / "out"), "--config-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "exsim-calibrate: error:" in err and "'bought'" in err and "Traceback" not in err
    assert main([str(tmp_path / "missing.csv"), *COLS]) == 2
    assert main([str(p), "--preset", "no_such_preset"]) == 2


def md_row(i: int, promise_day: int) -> str:
    d = 1 + i % 9
    return (f"{i},3/{d}/2024 10:00,3/{d}/2024 11:00,3/{d}/2024 18:00,3/{d + 2}/2024 12:00,"
            f"3/{promise_day}/2024,delivered\n")


def test_day_month_order_from_the_other_columns_or_a_clear_error(tmp_path):
    # every purchase..delivery date reads both ways; the promise (3/25) settles it: m/d
    rows = [md_row(i, 25) for i in range(40)]
    h = load_orders(write(tmp_path, HEADER + "".join(rows)), settings())
    assert set(h.formats.values()) == {"%m/%d/%Y %H:%M", "%m/%d/%Y"}
    assert h.orders["purchase"].dt.month.eq(3).all() and not h.issues.counts
    # nothing settles it: refuse to guess
    rows = [md_row(i, 12) for i in range(40)]
    with pytest.raises(DataError, match="read both as month/day and day/month"):
        load_orders(write(tmp_path, HEADER + "".join(rows)), settings())
    # a column that mixes both orders in earnest (3/21 and 21/3): the rows that read both
    # ways (3/4) cannot be told apart and are skipped with the contradicting ones
    rows = [md_row(i, 25) for i in range(40)]
    rows += [f"{i},3/20/2024 10:00,3/21/2024 11:00,3/21/2024 18:00,3/23/2024 12:00,3/25/2024,"
             "delivered\n" for i in range(40, 45)]
    rows += [f"{i},3/20/2024 10:00,21/3/2024 11:00,3/21/2024 18:00,3/23/2024 12:00,3/25/2024,"
             "delivered\n" for i in range(45, 50)]
    h = load_orders(write(tmp_path, HEADER + "".join(rows)), settings())
    reason = "approval: ambiguous day/month date (the column mixes m/d and d/m)"
    assert h.issues.counts[reason] == 5 + sum(1 + i % 9 != 3 for i in range(40))
    assert h.issues.first_line[reason] == 2
