"""Screening on the real Olist sample with planted problems: each bad row is counted under
its reason with its first line and skipped, never aborting or skewing the fit; unusable
inputs (a directory, an unknown time zone, a wrong delimiter) are clear errors, exit 2.
The bad files are written to a temporary folder from the shared file, never committed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.calibrate import DataError, load_settings
from sim.calibrate.cli import main
from sim.calibrate.estimate import estimate_orders
from sim.calibrate.fit import fit_duration
from sim.calibrate.load import load_orders

DATA_DIR = Path(os.environ.get("EXSIM_DATA_DIR",
                               Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
OLIST = DATA_DIR / "olist_orders_5k.csv"
FIELDS = {"purchase": 3, "approval": 4, "handoff": 5, "delivery": 6, "promise": 7}


def lines() -> list[str]:
    assert OLIST.exists(), f"shared data missing: {OLIST}"
    return OLIST.read_text().splitlines(keepends=True)


def with_field(line: str, field: str, value: str) -> str:
    cells = line.rstrip("\n").split(",")
    cells[FIELDS[field]] = value
    return ",".join(cells) + "\n"


@pytest.fixture(scope="module")
def clean():
    s = load_settings("olist")
    h = load_orders(OLIST, s)
    return s, h, estimate_orders(h.orders)


@pytest.fixture(scope="module")
def planted(tmp_path_factory, clean):
    """One file with a row of each kind; 0-based data row i sits on file line i + 2."""
    rows = lines()
    rows[11] = with_field(rows[11], "promise", "1/2/2017 0:00")  # line 12: purchased 2017-2018
    rows[21] = with_field(rows[21], "purchase", "1/1/1970 10:00")  # line 22
    rows[31] = with_field(rows[31], "delivery", "1/1/2250 10:00")  # line 32
    # line 42: a d/m date in an m/d column (day 25 cannot be a month)
    rows[41] = with_field(rows[41], "approval", "25/12/2017 10:00")
    path = tmp_path_factory.mktemp("bad") / "planted.csv"
    path.write_text("".join(rows))
    s, _, _ = clean
    return load_orders(path, s)


@pytest.mark.parametrize("reason, line", [
    ("promise before purchase", 12),
    ("purchase: outside the file's span", 22),
    ("delivery: outside the file's span", 32),
    ("approval: ambiguous day/month date", 42),
])  # fmt: skip
def test_planted_rows_are_counted_with_their_first_line(planted, reason, line):
    hits = {r: (n, first) for r, n, first in planted.issues.table() if r.startswith(reason)}
    assert len(hits) == 1, planted.issues.table()
    ((n, first),) = hits.values()
    assert (n, first) == (1, line)


def test_planted_rows_do_not_skew_the_fit(clean, planted):
    _, h, est = clean
    bad = estimate_orders(planted.orders)
    # one 1970 purchase would stretch the span to 48 years: orders/day stay put
    assert bad.per_day == pytest.approx(est.per_day, rel=0.01)
    assert int(planted.orders["complete"].sum()) == int(h.orders["complete"].sum()) - 4
    # one delivery in 2250 would change the transit family: it stays
    a = fit_duration("transit", est.durations["transit"], ["lognormal", "gamma", "weibull"], 0)
    b = fit_duration("transit", bad.durations["transit"], ["lognormal", "gamma", "weibull"], 0)
    assert a.best.family == b.best.family
    assert b.best.median == pytest.approx(a.best.median, rel=0.01)


def test_duplicated_file_does_not_double_volume(tmp_path, clean):
    s, h, est = clean
    rows = lines()
    path = tmp_path / "twice.csv"
    path.write_text("".join(rows + rows[1:]))
    dup = load_orders(path, s)
    assert dup.issues.counts["duplicate order id (the first kept)"] == h.n_rows
    assert dup.issues.first_line["duplicate order id (the first kept)"] == h.n_rows + 2
    assert estimate_orders(dup.orders).per_day == pytest.approx(est.per_day)


def test_unusable_inputs_are_clear_errors(tmp_path, capsys):
    rows = lines()
    semi = tmp_path / "semicolon.csv"
    semi.write_text("".join(r.replace(",", ";") for r in rows[:50]))
    cases = [
        ([str(tmp_path), "--preset", "olist"], "is a directory"),
        ([str(OLIST), "--preset", "olist", "timezone=Mars/Base"], "'Mars/Base': not a known"),
        ([str(semi), "--preset", "olist"], "delimiter=';'"),
    ]
    for argv, message in cases:
        assert main([*argv, "--out", str(tmp_path / "o"), "--config-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    h = load_orders(semi, load_settings("olist", ["delimiter=;"]))
    assert h.n_rows == 49


def test_missing_handoff_column_does_not_suggest_the_delivery_column(tmp_path):
    rows = lines()
    path = tmp_path / "no_handoff.csv"
    path.write_text("".join(r.replace("order_delivered_carrier_date", "carrier") for r in rows[:40]))
    with pytest.raises(DataError) as err:
        load_orders(path, load_settings("olist"))
    msg = str(err.value)
    assert "'order_delivered_carrier_date' (columns.handoff) is not in the file" in msg
    assert "did you mean 'order_delivered_customer_date'" not in msg
