"""The reports: agents, queues, campaigns, hourly heat map, IVR funnel, satisfaction — each a Report of tables."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from engine.reports import metrics as m
from engine.reports import queries as q
from engine.reports import sources
from engine.reports.rollup import Plan, plan
from engine.reports.timeline import agent_seconds

Row = dict[str, Any]


@dataclass
class Table:
    """One section of a report: named columns and rows (values are numbers, text or None)."""

    name: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)


@dataclass
class Report:
    """A report over [since, until) in the center's zone; `footer` lines show how the counts reconcile."""

    name: str
    since: dt.datetime
    until: dt.datetime
    zone: Any
    tables: list[Table]
    footer: list[str] = field(default_factory=list)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


@dataclass(frozen=True)
class Settings:
    service_level_s: float = m.DEFAULT_SERVICE_LEVEL_S
    short_abandon_s: float = m.DEFAULT_SHORT_ABANDON_S
    callback_grace_s: float = m.DEFAULT_CALLBACK_GRACE_S
    use_rollup: bool = True
    fcr_window_days: float = m.DEFAULT_FCR_WINDOW_DAYS

    @property
    def thresholds(self) -> q.Thresholds:
        return q.Thresholds(self.service_level_s, self.short_abandon_s)


def _plan(conn: Any, since: dt.datetime, until: dt.datetime, zone: Any, settings: Settings) -> Plan:
    return plan(conn, since, until, zone, settings.thresholds, settings.use_rollup)


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def _pct_text(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f} %"


def agents(conn: Any, since: dt.datetime, until: dt.datetime, zone: Any, now: dt.datetime,
           settings: Settings = Settings()) -> Report:
    """Per agent: calls, talk, wrap-up, not-ready by reason, occupancy, utilisation, conversions."""
    calls = sources.agent_calls(conn, _plan(conn, since, until, zone, settings))
    times = agent_seconds(conn, since, min(until, now), zone, settings.use_rollup)
    reasons = sorted({r for t in times.values() for r in t.not_ready})
    fcr = sources.fcr(conn, _plan(conn, since, until, zone, settings), zone, settings.fcr_window_days, "agent")
    columns = ["agent", "calls", "inbound", "outbound", "talk_s", "hold_s", "wrap_up_s", "aht_s", "logged_in_s",
               "available_s", "on_call_s", "wrap_up_state_s", "not_ready_s",
               *[f"not_ready:{r or '-'}_s" for r in reasons], "occupancy_pct", "utilisation_pct", "conversions",
               "fcr_pct"]
    table = Table("agents", columns)
    total_calls = 0
    for agent in sorted(set(calls) | set(times)):
        c, t = calls.get(agent, q.AgentCalls()), times.get(agent, m.AgentTime())
        total_calls += c.handled
        row: Row = {"agent": agent, "calls": c.handled, "inbound": c.inbound, "outbound": c.outbound,
                    "talk_s": _r(c.talk_s), "hold_s": _r(c.hold_s), "wrap_up_s": _r(c.wrap_up_s),
                    "aht_s": _r(m.average_handle_time(m.QueueCounts(answered=c.handled, talk_s=c.talk_s,
                                                                     hold_s=c.hold_s, wrap_up_s=c.wrap_up_s))),
                    "logged_in_s": _r(m.logged_in_seconds(t)), "available_s": _r(t.of("available")),
                    "on_call_s": _r(t.of("on-call")), "wrap_up_state_s": _r(t.of("wrap-up")),
                    "not_ready_s": _r(t.of("not-ready")),
                    "occupancy_pct": _pct(m.occupancy(t)), "utilisation_pct": _pct(m.utilisation(t)),
                    "conversions": c.conversions, "fcr_pct": _pct(m.first_contact_resolution(*fcr.get(agent, (0, 0))))}
        for r in reasons:
            row[f"not_ready:{r or '-'}_s"] = _r(t.not_ready.get(r, 0.0))
        table.rows.append(row)
    footer = [f"calls handled {total_calls} = inbound {sum(c.inbound for c in calls.values())} + outbound "
              f"{sum(c.outbound for c in calls.values())}",
              "logged in = available + ringing + on call + wrap-up + not ready (seconds, from the state timeline)",
              _fcr_footer(fcr, settings)]
    return Report("agents", since, until, zone, [table], footer)


def _fcr_footer(fcr: dict[Any, tuple[int, int]], settings: Settings) -> str:
    resolved, eligible = sum(r for r, _ in fcr.values()), sum(n for _, n in fcr.values())
    return (f"first-contact resolution: {resolved} of {eligible} answered inbound calls with a disposition had no "
            f"repeat call within {settings.fcr_window_days:g} days ({_pct_text(m.first_contact_resolution(resolved, eligible))})")


def _queue_row(name: str, c: m.QueueCounts, fcr: tuple[int, int]) -> Row:
    return {"queue": name, "hold_s": _r(c.hold_s), "fcr_pct": _pct(m.first_contact_resolution(*fcr)), "offered": m.offered(c), "answered": m.answered(c), "abandoned": m.abandoned(c),
            "abandoned_excl_short": m.abandoned(c, include_short=False), "overflowed": c.overflowed,
            "in_progress": c.in_progress, "sl_pct": _pct(m.service_level(c)),
            "sl_excl_short_pct": _pct(m.service_level(c, exclude_short_abandons=True)),
            "asa_s": _r(m.average_speed_of_answer(c)), "aht_s": _r(m.average_handle_time(c)),
            "abandon_pct": _pct(m.abandon_rate(c)), "abandon_excl_short_pct": _pct(m.abandon_rate(c, False))}


QUEUE_COLUMNS = ["queue", "offered", "answered", "abandoned", "abandoned_excl_short", "overflowed", "in_progress",
                 "sl_pct", "sl_excl_short_pct", "asa_s", "aht_s", "abandon_pct", "abandon_excl_short_pct", "hold_s",
                 "fcr_pct"]


def _reconcile(c: m.QueueCounts) -> str:
    return (f"offered {c.offered} = answered {c.answered} + abandoned {c.abandoned} + overflowed {c.overflowed} "
            f"+ in progress {c.in_progress}")


def queues(conn: Any, since: dt.datetime, until: dt.datetime, zone: Any, now: dt.datetime,
           settings: Settings = Settings()) -> Report:
    """Per queue: offered, answered, abandoned (with and without short ones), service level, ASA, AHT."""
    counts = sources.queues(conn, _plan(conn, since, until, zone, settings), settings.thresholds)
    fcr = sources.fcr(conn, _plan(conn, since, until, zone, settings), zone, settings.fcr_window_days, "queue")
    table = Table("queues", QUEUE_COLUMNS)
    total = m.QueueCounts()
    for queue, c in sorted(counts.items()):
        table.rows.append(_queue_row(queue or "-", c, fcr.get(queue or None, (0, 0))))
        total.add(c)
    table.rows.append(_queue_row("(all)", total, (sum(r for r, _ in fcr.values()), sum(n for _, n in fcr.values()))))
    made, kept, on_time = q.callbacks_made_kept(conn, since, until, settings.callback_grace_s)
    footer = [_reconcile(total),
              f"service level: answered within {settings.service_level_s:g} s; short abandon: under "
              f"{settings.short_abandon_s:g} s",
              f"callbacks made {made}, kept {kept} ({_pct_text(m.callbacks_kept(made, kept))}), kept on time {on_time}",
              _fcr_footer(fcr, settings)]
    return Report("queues", since, until, zone, [table], footer)


def _campaign_row(key: dict[str, Any], c: m.CampaignCounts) -> Row:
    return {**key, "attempts": c.attempts, "live_answers": c.live_answers, "connected": c.connected,
            "abandoned": c.abandoned, "right_party": c.right_party, "successes": c.successes,
            "contact_pct": _pct(m.contact_rate(c)), "rpc_pct": _pct(m.right_party_contact_rate(c)),
            "conversion_pct": _pct(m.conversion_rate(c)), "abandon_pct": _pct(m.outbound_abandon_rate(c))}


CAMPAIGN_FIGURES = ["attempts", "live_answers", "connected", "abandoned", "right_party", "successes", "contact_pct",
                    "rpc_pct", "conversion_pct", "abandon_pct"]


def campaigns(conn: Any, since: dt.datetime, until: dt.datetime, zone: Any, now: dt.datetime,
              settings: Settings = Settings()) -> Report:
    """Per campaign results, conversion by disposition and by agent, abandon rate per day and per 30 days."""
    names = q.campaign_names(conn)
    period = _plan(conn, since, until, zone, settings)
    per = sources.campaigns(conn, period, "campaign")
    main = Table("campaigns", ["campaign", *CAMPAIGN_FIGURES, "worst_day_abandon_pct", "abandon_30d_pct"])
    last_day = (until - dt.timedelta(seconds=1)).astimezone(zone).date()
    window_start = min(since, dt.datetime.combine(last_day - dt.timedelta(days=29), dt.time(), zone))
    daily: dict[int, dict[dt.date, m.CampaignCounts]] = defaultdict(dict)
    for (campaign, day), c in sources.campaigns(conn, _plan(conn, window_start, until, zone, settings), "campaign",
                                                zone, by_day=True).items():
        daily[campaign][day] = c
    first_day = since.astimezone(zone).date()
    total = m.CampaignCounts()
    for (campaign,), c in sorted(per.items()):
        days = daily.get(campaign, {})
        worst = max((m.outbound_abandon_rate(dc) or 0.0 for d, dc in days.items() if first_day <= d <= last_day),
                    default=None)
        window = m.CampaignCounts()
        for d, dc in days.items():
            if last_day - dt.timedelta(days=29) <= d <= last_day:
                window.add(dc)
        row = _campaign_row({"campaign": names.get(campaign, str(campaign))}, c)
        row.update(worst_day_abandon_pct=_pct(worst), abandon_30d_pct=_pct(m.outbound_abandon_rate(window)))
        main.rows.append(row)
        total.add(c)
    by_disposition = Table("by_disposition", ["campaign", "disposition", "success", "calls", "share_pct"])
    for (campaign, code, ok), c in sorted(sources.campaigns(conn, period, "camp_disp").items(),
                                          key=lambda kv: (kv[0][0], str(kv[0][1]))):
        if not c.connected:
            continue
        whole = per.get((campaign,), m.CampaignCounts()).connected
        by_disposition.rows.append({"campaign": names.get(campaign, str(campaign)), "disposition": code or "-",
                                    "success": bool(ok), "calls": c.connected,
                                    "share_pct": _pct(m.ratio(c.connected, whole))})
    by_agent = Table("by_agent", ["campaign", "agent", *CAMPAIGN_FIGURES])
    for (campaign, agent), c in sorted(sources.campaigns(conn, period, "camp_agent").items(),
                                       key=lambda kv: (kv[0][0], str(kv[0][1]))):
        if agent is None:
            continue
        by_agent.rows.append(_campaign_row({"campaign": names.get(campaign, str(campaign)), "agent": agent}, c))
    no_contact = total.attempts - total.live_answers
    footer = [f"attempts {total.attempts} = live answers {total.live_answers} + no contact {no_contact}",
              f"live answers {total.live_answers} = connected {total.connected} + abandoned {total.abandoned} + other "
              f"{total.live_answers - total.connected - total.abandoned}",
              f"abandon limit {m.MAX_OUTBOUND_ABANDON_RATE:.0%} of live answers per day (Ofcom) and per 30 days (FTC TSR)"]
    return Report("campaigns", since, until, zone, [main, by_disposition, by_agent], footer)


def hourly(conn: Any, since: dt.datetime, until: dt.datetime, zone: Any, now: dt.datetime,
           settings: Settings = Settings()) -> Report:
    """Inbound traffic per local day × hour; each day's busiest hour and the period's busiest cell marked."""
    cells = sources.hourly(conn, _plan(conn, since, until, zone, settings), zone, settings.thresholds)
    table = Table("hourly", ["day", "hour", "arrived", "offered", "answered", "abandoned", "sl_pct", "peak"])
    peak_of_day: dict[dt.date, int] = {}
    for (day, hour), (arrived, _) in cells.items():
        best = peak_of_day.get(day)
        if best is None or arrived > cells[(day, best)][0]:
            peak_of_day[day] = hour
    top = max(cells.items(), key=lambda kv: kv[1][0], default=None)
    total_arrived = 0
    for (day, hour) in sorted(cells):
        arrived, c = cells[(day, hour)]
        total_arrived += arrived
        mark = "period" if top is not None and top[0] == (day, hour) else "day" if peak_of_day.get(day) == hour else ""
        table.rows.append({"day": day.isoformat(), "hour": hour, "arrived": arrived, "offered": c.offered,
                           "answered": c.answered, "abandoned": c.abandoned, "sl_pct": _pct(m.service_level(c)),
                           "peak": mark})
    footer = [f"inbound calls arrived {total_arrived} = sum of the cells; peak: 'day' = that day's busiest hour, "
              f"'period' = the busiest hour of the period"]
    return Report("hourly", since, until, zone, [table], footer)


def ivr_funnel(conn: Any, since: dt.datetime, until: dt.datetime, zone: Any, now: dt.datetime,
               settings: Settings = Settings()) -> Report:
    """Per flow: calls in, containment; per node: calls that reached it and where they left the flow."""
    paths = sources.ivr_paths(conn, _plan(conn, since, until, zone, settings))
    per_flow = q.ivr_counts(paths)
    flows = Table("flows", ["flow", "entered", "contained", "hung_up", "to_queue", "transferred", "containment_pct"])
    for flow, c in sorted(per_flow.items()):
        flows.rows.append({"flow": flow, "entered": c.entered, "contained": c.contained, "hung_up": c.hung_up_in_ivr,
                           "to_queue": c.to_queue, "transferred": c.transferred,
                           "containment_pct": _pct(m.ivr_containment(c))})
    nodes: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    order: dict[tuple[str, str], int] = {}
    for p in paths:
        for position, node in enumerate(dict.fromkeys(p.path)):
            nodes[(p.flow, node)]["reached"] += p.calls
            order[(p.flow, node)] = min(order.get((p.flow, node), 10**6), position)
        if p.exit_node:
            nodes[(p.flow, p.exit_node)][f"left_{p.how}"] += p.calls
            order.setdefault((p.flow, p.exit_node), 10**6)
    table = Table("nodes", ["flow", "node", "reached", "reached_pct", "left_hung_up", "left_contained",
                            "left_to_queue", "left_transferred"])
    for (flow, node) in sorted(nodes, key=lambda fn: (fn[0], -nodes[fn]["reached"], order[fn], fn[1])):
        n = nodes[(flow, node)]
        table.rows.append({"flow": flow, "node": node, "reached": n["reached"],
                           "reached_pct": _pct(m.ratio(n["reached"], per_flow[flow].entered)),
                           "left_hung_up": n["left_hung_up"], "left_contained": n["left_contained"],
                           "left_to_queue": n["left_queued"], "left_transferred": n["left_transferred"]})
    total = m.IvrCounts()
    for c in per_flow.values():
        total.entered += c.entered
        total.contained += c.contained
        total.hung_up_in_ivr += c.hung_up_in_ivr
        total.to_queue += c.to_queue
        total.transferred += c.transferred
    footer = [f"entered {total.entered} = contained {total.contained} + hung up in the IVR {total.hung_up_in_ivr} "
              f"+ to a queue {total.to_queue} + transferred {total.transferred}"]
    return Report("ivr-funnel", since, until, zone, [flows, table], footer)


def csat(conn: Any, since: dt.datetime, until: dt.datetime, zone: Any, now: dt.datetime,
         settings: Settings = Settings()) -> Report:
    """Survey answers (1..5) by queue and by agent: count, average, top-2-box, and the distribution."""
    tables, totals = [], {}
    period = _plan(conn, since, until, zone, settings)
    for by in ("queue", "agent"):
        table = Table(f"by_{by}", [by, "answers", "average", "top2_pct", "s1", "s2", "s3", "s4", "s5"])
        scores = sources.survey_scores(conn, period, by)
        for name, dist in sorted(scores.items()):
            table.rows.append({by: name, "answers": sum(dist.values()), "average": _r(m.csat_average(dist), 2),
                               "top2_pct": _pct(m.csat_top2_box(dist)),
                               **{f"s{i}": dist.get(i, 0) for i in range(1, 6)}})
        merged: dict[int, int] = defaultdict(int)
        for dist in scores.values():
            for score, n in dist.items():
                merged[score] += n
        totals[by] = merged
        tables.append(table)
    merged = totals["queue"]
    footer = [f"answers {sum(merged.values())} = " + " + ".join(f"{merged.get(i, 0)}×{i}" for i in range(1, 6))
              + f"; average {_r(m.csat_average(merged), 2)}, top-2-box {_pct_text(m.csat_top2_box(merged))}"]
    return Report("csat", since, until, zone, tables, footer)


REPORTS = {"agents": agents, "queues": queues, "campaigns": campaigns, "hourly": hourly, "ivr-funnel": ivr_funnel,
           "csat": csat}
