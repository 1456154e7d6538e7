"""Reports as text for a terminal (values as they are) and as CSV (cells a spreadsheet would run are defused)."""
from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from engine.reports.builders import Report, Table
from engine.reports.render import text_lines, write_csv


def _report() -> Report:
    zone = ZoneInfo("Asia/Shanghai")
    table = Table("by_disposition", ["campaign", "disposition", "calls"],
                  [{"campaign": "spring", "disposition": "-", "calls": 3},
                   {"campaign": "=HYPERLINK(\"x\")", "disposition": "sale", "calls": -1}])
    start = dt.datetime(2026, 12, 1, tzinfo=zone)
    return Report("campaigns", start, start + dt.timedelta(days=1), zone, [table], ["check: 3 = 3"])


def test_text_shows_values_as_they_are_and_csv_defuses_formulas() -> None:
    text = "\n".join(text_lines(_report()))
    assert "spring" in text and " - " in text and "'-" not in text and "=HYPERLINK" in text
    out = io.StringIO()
    write_csv(_report(), out)
    rows = out.getvalue().splitlines()
    assert 'by_disposition,"\'=HYPERLINK(""x"")",sale,-1' in rows  # the number stays a number
    assert "by_disposition,spring,'-,3" in rows
