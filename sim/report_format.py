"""Units, plain number formats and a tiny document model for ``exsim-report``.

A report is a list of blocks (heading, paragraph, list, table, image) rendered twice: as
Markdown (``report.md``) and as one self-contained HTML file (``report.html``, images
embedded as base64), so both always say the same thing.
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field

# KPI -> (what it is, unit).  Unknown KPIs get a unit from their name (see ``unit_of``).
KPI_LABELS = {
    "cost_per_order": "total cost per order", "stars_mean": "expected stars",
    "detractor_share": "detractor share (1-2 stars)", "alerts_per_day": "alerts per day",
    "proactive_catch_share": "proactive-catch share", "case_wait_hours": "case wait",
    "on_time_share": "on-time share", "contacts_per_order": "contacts per order",
    "team_utilisation": "team utilisation", "cases_per_day": "cases per day",
    "cases_backlogged_share": "cases backlogged at the end", "orders": "orders",
    "detection_latency_hours": "detection latency", "repurchase_prob": "repurchase probability",
}  # fmt: skip
SHARES = ("_share", "precision", "recall", "repurchase_prob", "team_utilisation",
          "lost_caught_before_contact")  # fmt: skip
# KPIs where less is better (for "better is this way" and the best sets); others: more is.
LOWER_IS_BETTER = ("cost_", "detractor_share", "case_wait_hours", "contacts_per_order",
                   "cases_backlogged_share", "detection_latency_hours", "duplicates_per_1000")
NO_DIRECTION = ("alerts_per_day", "cases_per_day", "orders", "team_utilisation",
                "reships_per_1000", "cases_per_day")  # fmt: skip


def unit_of(kpi: str) -> str:
    """The unit of a KPI, from its name: USD, %, h, /day, stars, /1,000 orders or ''."""
    if kpi.startswith("cost_"):
        return "USD"
    if kpi.endswith(SHARES) or kpi in SHARES:
        return "%"
    if kpi.endswith("_hours"):
        return "h"
    if kpi.endswith("_per_day"):
        return "/day"
    if kpi.endswith("_per_1000"):
        return "/1,000 orders"
    if kpi == "stars_mean":
        return "stars"
    return ""


def direction(kpi: str) -> str | None:
    """'lower' or 'higher' is better, or None where neither is (alerts per day...)."""
    if kpi in NO_DIRECTION:
        return None
    if kpi.startswith(LOWER_IS_BETTER) or kpi in LOWER_IS_BETTER:
        return "lower"
    return "higher"


def axis_label(kpi: str) -> str:
    unit = unit_of(kpi)
    name = KPI_LABELS.get(kpi, kpi.replace("_", " "))
    return f"{name} ({unit})" if unit and unit not in name else name


def plain(v: float, digits: int = 3) -> str:
    """A number as a planner writes it: thousands separators, about ``digits`` significant
    digits, never scientific notation (0.000123 -> '0.000123', 12345.6 -> '12,346')."""
    if v is None or not math.isfinite(v):
        return "n/a"
    if v == 0:
        return "0"
    dec = max(0, min(8, digits - 1 - math.floor(math.log10(abs(v)))))
    return f"{v:,.{dec}f}"


def fmt_kpi(kpi: str, v: float, signed: bool = False) -> str:
    """A KPI value with its unit: '$3.07', '95.6 %', '5.2 h', '1,234 /day', '4.51 stars'."""
    if v is None or not math.isfinite(v):
        return "n/a"
    unit = unit_of(kpi)
    sign = "+" if signed and v > 0 else ("-" if v < 0 else "")
    a = abs(v)
    if unit == "USD":
        return f"{sign}${plain(a)}"
    if unit == "%":
        return f"{sign}{plain(100 * a)} %"
    return f"{sign}{plain(a)} {unit}".rstrip()


def fmt_interval(kpi: str, lo: float, hi: float, signed: bool = False) -> str:
    """'[$9.55, $11.0]', '[4.07, 4.13] stars', '[-1.64, +2.18] %' (the unit once)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "no interval"
    unit = unit_of(kpi)
    if unit == "USD":
        return f"[{fmt_kpi(kpi, lo, signed)}, {fmt_kpi(kpi, hi, signed)}]"
    scale = 100 if unit == "%" else 1

    def num(v: float) -> str:
        return ("+" if signed and v > 0 else "") + plain(scale * v)

    return f"[{num(lo)}, {num(hi)}] {unit}".rstrip()


# --------------------------------------------------------------------------- documents
@dataclass
class Doc:
    """Blocks: ("h1"|"h2"|"p", text), ("ul", [text]), ("table", header, rows),
    ("img", file name, caption).  Text may use **bold**, `code` and _emphasis_."""

    title: str
    blocks: list[tuple] = field(default_factory=list)

    def h2(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def ul(self, items: list[str]) -> None:
        if items:
            self.blocks.append(("ul", list(items)))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("table", list(header), [list(r) for r in rows]))

    def img(self, name: str, caption: str) -> None:
        self.blocks.append(("img", name, caption))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            kind = b[0]
            if kind == "h2":
                out += [f"## {b[1]}", ""]
            elif kind == "p":
                out += [b[1], ""]
            elif kind == "ul":
                out += [f"- {t}" for t in b[1]] + [""]
            elif kind == "table":
                out += ["| " + " | ".join(b[1]) + " |", "|" + "---|" * len(b[1])]
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in b[2]]
                out.append("")
            elif kind == "img":
                out += [f"![{b[1]}]({b[1]})", "", f"_{b[2]}_", ""]
        return "\n".join(out).rstrip() + "\n"

    def html(self, images: dict[str, bytes]) -> str:
        """One self-contained page: images inlined as base64 PNG, no external files."""
        body = [f"<h1>{_inline(self.title)}</h1>"]
        for b in self.blocks:
            kind = b[0]
            if kind in ("h2", "p"):
                body.append(f"<{kind}>{_inline(b[1])}</{kind}>")
            elif kind == "ul":
                body.append("<ul>" + "".join(f"<li>{_inline(t)}</li>" for t in b[1]) + "</ul>")
            elif kind == "table":
                head = "".join(f"<th>{_inline(h)}</th>" for h in b[1])
                rows = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>"
                               for r in b[2])  # fmt: skip
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif kind == "img":
                data = base64.b64encode(images[b[1]]).decode("ascii")
                body.append(f'<figure><img alt="{html.escape(b[2])}" '
                            f'src="data:image/png;base64,{data}"><figcaption>'
                            f"{_inline(b[2])}</figcaption></figure>")  # fmt: skip
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>"
                "<body>\n" + "\n".join(body) + "\n</body></html>\n")  # fmt: skip


_CSS = ("body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
        "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}figure{margin:1.5em 0}figcaption{font-size:.85em;color:#555}"
        "code{background:#f3f3f3;padding:0 .2em}")  # fmt: skip


def _inline(text: str) -> str:
    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    t = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", t)
    return re.sub(r"(?<![\w])_([^_]+)_(?![\w])", r"<em>\1</em>", t)
