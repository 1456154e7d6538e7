"""A scripted day on the simulator (the engine as `jinqiao serve` builds it, with its SQLite store): every
report equals the ground truth this test computes from its own script, on SQLite and on PostgreSQL (the
same rows copied over). Inbound: self-service, IVR hang-ups, answered calls with surveys, abandons, an IVR
callback request, a transfer to the dialplan. Outbound: no dialer is wired to the engine yet, so campaign
attempts and their interactions are written through the repositories."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, insert, select, text

from engine.cli import AppContext, main
from engine.config import load_config
from engine.daemon import build_engine
from engine.reports import builders
from engine.sim import FreeSwitchSim, Hangup, Press
from engine.store.database import open_store
from engine.store.migrate import upgrade
from engine.store.models import Base
from engine.store.records import CallbackStatus
from engine.store.repos.agents import AgentRepository, DispositionRepository
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.campaigns import CampaignRepository
from engine.store.repos.dnc import ContactAttemptRepository
from engine.store.repos.interactions import InteractionRepository

PASSWORD = "day-secret"
DID = "95000"
ZONE = ZoneInfo("Asia/Shanghai")
FLOW = """\
name: day_main
start: menu
nodes:
  menu:
    type: menu
    prompt: 查询请按1，人工请按2，回拨请按3，转接请按4，销售请按5
    options: {1: info, 2: agent, 3: callback, 4: transfer, 5: sales}
    timeout_ms: 20000
    on_failure: bye
  info: {type: play, tts: 营业时间九点到六点, next: bye}
  agent: {type: queue, queue: support, prompt: 请稍候, next: survey, on_failure: bye}
  sales: {type: queue, queue: sales, prompt: 请稍候, on_failure: bye}
  survey: {type: survey, prompt: 请为本次服务打分, question: csat, timeout_ms: 20000, next: bye}
  callback: {type: callback, next: bye, on_failure: bye}
  transfer: {type: transfer, to: "8000", on_failure: bye}
  bye: {type: hangup, prompt: 再见}
"""
# The script: (caller number, what the caller does)
SELF_SERVICE = ["13900000001", "13900000002"]  # press 1: hear the info, the IVR hangs up (contained)
IVR_HANG_UPS = ["13900000003"]  # hang up at the menu
ANSWERED = [("13900000011", "5"), ("13900000012", "4"), ("13900000013", "2")]  # press 2, talk, score
ABANDONS = ["13900000021", "13900000022"]  # press 5: sales has no agent; hang up while waiting
CALLBACK_REQUESTS = ["13900000031"]  # press 3
TRANSFERS = ["13900000041"]  # press 4


def _until(sim, predicate, timeout=20.0) -> None:
    assert sim.wait_until(predicate, timeout), "condition not reached"


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """Run the scripted day once; yield the SQLite URL, the period and the engine's config."""
    tmp = tmp_path_factory.mktemp("day")
    (tmp / "flows").mkdir()
    (tmp / "flows" / "day_main.yaml").write_text(FLOW, encoding="utf-8")
    sim = FreeSwitchSim(password=PASSWORD, time_scale=0.02)
    sim.start()
    base = load_config(None, environ={})
    config = dataclasses.replace(
        base,
        engine=dataclasses.replace(base.engine, data_dir=str(tmp), timezone="Asia/Shanghai"),
        freeswitch=dataclasses.replace(base.freeswitch, host=sim.address[0], port=sim.address[1], password=PASSWORD),
        outbound=dataclasses.replace(base.outbound, port=0, linger_seconds=1),
        ivr=dataclasses.replace(base.ivr, flows_dir=str(tmp / "flows"), dids={DID: "day_main"}),
        tts=dataclasses.replace(base.tts, cache_dir=str(tmp / "tts")),
        acd={"queues": {"support": {"wrap_up_seconds": 1, "offer_timeout": 30}, "sales": {}}},
    )
    store = open_store(config.database_url)
    upgrade(store.engine)
    agents = AgentRepository(store)
    agents.add("2001", name="Agent 2001", extension="2001")
    agents.add("2002", name="Agent 2002", extension="2002")
    DispositionRepository(store).add("sale", "Sale", "sale", True)
    DispositionRepository(store).add("later", "Call later", "service", False)
    DispositionRepository(store).add("wrong", "Wrong person", "wrong-party", False)
    store.dispose()
    sim.add_endpoint("2001", answer_after=0.5, hangup_after=30.0)  # talks 30 sim seconds per call
    engine = build_engine(config).start()
    start = dt.datetime.now(dt.timezone.utc)
    try:
        assert engine.inbound.wait_connected(10)
        host, port = engine.outbound.address
        sim.route(DID, socket=f"{host}:{port} async full")
        acd = engine.acd.service
        acd.login("2001", ["support"])
        calls = []
        for number in SELF_SERVICE:
            calls.append(sim.place_call(DID, number, script=[Press("1", during="play_and_get_digits")]))
        for number in IVR_HANG_UPS:
            calls.append(sim.place_call(DID, number, script=[Hangup(at=0.5)]))
        for number in CALLBACK_REQUESTS:
            calls.append(sim.place_call(DID, number, script=[Press("3", during="play_and_get_digits")]))
        for number in TRANSFERS:
            calls.append(sim.place_call(DID, number, script=[Press("4", during="play_and_get_digits")]))
        for number, score in ANSWERED:  # one at a time: each is answered at once by the one agent
            call = sim.place_call(DID, number, script=[Press("2", during="play_and_get_digits"),
                                                       Press(score, during="play_and_get_digits")])
            calls.append(call)
            _until(sim, lambda: call.hung_up, 30)
            _until(sim, lambda: acd.snapshot()["agents"]["2001"]["state"] == "available", 10)
        acd.not_ready("2001", "lunch")  # the agent pauses while the sales callers wait and give up
        for number in ABANDONS:
            calls.append(sim.place_call(DID, number, script=[Press("5", during="play_and_get_digits"),
                                                             Hangup(at=40)]))
        for call in calls:
            _until(sim, lambda: call.hung_up, 30)
        interactions = InteractionRepository(engine.store)
        def stored(c):
            i = interactions.by_call_id(c.uuid)
            return i is not None and i.ivr_outcome is not None
        ok = sim.wait_until(lambda: all(stored(c) for c in calls), 20)
        assert ok, [(c.caller_number if hasattr(c, "caller_number") else c.uuid, interactions.by_call_id(c.uuid)) for c in calls]
        _until(sim, lambda: len(engine.store.engine.connect().execute(
            text("SELECT id FROM survey_results")).all()) == len(ANSWERED), 10)
        acd.logout("2001")
    finally:
        engine.stop()
        sim.stop()
    store = open_store(config.database_url)
    _outbound_day(store, start)
    # One callback is kept: the agent reached the customer who asked for it.
    callbacks = CallbackRepository(store)
    first = min(callbacks.list(), key=lambda c: c.id)
    callbacks.close(first.id, CallbackStatus.DONE, start + dt.timedelta(seconds=30))
    store.dispose()
    yield config.database_url, start - dt.timedelta(hours=1), start + dt.timedelta(hours=2), config


OUTBOUND = [  # (number, outcome, agent, disposition)
    ("13700000001", "answered", "2002", "sale"),
    ("13700000002", "answered", "2002", "later"),
    ("13700000003", "answered", "2002", "wrong"),
    ("13700000004", "busy", None, None),
    ("13700000005", "no_answer", None, None),
    ("13700000006", "machine", None, None),
    ("13700000007", "dropped", None, None),
]


def _outbound_day(store, start: dt.datetime) -> None:
    """A progressive campaign's attempts (written as the dialer would: attempt + interaction when answered)."""
    campaign = CampaignRepository(store).create("autumn", queue="support")
    attempts = ContactAttemptRepository(store)
    interactions = InteractionRepository(store)
    for n, (number, outcome, agent, disposition) in enumerate(OUTBOUND):
        at = start + dt.timedelta(seconds=10 * n)
        interaction = None
        if outcome in ("answered", "dropped"):
            interaction = interactions.start("outbound", at, callee=number, campaign_id=campaign.id)
            if agent:
                interactions.update(interaction, agent_id=agent, answered_at=at + dt.timedelta(seconds=5),
                                    bridged_at=at + dt.timedelta(seconds=6), disposition_code=disposition,
                                    wrap_up_until=at + dt.timedelta(seconds=6 + 60 + 15))
            interactions.finish(interaction, at + dt.timedelta(seconds=66 if agent else 8), abandoned=not agent,
                                hangup_by="callee")
        attempts.record(number, outcome, at, campaign_id=campaign.id, interaction_id=interaction)


def _copy_to_postgres(sqlite_url: str, pg_url: str) -> None:
    from tests.store.conftest import reset_postgres

    reset_postgres(pg_url)
    target = open_store(pg_url)
    upgrade(target.engine)
    source = create_engine(sqlite_url)
    with source.connect() as src, target.engine.begin() as dst:
        for table in Base.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(select(table))]
            if rows:
                dst.execute(insert(table), rows)
        for table in Base.metadata.sorted_tables:  # serial ids continue after the copied rows
            if "id" in table.c and table.c.id.autoincrement is not False and str(table.c.id.type) == "INTEGER":
                dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                 f"COALESCE((SELECT MAX(id) FROM {table.name}), 1))"))
    source.dispose()
    target.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, day):
    sqlite_url, since, until, config = day
    if request.param == "sqlite":
        return sqlite_url, since, until, config
    pg_url = os.environ.get("JINQIAO_TEST_PG_URL")
    if not pg_url:
        pytest.skip("PostgreSQL tests need JINQIAO_TEST_PG_URL")
    _copy_to_postgres(sqlite_url, pg_url)
    return pg_url, since, until, config


def _build(url, since, until, name, **settings):
    store = open_store(url)
    try:
        with store.connection() as conn:
            return builders.REPORTS[name](conn, since, until, ZONE, until, builders.Settings(**settings))
    finally:
        store.dispose()


def _row(report, table, key, value):
    return next(r for r in report.table(table).rows if r[key] == value)


def test_queue_report_counts_equal_the_script(db) -> None:
    url, since, until, _ = db
    report = _build(url, since, until, "queues", short_abandon_s=0.0)
    support, sales = _row(report, "queues", "queue", "support"), _row(report, "queues", "queue", "sales")
    assert (support["offered"], support["answered"], support["abandoned"]) == (len(ANSWERED), len(ANSWERED), 0)
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (len(ABANDONS), 0, len(ABANDONS))
    assert support["sl_pct"] == 100.0 and sales["sl_pct"] == 0.0
    total = _row(report, "queues", "queue", "(all)")
    assert total["offered"] == total["answered"] + total["abandoned"] + total["overflowed"] + total["in_progress"]
    assert f"offered {len(ANSWERED) + len(ABANDONS)} = answered {len(ANSWERED)} + abandoned {len(ABANDONS)}" \
        in report.footer[0]
    # Every abandon here waited less than a minute: with a 60 s threshold they are all short abandons.
    short = _row(_build(url, since, until, "queues", short_abandon_s=60.0), "queues", "queue", "sales")
    assert short["abandoned_excl_short"] == 0 and short["sl_excl_short_pct"] is None
    # Callbacks: the IVR request and one per abandon (abandon_callback), one kept.
    assert f"callbacks made {len(CALLBACK_REQUESTS) + len(ABANDONS)}, kept 1" in report.footer[2]


def test_queue_asa_and_aht_equal_the_stored_times(db) -> None:
    url, since, until, _ = db
    report = _build(url, since, until, "queues")
    support = _row(report, "queues", "queue", "support")
    store = open_store(url)
    rows = [i for i in InteractionRepository(store).between(since, until) if i.queue == "support"]
    store.dispose()
    waits = [(i.bridged_at - i.queue_entered_at).total_seconds() for i in rows]
    assert support["asa_s"] == pytest.approx(sum(waits) / len(waits), abs=0.06)
    handle = [i.talk_seconds + max(0.0, (i.wrap_up_until - i.bridged_at).total_seconds() - i.talk_seconds)
              for i in rows]
    assert support["aht_s"] == pytest.approx(sum(handle) / len(handle), abs=0.06)


def test_agent_report_counts_calls_time_and_conversions(db) -> None:
    url, since, until, _ = db
    report = _build(url, since, until, "agents")
    inbound_agent, outbound_agent = _row(report, "agents", "agent", "2001"), _row(report, "agents", "agent", "2002")
    assert (inbound_agent["calls"], inbound_agent["inbound"], inbound_agent["conversions"]) == (len(ANSWERED), 3, 0)
    assert (outbound_agent["calls"], outbound_agent["outbound"], outbound_agent["conversions"]) == (3, 3, 1)
    assert outbound_agent["talk_s"] == 3 * 60.0 and outbound_agent["wrap_up_s"] == 3 * 15.0
    # The agent's timeline: logged in = the sum of the states; lunch is the one not-ready reason.
    assert inbound_agent["on_call_s"] > 0 and inbound_agent["not_ready:lunch_s"] > 0
    parts = sum(inbound_agent[c] or 0 for c in ("available_s", "on_call_s", "wrap_up_state_s", "not_ready_s"))
    assert inbound_agent["logged_in_s"] == pytest.approx(parts, abs=0.5)  # ringing is the small rest
    assert 0 < inbound_agent["occupancy_pct"] <= 100


def test_ivr_funnel_shows_where_callers_left(db) -> None:
    url, since, until, _ = db
    report = _build(url, since, until, "ivr-funnel")
    flow = _row(report, "flows", "flow", "day_main")
    entered = len(SELF_SERVICE) + len(IVR_HANG_UPS) + len(ANSWERED) + len(ABANDONS) + len(CALLBACK_REQUESTS) + \
        len(TRANSFERS)
    assert flow["entered"] == entered
    assert flow["to_queue"] == len(ANSWERED) + len(ABANDONS)
    assert flow["transferred"] == len(TRANSFERS)
    assert flow["hung_up"] == len(IVR_HANG_UPS)
    assert flow["contained"] == len(SELF_SERVICE) + len(CALLBACK_REQUESTS)
    menu = next(r for r in report.table("nodes").rows if r["node"] == "menu")
    assert menu["reached"] == entered and menu["left_hung_up"] == len(IVR_HANG_UPS)


def test_hourly_cells_add_up_to_the_inbound_calls(db) -> None:
    url, since, until, _ = db
    report = _build(url, since, until, "hourly")
    rows = report.table("hourly").rows
    inbound = len(SELF_SERVICE) + len(IVR_HANG_UPS) + len(ANSWERED) + len(ABANDONS) + len(CALLBACK_REQUESTS) + \
        len(TRANSFERS)
    assert sum(r["arrived"] for r in rows) == inbound
    assert sum(r["offered"] for r in rows) == len(ANSWERED) + len(ABANDONS)
    assert [r["peak"] for r in rows].count("period") == 1


def test_csat_by_queue_and_agent(db) -> None:
    url, since, until, _ = db
    report = _build(url, since, until, "csat")
    scores = [int(s) for _, s in ANSWERED]
    row = _row(report, "by_queue", "queue", "support")
    assert row["answers"] == len(scores) and row["average"] == round(sum(scores) / len(scores), 2)
    assert row["top2_pct"] == round(100 * sum(s >= 4 for s in scores) / len(scores), 1)
    assert _row(report, "by_agent", "agent", "2001")["answers"] == len(scores)


def test_campaign_results_and_conversion(db) -> None:
    url, since, until, _ = db
    report = _build(url, since, until, "campaigns")
    row = _row(report, "campaigns", "campaign", "autumn")
    live = [o for o in OUTBOUND if o[1] in ("answered", "dropped")]
    connected = [o for o in OUTBOUND if o[2]]
    right_party = [o for o in connected if o[3] != "wrong"]
    assert (row["attempts"], row["live_answers"], row["connected"], row["abandoned"]) == (
        len(OUTBOUND), len(live), len(connected), 1)
    assert row["right_party"] == len(right_party) and row["successes"] == 1
    assert row["conversion_pct"] == round(100 / len(right_party), 1)
    assert row["abandon_pct"] == round(100 / len(live), 1) == row["worst_day_abandon_pct"] == row["abandon_30d_pct"]
    sale = next(r for r in report.table("by_disposition").rows if r["disposition"] == "sale")
    assert sale["calls"] == 1 and sale["success"] is True
    assert _row(report, "by_agent", "agent", "2002")["successes"] == 1


def test_cli_writes_csv_with_the_checks(day) -> None:
    url, since, until, config = day
    day_text = since.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    to_text = until.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    result = CliRunner().invoke(main, ["report", "queues", "--from", day_text, "--to", to_text, "--csv"],
                                obj=AppContext(_config=config))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("section,queue,offered,answered,abandoned")
    assert any(line.startswith("queues,support,3,3,0") for line in lines)
    assert any(line.startswith("footer,offered 5 = answered 3 + abandoned 2") for line in lines)
    bad = CliRunner().invoke(main, ["report", "queues", "--from", "yesterday"], obj=AppContext(_config=config))
    assert bad.exit_code == 2 and "--from" in bad.output


def test_every_report_reads_the_same_from_the_daily_rollup_as_from_raw_rows(db) -> None:
    from engine.reports.queries import Thresholds
    from engine.reports.rollup import build

    url, since, until, _ = db
    first, last = since.astimezone(ZONE).date(), until.astimezone(ZONE).date()
    whole_since = dt.datetime.combine(first, dt.time(), ZONE)
    whole_until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), ZONE)
    store = open_store(url)
    with store.engine.begin() as conn:  # the scripted day counts as over: "now" is after its end
        assert build(conn, first, last, ZONE, whole_until + dt.timedelta(hours=1), Thresholds(20.0, 5.0)) >= 1
    try:
        for name in builders.REPORTS:
            with store.connection() as conn:
                rolled = builders.REPORTS[name](conn, whole_since, whole_until, ZONE, whole_until, builders.Settings())
                raw = builders.REPORTS[name](conn, whole_since, whole_until, ZONE, whole_until,
                                             builders.Settings(use_rollup=False))
            for a, b in zip(rolled.tables, raw.tables):
                key = a.columns[:2]
                assert sorted(a.rows, key=lambda r: [str(r[c]) for c in key]) == \
                    sorted(b.rows, key=lambda r: [str(r[c]) for c in key]), (name, a.name)
            assert rolled.footer == raw.footer, name
        with store.connection() as conn:
            plan_ = __import__("engine.reports.rollup", fromlist=["plan"]).plan(
                conn, whole_since, whole_until, ZONE, Thresholds(20.0, 5.0))
        assert plan_.pieces == [] and len(plan_.days) >= 1  # the rollup was really used
    finally:
        with store.engine.begin() as conn:  # leave the day as raw rows for the other tests
            conn.execute(text("DELETE FROM report_daily_counts"))
            conn.execute(text("DELETE FROM report_agent_state_days"))
            conn.execute(text("DELETE FROM report_rollup_days"))
        store.dispose()
