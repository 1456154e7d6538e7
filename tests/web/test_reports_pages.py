"""The report pages in headless Chromium over the scripted simulator day (tests/reports/test_sim_day.py): every
figure and check a supervisor sees equals `jinqiao report NAME --csv` on the same store, the CSV download is
that CSV byte for byte, an agent sees only their own agent row (403 elsewhere), and a bad date is a 400
naming the field."""
from __future__ import annotations

import csv
import io
import json

import gevent
import pytest
from click.testing import CliRunner
from gevent.pywsgi import WSGIServer

from engine.acd.bus import Bus
from engine.cli import AppContext, main
from engine.reports import builders
from engine.store.database import open_store
from engine.store.repos.users import UserRepository
from engine.web.app import WebServices, create_app
from engine.web.console import Console
from engine.web.push import PushHub
from tests.reports.test_sim_day import ZONE, day  # noqa: F401  (the scripted day, a module fixture)
from tests.web.browser import Browser, require_browser

pytestmark = pytest.mark.timeout(300)
SUPERVISOR, AGENT, PASSWORD = "sup1", "2001", "report-pass-1"


@pytest.fixture(scope="module")
def site(day):  # noqa: F811
    """The web app (as `jinqiao serve` builds it, without an ACD) over the day's store, on a loopback port."""
    require_browser()
    url, since, until, config = day
    store = open_store(url)
    users = UserRepository(store)
    users.add(SUPERVISOR, PASSWORD, role="supervisor", language="en")
    users.add(AGENT, PASSWORD, role="agent", language="zh")
    console = Console(None, store, Bus(), zone=ZONE)
    hub = PushHub(heartbeat=0.5)  # sign-in lands on the wallboard/console, whose push streams end soon after
    app = create_app(WebServices(console=console, users=users, hub=hub), config.web, b"k" * 32)
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    first, last = since.astimezone(ZONE).date().isoformat(), until.astimezone(ZONE).date().isoformat()
    yield f"http://127.0.0.1:{server.server_port}", first, last, config
    for _ in range(100):  # the browsers are closed: let their push streams notice before the store goes
        if hub.count == 0:
            break
        gevent.sleep(0.1)
    server.stop(timeout=1)
    console.close()
    store.dispose()


@pytest.fixture(scope="module")
def supervisor(site):
    b = Browser(site[0], language="en-US")
    b.sign_in(SUPERVISOR, PASSWORD)
    yield b
    b.close()


def _cli_csv(config, name: str, first: str, last: str) -> str:
    result = CliRunner().invoke(main, ["report", name, "--from", first, "--to", last, "--csv"],
                                obj=AppContext(_config=config))
    assert result.exit_code == 0, result.output
    return result.stdout_bytes.decode("utf-8")  # as written (.output turns CSV's CRLF into LF)


def _sections(text: str) -> tuple[dict[str, list[dict[str, str]]], list[str]]:
    """The CLI's CSV as {table: [row as {column: cell}]} and the footer lines."""
    tables: dict[str, list[dict[str, str]]] = {}
    footer, header = [], None
    for row in csv.reader(io.StringIO(text)):
        if not row:
            header = None
        elif header is None:
            header = row
        elif row[0] == "footer":
            footer.append(row[1])
        else:
            tables.setdefault(row[0], []).append(dict(zip(header[1:], row[1:])))
    return tables, footer


READ_PAGE = """
return Array.from(document.querySelectorAll('table.report')).map(function (t) {
  var cols = Array.from(t.querySelectorAll('thead th')).map(function (th) { return th.dataset.col; });
  return [t.dataset.table, Array.from(t.querySelectorAll('tbody tr')).filter(function (tr) {
    return !tr.querySelector('td.empty'); }).map(function (tr) {
      var row = {}; Array.from(tr.children).forEach(function (td, i) {
        row[cols[i]] = td.textContent.trim() === '—' ? '' : td.textContent.trim(); });
      return row; })];
});
"""
FETCH = """
var done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: 'same-origin'}).then(function (r) {
  return r.text().then(function (body) { done([r.status, r.headers.get('Content-Type'), body]); }); });
"""


def _fetch(browser: Browser, path: str) -> tuple[int, str, str]:
    return browser.driver.execute_async_script(FETCH, path)


@pytest.mark.parametrize("name", list(builders.REPORTS))
def test_supervisor_sees_the_cli_figures_and_downloads_the_cli_csv(site, supervisor, name) -> None:
    base, first, last, config = site
    # Given the CLI's report of the scripted day
    expected_csv = _cli_csv(config, name, first, last)
    tables, footer = _sections(expected_csv)
    # When the supervisor opens the page for the same days
    supervisor.open(f"/reports/{name}?from={first}&to={last}")
    assert supervisor.wait(lambda: supervisor.driver.find_elements("css selector", "table.report"))
    # Then every table shows exactly the CLI's rows and cells, and the checks are the CLI's footer
    shown = {table: rows for table, rows in supervisor.js(READ_PAGE)}
    assert set(tables) <= set(shown)
    for table, rows in shown.items():  # (a table with no rows has only its header row in the CSV)
        assert rows == tables.get(table, []), (name, table)
    assert sum(len(rows) for rows in tables.values()) > 0, name  # the scripted day fills every report
    assert [li.text for li in supervisor.driver.find_elements("css selector", "#checks li")] == footer
    # ... the period pickers hold the days, and a chart was drawn
    assert supervisor.js("return [document.getElementById('from').value, document.getElementById('to').value]") \
        == [first, last]
    assert supervisor.wait(lambda: supervisor.driver.find_elements("css selector", "#report-chart canvas"))
    # And the CSV link downloads exactly the CLI's CSV
    link = supervisor.driver.find_element("id", "csv").get_attribute("href")
    status, kind, body = _fetch(supervisor, link)
    assert status == 200 and kind.startswith("text/csv")
    assert body == expected_csv
    supervisor.screenshot(f"report-{name}")


def test_hourly_heat_map_cells_are_the_report_cells_with_peaks_marked(site, supervisor) -> None:
    base, first, last, config = site
    tables, _ = _sections(_cli_csv(config, "hourly", first, last))
    supervisor.open(f"/reports/hourly?from={first}&to={last}")
    cells = supervisor.js("return Array.from(document.querySelectorAll('#heat td[data-arrived]')).map(function (td) {"
                          "return [td.parentNode.dataset.day, td.dataset.hour, td.dataset.arrived, td.className]; })")
    expected = [[r["day"], r["hour"], r["arrived"], f"peak-{r['peak']}" if r["peak"] else ""]
                for r in tables["hourly"]]
    assert sorted(cells) == sorted(expected)
    assert [c[3] for c in cells].count("peak-period") == 1


def test_agent_sees_only_their_own_row_and_no_other_report(site) -> None:
    base, first, last, config = site
    tables, _ = _sections(_cli_csv(config, "agents", first, last))
    b = Browser(base, language="zh-CN")
    try:
        b.sign_in(AGENT, PASSWORD)
        b.open(f"/reports/agents?from={first}&to={last}")
        shown = dict(b.js(READ_PAGE))
        assert shown["agents"] == [r for r in tables["agents"] if r["agent"] == AGENT]
        assert len(tables["agents"]) > 1  # the floor has other agents the agent does not see
        assert b.driver.find_elements("css selector", "#checks") == []  # no floor totals
        assert "报表" in b.text("header nav")
        b.screenshot("report-agents-own-row-zh")
        status, _, body = _fetch(b, f"/reports/agents.csv?from={first}&to={last}")
        own_tables, _ = _sections(body)
        assert status == 200 and [r["agent"] for r in own_tables["agents"]] == [AGENT]
        for other in ("queues", "campaigns", "hourly", "ivr-funnel", "csat"):
            assert _fetch(b, f"/reports/{other}?from={first}&to={last}")[0] == 403, other
            assert _fetch(b, f"/reports/{other}.csv?from={first}&to={last}")[0] == 403, other
    finally:
        b.close()


def test_a_bad_date_is_a_400_naming_the_field(site, supervisor) -> None:
    supervisor.open("/reports/queues")
    for query, field in (("from=yesterday", "from"), ("from=2026-11-25&to=2026-11-01", "to"),
                         ("from=2020-01-01&to=2026-01-01", "to")):
        status, _, body = _fetch(supervisor, f"/reports/queues?{query}")
        assert status == 400 and json.loads(body)["field"] == field, query
    assert _fetch(supervisor, "/reports/nonesuch")[0] == 404
