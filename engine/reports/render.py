"""Reports as text tables (with a heat-map grid for `hourly`) and as CSV."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any

from engine.reports.builders import Report, Table

NUMERIC = re.compile(r"[+-]?\d+(\.\d+)?")
SHADES = " .:-=+*#%@"  # light to heavy, for the heat map


def cell(value: Any) -> str:
    """A text-table cell (a terminal runs nothing: values are shown as they are; CSV goes through CsvExport)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def write_csv(report: Report, out: IO[str]) -> None:
    """Each table: a header row (first column `section`) and its rows; a blank line between tables; then the
    footer lines as a `footer` section so the reconciliation travels with the data. Written by the store's
    safe CSV writer (engine.store.csvexport: cells a spreadsheet would run as formulas are defused)."""
    from engine.store.csvexport import CsvExport

    writer = CsvExport(out)
    for index, table in enumerate(report.tables):
        if index:
            writer.writerow([])
        writer.writerow(["section", *table.columns])
        for row in table.rows:
            writer.writerow([table.name, *(_csv_value(row.get(c)) for c in table.columns)])
    writer.writerow([])
    writer.writerow(["section", "check"])
    for line in report.footer:
        writer.writerow(["footer", line])


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def text_lines(report: Report) -> Iterable[str]:
    zone = getattr(report.zone, "key", str(report.zone))
    yield (f"{report.name} report, {report.since.astimezone(report.zone):%Y-%m-%d %H:%M} to "
           f"{report.until.astimezone(report.zone):%Y-%m-%d %H:%M} ({zone})")
    if report.name == "hourly":
        yield from _heat_map(report.table("hourly"))
    for table in report.tables:
        yield ""
        yield f"[{table.name}]"
        yield from _table(table)
    yield ""
    for line in report.footer:
        yield f"check: {line}"


def _table(table: Table) -> Iterable[str]:
    cells = [[cell(r.get(c)) or ("-" if r.get(c) is None else "") for c in table.columns] for r in table.rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(table.columns)]
    yield "  ".join(c.ljust(w) for c, w in zip(table.columns, widths)).rstrip()
    for row in cells:
        yield "  ".join(v.rjust(w) if NUMERIC.fullmatch(v) else v.ljust(w) for v, w in zip(row, widths)).rstrip()
    if not cells:
        yield "(no rows)"


def _heat_map(table: Table) -> Iterable[str]:
    """Day × hour grid of arrivals, one shade per cell; `!` marks the day's peak hour, `#` the period's."""
    grid: dict[str, dict[int, tuple[int, str]]] = {}
    for r in table.rows:
        grid.setdefault(r["day"], {})[int(r["hour"])] = (int(r["arrived"]), r["peak"])
    top = max((n for hours in grid.values() for n, _ in hours.values()), default=0)
    yield ""
    yield "heat map (arrived per hour; '!' day's peak, '#' period's peak)"
    yield "day         " + "".join(f"{h:>3}" for h in range(24))
    for day in sorted(grid):
        line = []
        for hour in range(24):
            n, peak = grid[day].get(hour, (0, ""))
            shade = SHADES[min(len(SHADES) - 1, (n * (len(SHADES) - 1) + top - 1) // top)] if top and n else " "
            mark = "#" if peak == "period" else "!" if peak == "day" else " "
            line.append(f" {shade}{mark}")
        yield f"{day}  " + "".join(line)
