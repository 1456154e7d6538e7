"""Report pages: each `jinqiao report` as a web page (period pickers, table, chart, checks) and its CSV download."""
from __future__ import annotations

import datetime as dt
import io
import logging
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, redirect, render_template, request, url_for

from engine.reports import builders
from engine.reports.render import NUMERIC as NUMBER
from engine.reports.render import cell, write_csv
from engine.web.app import WebServices, require

log = logging.getLogger(__name__)
reports_pages = Blueprint("reports", __name__)
MAX_DAYS = 366  # one request reads at most a year

TITLES = {
    "agents": {"zh": "坐席绩效", "en": "Agent performance"},
    "queues": {"zh": "队列服务水平", "en": "Queues: service level"},
    "campaigns": {"zh": "外呼活动", "en": "Campaigns"},
    "hourly": {"zh": "话务热力图", "en": "Hourly traffic"},
    "ivr-funnel": {"zh": "IVR 漏斗", "en": "IVR funnel"},
    "csat": {"zh": "满意度", "en": "Satisfaction"},
}
TEXTS = {
    "reports": {"zh": "报表", "en": "Reports"},
    "my_figures": {"zh": "我的业绩", "en": "My figures"},
    "from": {"zh": "开始日期", "en": "From"},
    "to": {"zh": "结束日期（含）", "en": "To (inclusive)"},
    "show": {"zh": "查询", "en": "Show"},
    "download_csv": {"zh": "下载 CSV", "en": "Download CSV"},
    "checks": {"zh": "核对", "en": "Checks"},
    "no_rows": {"zh": "此期间没有数据", "en": "No data in this period"},
    "zone": {"zh": "时区", "en": "Time zone"},
    "heat_map": {"zh": "每日每小时来电", "en": "Calls arrived per day and hour"},
    "peak_day": {"zh": "当日高峰", "en": "day's peak"},
    "peak_period": {"zh": "期间最高峰", "en": "period's peak"},
    "own_row": {"zh": "仅显示您本人的数据。", "en": "Only your own figures are shown."},
    "day": {"zh": "日期", "en": "Day"},
    "chart_agents": {"zh": "坐席时间分布（秒）", "en": "Agent time by state (seconds)"},
    "chart_queues": {"zh": "各队列来电去向", "en": "What happened to offered calls, per queue"},
    "chart_campaigns": {"zh": "外呼结果", "en": "Dial attempts by result"},
    "chart_hourly": {"zh": "每小时来电", "en": "Calls arrived per hour"},
    "chart_ivr-funnel": {"zh": "各节点到达的呼叫", "en": "Calls that reached each node"},
    "chart_csat": {"zh": "评分分布", "en": "Scores given, per queue"},
    "connected_other": {"zh": "接通（未成交）", "en": "Connected, no success"},
    "no_contact": {"zh": "未接通", "en": "No contact"},
}
COLUMNS = {  # column headings; a column not listed shows its CSV name
    "agent": ("坐席", "Agent"), "calls": ("通话", "Calls"), "inbound": ("呼入", "Inbound"),
    "outbound": ("呼出", "Outbound"), "talk_s": ("通话秒", "Talk s"), "hold_s": ("保持秒", "Hold s"),
    "wrap_up_s": ("话后秒", "Wrap-up s"), "aht_s": ("平均处理秒", "AHT s"), "logged_in_s": ("签入秒", "Logged in s"),
    "available_s": ("空闲秒", "Available s"), "on_call_s": ("通话状态秒", "On call s"),
    "wrap_up_state_s": ("话后状态秒", "Wrap-up state s"), "not_ready_s": ("未就绪秒", "Not ready s"),
    "occupancy_pct": ("占用率 %", "Occupancy %"), "utilisation_pct": ("利用率 %", "Utilisation %"),
    "conversions": ("成交", "Conversions"), "fcr_pct": ("首次解决率 %", "FCR %"),
    "queue": ("队列", "Queue"), "offered": ("进线", "Offered"), "answered": ("接听", "Answered"),
    "abandoned": ("放弃", "Abandoned"), "abandoned_excl_short": ("放弃（不含短放弃）", "Abandoned excl. short"),
    "overflowed": ("溢出", "Overflowed"), "in_progress": ("进行中", "In progress"), "sl_pct": ("服务水平 %", "SL %"),
    "sl_excl_short_pct": ("服务水平（不含短放弃）%", "SL excl. short %"), "asa_s": ("平均应答秒", "ASA s"),
    "abandon_pct": ("放弃率 %", "Abandon %"), "abandon_excl_short_pct": ("放弃率（不含短放弃）%", "Abandon excl. short %"),
    "campaign": ("活动", "Campaign"), "attempts": ("拨打", "Attempts"), "live_answers": ("真人接听", "Live answers"),
    "connected": ("接通坐席", "Connected"), "right_party": ("本人接听", "Right party"), "successes": ("成功", "Successes"),
    "contact_pct": ("接触率 %", "Contact %"), "rpc_pct": ("本人接触率 %", "RPC %"),
    "conversion_pct": ("转化率 %", "Conversion %"), "worst_day_abandon_pct": ("最差日放弃率 %", "Worst day abandon %"),
    "abandon_30d_pct": ("30 天放弃率 %", "30-day abandon %"), "disposition": ("处理结果", "Disposition"),
    "success": ("成功", "Success"), "share_pct": ("占比 %", "Share %"), "day": ("日期", "Day"), "hour": ("小时", "Hour"),
    "arrived": ("来电", "Arrived"), "peak": ("高峰", "Peak"), "flow": ("流程", "Flow"), "entered": ("进入", "Entered"),
    "contained": ("自助完成", "Contained"), "hung_up": ("IVR 挂机", "Hung up"), "to_queue": ("转队列", "To a queue"),
    "transferred": ("转接", "Transferred"), "containment_pct": ("自助率 %", "Containment %"),
    "node": ("节点", "Node"), "reached": ("到达", "Reached"), "reached_pct": ("到达 %", "Reached %"),
    "left_hung_up": ("在此挂机", "Hung up here"), "left_contained": ("在此完成", "Finished here"),
    "left_to_queue": ("在此转队列", "Queued here"), "left_transferred": ("在此转接", "Transferred here"),
    **{f"s{i}": (f"{i} 分", f"Score {i}") for i in range(1, 6)},
    "answers": ("评价数", "Answers"), "average": ("平均分", "Average"), "top2_pct": ("满意（4-5 分）%", "Top-2-box %"),
}
TABLE_TITLES = {
    "by_disposition": ("按处理结果", "By disposition"), "by_agent": ("按坐席", "By agent"),
    "by_queue": ("按队列", "By queue"), "flows": ("流程", "Flows"), "nodes": ("节点", "Nodes"),
}


def _services() -> WebServices:
    return current_app.extensions["jinqiao"]


def text(key: str) -> str:
    """This module's page texts in the user's language (zh/en)."""
    entry = TEXTS.get(key) or TITLES.get(key)
    return entry[g.lang] if entry else g.t(key)


def column_title(name: str) -> str:
    if name.startswith("not_ready:") and name.endswith("_s"):
        reason = name[len("not_ready:"):-2]
        label = g.t(f"rs_{reason}")
        label = reason if label == f"rs_{reason}" else label
        return f"{g.t('st_not-ready')} · {label} " + ("秒" if g.lang == "zh" else "s")
    pair = COLUMNS.get(name)
    return name if pair is None else pair[0 if g.lang == "zh" else 1]


def table_title(name: str) -> str:
    pair = TABLE_TITLES.get(name)
    return pair[0 if g.lang == "zh" else 1] if pair else text(name)


class PeriodError(ValueError):
    """A bad `from`/`to` query field; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def period(args: Any, zone: Any, today: dt.date) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
    """The report's local days first..last (default: today) and their [since, until) in UTC, as the CLI's
    `--from FIRST --to LAST` reads them (a bare end date includes that whole day)."""
    values = []
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        if not raw:
            values.append(None)
            continue
        try:
            if len(raw) != 10:
                raise ValueError(raw)
            values.append(dt.date.fromisoformat(raw))
        except ValueError:
            raise PeriodError(name, f"expected a date like 2026-11-25, got {raw[:40]!r}") from None
    first = values[0] or today
    last = values[1] or first
    if last < first:
        raise PeriodError("to", "must not be before from")
    if (last - first).days >= MAX_DAYS:
        raise PeriodError("to", f"at most {MAX_DAYS} days per report")
    since = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.timezone.utc)
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.timezone.utc)
    return first, last, since, until


def _viewer(name: str) -> str | None:
    """Who may read the report: supervisors and admins everything; an agent only their own row of `agents`
    (returns that agent id); anyone else 403."""
    if name not in builders.REPORTS:
        abort(404)
    user = require("agent", "supervisor")
    if user.role == "agent":
        if name != "agents" or not user.agent_id:
            abort(403)
        return user.agent_id
    return None


def _build(name: str, own: str | None) -> tuple[builders.Report, dt.date, dt.date]:
    console = _services().console
    zone = console.zone
    now = dt.datetime.now(dt.timezone.utc)
    first, last, since, until = period(request.args, zone, now.astimezone(zone).date())
    with console.store.connection() as conn:
        report = builders.REPORTS[name](conn, since, until, zone, now, builders.Settings())
    if own is not None:  # an agent's view: their own row, and no floor totals
        for table in report.tables:
            table.rows = [r for r in table.rows if str(r.get("agent")) == own]
        report.footer = []
    return report, first, last


def _period_error(exc: PeriodError) -> Any:
    return jsonify({"error": "bad_period", "field": exc.field, "message": str(exc)}), 400


@reports_pages.get("/reports")
def index() -> Any:
    user = require("agent", "supervisor")
    return redirect(url_for("reports.page", name="agents" if user.role == "agent" else "queues"))


@reports_pages.get("/reports/<name>")
def page(name: str) -> Any:
    own = _viewer(name)
    try:
        report, first, last = _build(name, own)
    except PeriodError as exc:
        return _period_error(exc)
    zone = _services().console.zone
    query = {"from": first.isoformat(), "to": last.isoformat()}
    tables = [_table(t) for t in report.tables]
    names = [n for n in builders.REPORTS if own is None or n == "agents"]
    return render_template("report_page.html", name=name, title=text(name), reports=[(n, text(n)) for n in names],
                           tables=tables, footer=report.footer, first=first.isoformat(), last=last.isoformat(),
                           zone=getattr(zone, "key", str(zone)), own=own, rt=text,
                           csv_url=url_for("reports.download", name=name, **query),
                           chart=chart(report, own), heat=heat_map(report) if name == "hourly" else None)


def _table(table: builders.Table) -> dict:
    """A table as the page shows it: cells as the CLI writes them; numeric columns marked to align right."""
    rows = [[(c, cell(r.get(c))) for c in table.columns] for r in table.rows]
    numeric = {c for i, c in enumerate(table.columns)
               if all(NUMBER.fullmatch(row[i][1]) for row in rows if row[i][1]) and rows}
    return {"name": table.name, "title": table_title(table.name), "numeric": numeric,
            "columns": [(c, column_title(c)) for c in table.columns], "rows": rows}


@reports_pages.get("/reports/<name>.csv")
def download(name: str) -> Any:
    own = _viewer(name)
    try:
        report, first, last = _build(name, own)
    except PeriodError as exc:
        return _period_error(exc)
    out = io.StringIO()
    write_csv(report, out)
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{first}-{last}.csv"'
    return response


# ----- charts: what reports.js draws (series of numbers; labels are text) ------------------------------------------
def _bars(labels: list[str], series: list[tuple[str, str, list[float]]], title: str) -> dict:
    return {"kind": "bars", "title": title, "labels": labels,
            "series": [{"label": label, "color": color, "values": values} for label, color, values in series]}


def chart(report: builders.Report, own: str | None) -> dict | None:
    """A stacked bar chart per report (the hourly report: arrivals per hour as a line)."""
    title = text(f"chart_{report.name}")
    if report.name == "agents":
        rows = report.table("agents").rows
        parts = [("on_call_s", "#1769aa"), ("wrap_up_state_s", "#0e9aa7"), ("available_s", "#1f9d55"),
                 ("not_ready_s", "#d98e04")]
        return _bars([str(r["agent"]) for r in rows],
                     [(column_title(c), color, [r.get(c) or 0 for r in rows]) for c, color in parts], title)
    if report.name == "queues":
        rows = [r for r in report.table("queues").rows if r["queue"] != "(all)"]
        parts = [("answered", "#1f9d55"), ("abandoned", "#d64545"), ("overflowed", "#d98e04"),
                 ("in_progress", "#9aa3b2")]
        return _bars([str(r["queue"]) for r in rows],
                     [(column_title(c), color, [r.get(c) or 0 for r in rows]) for c, color in parts], title)
    if report.name == "campaigns":
        rows = report.table("campaigns").rows
        return _bars([str(r["campaign"]) for r in rows], [
            (column_title("successes"), "#1f9d55", [r["successes"] for r in rows]),
            (text("connected_other"), "#1769aa", [r["connected"] - r["successes"] for r in rows]),
            (column_title("abandoned"), "#d64545", [r["abandoned"] for r in rows]),
            (text("no_contact"), "#9aa3b2", [r["attempts"] - r["connected"] - r["abandoned"] for r in rows]),
        ], title)
    if report.name == "hourly":
        rows = report.table("hourly").rows
        zone = report.zone
        points: dict[int, int] = {}
        for r in rows:
            at = dt.datetime.combine(dt.date.fromisoformat(r["day"]), dt.time(int(r["hour"])), zone)
            points[int(at.timestamp())] = int(r["arrived"])
        first, last = int(report.since.timestamp()) // 3600 * 3600, int(report.until.timestamp())
        xs = list(range(first, last, 3600))  # every hour of the period, quiet ones as 0
        return {"kind": "time", "title": title, "x": xs, "zone": getattr(zone, "key", str(zone)),
                "series": [{"label": column_title("arrived"), "color": "#1769aa",
                            "values": [points.get(x, 0) for x in xs]}]}
    if report.name == "ivr-funnel":
        rows = report.table("nodes").rows
        return _bars([f"{r['flow']} · {r['node']}" for r in rows],
                     [(column_title("reached"), "#1769aa", [r["reached"] for r in rows])], title)
    if report.name == "csat":
        rows = report.table("by_queue").rows
        colors = ["#d64545", "#f0883e", "#d9b504", "#7cc36e", "#1f9d55"]
        return _bars([str(r["queue"]) for r in rows],
                     [(f"{i}", colors[i - 1], [r[f"s{i}"] for r in rows]) for i in range(1, 6)], title)
    return None


def heat_map(report: builders.Report) -> dict:
    """Day × hour cells of the hourly report: arrivals, a 0..1 shade, and the peak marks."""
    rows = report.table("hourly").rows
    top = max((int(r["arrived"]) for r in rows), default=0)
    days: dict[str, dict[int, dict]] = {}
    for r in rows:
        days.setdefault(r["day"], {})[int(r["hour"])] = {
            "arrived": int(r["arrived"]), "peak": r["peak"], "shade": round(int(r["arrived"]) / top, 3) if top else 0}
    return {"hours": list(range(24)), "days": [(d, days[d]) for d in sorted(days)]}
