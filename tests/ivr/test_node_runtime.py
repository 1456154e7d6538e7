"""Each node type at run time, against a scripted in-memory CallChannel."""
from __future__ import annotations

from datetime import datetime, timezone

from tts import spoken

from engine.ivr.ports import MemoryDirectory, QueueOutcome
from engine.ivr.session import SILENCE
from tests.ivr.fakes import FakeQueues

HANGUP_FLOW = "  bye: {type: hangup}\n"


def flow(body: str, start: str = "a") -> str:
    return f"start: {start}\nnodes:\n{body}{HANGUP_FLOW}"


def test_play_speaks_template_with_call_data_as_plain_text(harness):
    harness.write("main", flow('  a: {type: play, tts: "来电 {{ call.caller_number }}", next: bye}\n'))
    channel, record = harness.call(caller_number="{{ 7*7 }};rm -rf /")
    assert channel.played == ["tts:zh:来电 {{ 7*7 }};rm -rf /"]
    assert record.path == ["a", "bye"] and record.outcome == "completed"
    assert channel.names() == ["answer", "play", "hangup"]


def test_play_picks_the_language_variant_from_the_language_variable(harness):
    harness.write("main", flow("  s: {type: set, vars: {language: en}, next: a}\n"
                               "  a: {type: play, tts: {zh: 你好, en: Hello}, next: bye}\n", start="s"))
    channel, _ = harness.call()
    assert channel.played == ["tts:en:Hello"]


def test_missing_variable_plays_the_node_fallback_then_the_flow_fallback_then_silence(harness):
    harness.write("main", "start: a\nfallback: 系统繁忙\nnodes:\n"
                  '  a: {type: play, tts: "{{ vars.nope }}", fallback: 请稍候, next: b}\n'
                  '  b: {type: play, tts: "{{ customer.name }}", next: bye}\n' + HANGUP_FLOW)
    channel, record = harness.call()
    assert channel.played == ["tts:zh:请稍候", "tts:zh:系统繁忙"]
    assert record.outcome == "completed"
    harness.write("main", flow('  a: {type: play, tts: "{{ vars.nope }}", next: bye}\n'))
    channel, _ = harness.call()
    assert channel.played == [SILENCE]


def test_say_reads_each_kind_in_both_languages(harness):
    harness.write("main", flow(
        '  a: {type: say, kind: number, value: "1234", next: b}\n'
        '  b: {type: say, kind: money, value: "12.5", before: 共, next: c}\n'
        '  c: {type: say, kind: date, value: "2026-11-25", language: en, next: d}\n'
        '  d: {type: say, kind: digits, value: "{{ call.caller_number }}", next: bye}\n'))
    channel, _ = harness.call(caller_number="95588")
    assert channel.played == [
        f"tts:zh:{spoken.number(1234, 'zh')}",
        f"tts:zh:共{spoken.money('12.5', 'CNY', language='zh')}",
        f"tts:en:{spoken.date('2026-11-25', 'en')}",
        f"tts:zh:{spoken.digits('95588', 'zh')}",
    ]


def test_say_with_a_bad_value_plays_its_fallback(harness):
    harness.write("main", flow('  a: {type: say, kind: money, value: "{{ customer.balance }}", fallback: 无法查询, next: b}\n'
                               '  b: {type: say, kind: number, value: "lots", fallback: 无法播报, next: bye}\n'))
    channel, record = harness.call()
    assert channel.played == ["tts:zh:无法查询", "tts:zh:无法播报"]
    assert record.path == ["a", "b", "bye"]


MENU = ('  m: {type: menu, prompt: 请选择, options: {1: one, "#": hash}, invalid_prompt: 无效,'
        ' timeout_prompt: 超时, retries: 2, on_failure: fail}\n'
        '  one: {type: play, tts: 一, next: bye}\n'
        '  hash: {type: play, tts: 井, next: bye}\n'
        '  fail: {type: play, tts: 失败, next: bye}\n')


def test_menu_goes_to_the_chosen_option(harness):
    harness.write("main", flow(MENU, start="m"))
    channel, record = harness.call(["1"])
    assert channel.played == ["tts:zh:请选择", "tts:zh:一"]
    assert record.digits == [("m", "1")]
    channel, _ = harness.call(["#"])
    assert channel.played[-1] == "tts:zh:井"


def test_menu_replays_after_invalid_and_missing_keys_then_fails_over(harness):
    harness.write("main", flow(MENU, start="m"))
    channel, record = harness.call(["9", "", "1"])
    assert channel.played == ["tts:zh:请选择", "tts:zh:无效", "tts:zh:请选择", "tts:zh:超时", "tts:zh:请选择",
                              "tts:zh:一"]
    channel, record = harness.call(["9", "8", "7"])
    assert channel.played[-1] == "tts:zh:失败"
    assert record.path == ["m", "fail", "bye"]


def test_menu_treats_a_dtmf_flood_as_one_key(harness):
    harness.write("main", flow(MENU, start="m"))
    channel, record = harness.call(["1111111111{{x}}"])
    assert record.path == ["m", "one", "bye"] and record.digits == [("m", "1")]


COLLECT = ('  c: {type: collect, prompt: 请输入, into: card, min_digits: 4, max_digits: 6, pattern: "6[0-9]+",'
           ' mask: true, retries: 1, invalid_prompt: 有误, next: ok, on_failure: fail}\n'
           '  ok: {type: play, tts: "收到{{ vars.card }}", next: bye}\n'
           '  fail: {type: play, tts: 失败, next: bye}\n')


def test_collect_stores_valid_digits_and_masks_them_in_the_path(harness):
    harness.write("main", flow(COLLECT, start="c"))
    channel, record = harness.call(["612345"])
    assert channel.played[-1] == "tts:zh:收到612345"
    assert record.digits == [("c", "****45")]


def test_collect_retries_on_invalid_input_and_then_fails(harness):
    harness.write("main", flow(COLLECT, start="c"))
    channel, record = harness.call(["5123", "61"])
    assert channel.played == ["tts:zh:请输入", "tts:zh:有误", "tts:zh:请输入", "tts:zh:有误", "tts:zh:失败"]
    assert record.path == ["c", "fail", "bye"]


def test_collect_keeps_only_dtmf_characters_and_bounds_the_length(harness):
    harness.write("main", flow(COLLECT, start="c"))
    channel, _ = harness.call(["6{{ 1 }}2$(3)4#"])
    assert channel.played[-1] == "tts:zh:收到61234"
    channel, record = harness.call(["6" * 500, ""])
    assert record.path == ["c", "fail", "bye"]
    assert all(len(d) <= 7 for _, d in record.digits)
    assert channel.commands[1][1]["max_digits"] == 6


def test_lookup_customer_by_caller_number_fills_the_customer(harness):
    harness.directory = MemoryDirectory(by_phone={"13800138000": {"id": 7, "name": "王芳", "segment": "vip"}})
    harness.write("main", flow("  l: {type: lookup, source: customer, next: hi, on_not_found: bye}\n"
                               '  hi: {type: play, tts: "{{ customer.name }}您好", next: bye}\n', start="l"))
    channel, record = harness.call()
    assert channel.played == ["tts:zh:王芳您好"] and record.customer_id == "7"
    _, record = harness.call(caller_number="13900000000")
    assert record.path == ["l", "bye"] and record.customer_id is None


def test_lookup_customer_by_collected_waybill_number(harness):
    harness.directory = MemoryDirectory(by_reference={("waybill", "880012345678"): {"name": "李雷"}})
    harness.write("main", flow(
        "  c: {type: collect, prompt: 运单, into: wb, max_digits: 12, next: l, on_failure: bye}\n"
        '  l: {type: lookup, source: customer, by: waybill, key: "{{ vars.wb }}", next: hi, on_not_found: bye}\n'
        '  hi: {type: play, tts: "{{ customer.name }}", next: bye}\n', start="c"))
    channel, _ = harness.call(["880012345678"])
    assert channel.played[-1] == "tts:zh:李雷"


def test_lookup_in_a_data_table(harness):
    (harness.flows_dir / "data").mkdir()
    (harness.flows_dir / "data" / "rates.csv").write_text("code,city\n021,上海\n", encoding="utf-8")
    harness.write("main", flow(
        '  l: {type: lookup, source: table, table: rates, key: "{{ call.destination_number }}", into: rate,'
        ' next: hi, on_not_found: nf}\n'
        '  hi: {type: play, tts: "{{ vars.rate.city }}", next: bye}\n'
        '  nf: {type: play, tts: 无, next: bye}\n', start="l"))
    channel, _ = harness.call(destination_number="021")
    assert channel.played == ["tts:zh:上海"]
    channel, _ = harness.call(destination_number="999")
    assert channel.played == ["tts:zh:无"]


class BrokenDirectory:
    def find_by_phone(self, number):
        raise ConnectionError("database is down")

    def find_by_reference(self, kind, value):
        raise ConnectionError("database is down")


def test_lookup_backend_error_takes_on_failure(harness):
    harness.directory = BrokenDirectory()
    harness.write("main", flow("  l: {type: lookup, source: customer, next: bye, on_not_found: nf, on_failure: err}\n"
                               "  nf: {type: play, tts: 无, next: bye}\n"
                               "  err: {type: play, tts: 故障, next: bye}\n", start="l"))
    channel, record = harness.call()
    assert channel.played == ["tts:zh:故障"] and record.outcome == "completed"


def test_set_and_branch_on_variables_customer_and_time(harness):
    harness.directory = MemoryDirectory(by_phone={"13800138000": {"segment": "vip", "tags": ["offer_5g"]}})
    harness.write("main", flow(
        "  l: {type: lookup, source: customer, next: s, on_not_found: s}\n"
        '  s: {type: set, vars: {tries: "{{ 1 + 1 }}", greeting: "hi {{ call.caller_number }}"}, next: b}\n'
        "  b:\n    type: branch\n    conditions:\n"
        "      - {if: \"vars.nope == 1\", next: never}\n"
        "      - {if: \"customer.segment == 'vip' and 'offer_5g' in customer.tags and vars.tries|int == 2"
        " and now.hour == 3\", next: vip}\n"
        "    else: other\n"
        "  never: {type: play, tts: never, next: bye}\n"
        '  vip: {type: play, tts: "VIP {{ vars.greeting }}", next: bye}\n'
        "  other: {type: play, tts: other, next: bye}\n", start="l"))
    channel, _ = harness.call()
    assert channel.played == ["tts:zh:VIP hi 13800138000"]
    _, record = harness.call(caller_number="13900000000")
    assert record.path[-2] == "other"


HOURS = ('  h: {type: hours, timezone: Asia/Shanghai, weekly: {mon-fri: "09:00-18:00", sat: ["10:00-12:00"]},'
         ' holidays: [2026-10-01], open: o, closed: c}\n'
         '  o: {type: play, tts: open, next: bye}\n  c: {type: play, tts: closed, next: bye}\n')


def at(*args):
    return lambda: datetime(*args, tzinfo=timezone.utc)


def test_hours_uses_the_schedule_time_zone_and_holidays(harness):
    harness.write("main", flow(HOURS, start="h"))
    cases = [((2026, 11, 25, 3, 0), "open"),     # Wed 11:00 Shanghai
             ((2026, 11, 25, 10, 0), "closed"),  # Wed 18:00 Shanghai: end is exclusive
             ((2026, 11, 24, 23, 30), "closed"),  # Wed 07:30 Shanghai, still Tuesday in UTC
             ((2026, 11, 28, 2, 30), "open"),    # Sat 10:30
             ((2026, 11, 29, 3, 0), "closed"),   # Sunday
             ((2026, 10, 1, 3, 0), "closed")]    # holiday (a Thursday)
    for moment, expected in cases:
        harness.now = at(*moment)
        channel, _ = harness.call()
        assert channel.played == [f"tts:zh:{expected}"], moment


QUEUE = ('  q: {type: queue, queue: support, priority: "{{ 9 if customer.segment|default(\'\') == \'vip\' else 1 }}",'
         ' skills: [mandarin, "{{ customer.skill }}"], prompt: 请稍候, failure_prompt: 忙, next: after,'
         ' on_failure: busy}\n'
         '  after: {type: play, tts: 谢谢, next: bye}\n  busy: {type: play, tts: 留言, next: bye}\n')


def test_queue_passes_priority_and_skills_from_the_customer(harness):
    harness.directory = MemoryDirectory(by_phone={"13800138000": {"id": 3, "segment": "vip"}})
    harness.write("main", flow("  l: {type: lookup, source: customer, next: q, on_not_found: q}\n" + QUEUE,
                               start="l"))
    channel, record = harness.call()
    request = harness.queues.requests[0]
    assert (request.queue, request.priority, request.skills, request.customer_id) == ("support", 9, ("mandarin",), "3")
    assert channel.played == ["tts:zh:请稍候", "queue:support", "tts:zh:谢谢"]
    assert record.outcome == "answered"
    harness.call(caller_number="13900000000")
    assert harness.queues.requests[1].priority == 1


def test_queue_not_answered_plays_the_failure_prompt_and_takes_on_failure(harness):
    harness.queues = FakeQueues(outcome=QueueOutcome.TIMEOUT)
    harness.write("main", flow(QUEUE, start="q"))
    channel, record = harness.call()
    assert channel.played[-2:] == ["tts:zh:忙", "tts:zh:留言"]
    assert record.outcome == "queue_timeout"


def test_a_callback_booked_from_the_queue_is_confirmed_not_reported_as_busy(harness):
    harness.queues = FakeQueues(outcome=QueueOutcome.TIMEOUT, detail="callback:42")
    harness.write("main", flow(QUEUE.replace("next: after,", "next: after, callback_prompt: 回电,"), start="q"))
    channel, record = harness.call()
    assert channel.played[-1] == "tts:zh:回电" and "tts:zh:忙" not in channel.played
    assert record.outcome == "callback_requested"


def test_queue_overflow_to_voicemail_takes_on_voicemail(harness):
    harness.queues = FakeQueues(outcome=QueueOutcome.TIMEOUT, detail="voicemail")
    harness.write("main", flow(QUEUE.replace("next: after,", "next: after, on_voicemail: vm,")
                               + '  vm: {type: play, tts: 请留言, next: bye}\n', start="q"))
    channel, record = harness.call()
    assert channel.played[-1] == "tts:zh:请留言"


def test_queue_without_a_gateway_plays_the_fallback_and_takes_on_failure(harness):
    harness.queues = None
    harness.write("main", flow(QUEUE, start="q"))
    channel, record = harness.call()
    assert channel.played == ["tts:zh:忙", "tts:zh:留言"]


def test_queue_answered_without_next_ends_the_flow(harness):
    harness.write("main", flow("  q: {type: queue, queue: support, on_failure: bye}\n", start="q"))
    channel, record = harness.call()
    assert record.outcome == "answered" and record.path == ["q"]


def test_transfer_to_a_number_goes_through_the_dialplan(harness):
    harness.write("main", flow('  t: {type: transfer, to: "{{ vars.ext|default(\'8001\') }}", context: agents,'
                               ' on_failure: bye}\n', start="t"))
    channel, record = harness.call()
    assert channel.commands[-1] == ("transfer", {"extension": "8001", "context": "agents"})
    assert record.outcome == "transferred" and "hangup" not in channel.names()


def test_transfer_to_a_sip_uri_bridges_and_a_failed_bridge_takes_on_failure(harness):
    harness.write("main", flow("  t: {type: transfer, to: 'sip:agent@10.0.0.5', on_failure: f}\n"
                               "  f: {type: play, tts: 失败, next: bye}\n", start="t"))
    channel, record = harness.call()
    assert channel.commands[1] == ("bridge", {"dial_string": "{ignore_early_media=true}sofia/internal/sip:agent@10.0.0.5"})
    assert record.outcome == "transferred"
    channel, record = harness.call(bridge_result="USER_BUSY")
    assert channel.played == ["tts:zh:失败"] and record.outcome == "transfer_failed"


def test_transfer_refuses_targets_with_freeswitch_syntax(harness):
    harness.write("main", flow('  t: {type: transfer, to: "{{ call.caller_name }}", on_failure: f}\n'
                               "  f: {type: play, tts: 失败, next: bye}\n", start="t"))
    for hostile in ("1000 XML default", "sip:a@b,loopback/9999", "{origination_uuid=x}user/1000"):
        channel = __import__("tests.ivr.fakes", fromlist=["FakeChannel"]).FakeChannel()
        channel.caller_name = hostile
        harness.runner().run(channel)
        assert "bridge" not in channel.names() and "transfer" not in channel.names()


def test_voicemail_records_into_the_recordings_dir_and_sets_the_outcome(harness):
    harness.write("main", flow("  v: {type: voicemail, prompt: 请留言, into: vm, next: bye, on_failure: f}\n"
                               "  f: {type: play, tts: 没录到, next: bye}\n", start="v"))
    channel, record = harness.call(uuid="abc-123")
    path = harness.flows_dir / "recordings" / "voicemail" / "abc-123-v.wav"
    assert channel.commands[2] == ("record", {"path": str(path), "max_seconds": 120})
    assert record.outcome == "voicemail" and record.recordings == [str(path)]
    channel, record = harness.call(record_seconds=0.0)
    assert channel.played[-1] == "tts:zh:没录到" and record.outcome == "completed"


def test_callback_request_is_stored_with_the_caller_number(harness):
    harness.write("main", flow('  cb: {type: callback, queue: support, note: "from {{ call.flow }}", next: ok,'
                               ' on_failure: f}\n'
                               "  ok: {type: play, tts: 已预约, next: bye}\n  f: {type: play, tts: 失败, next: bye}\n",
                               start="cb"))
    channel, record = harness.call()
    stored = harness.callbacks.requests[0]
    assert (stored.number, stored.queue, stored.note, stored.call_uuid) == ("13800138000", "support", "from main", "call-1")
    assert record.outcome == "callback_requested"
    channel, record = harness.call(caller_number="anonymous")
    assert channel.played == ["tts:zh:失败"] and len(harness.callbacks.requests) == 1


def test_survey_stores_a_valid_score_after_an_invalid_one(harness):
    harness.write("main", flow("  s: {type: survey, prompt: 请评分, invalid_prompt: 1到5, thanks: 谢谢, next: bye}\n",
                               start="s"))
    channel, record = harness.call(["8", "4"])
    assert channel.played == ["tts:zh:请评分", "tts:zh:1到5", "tts:zh:请评分", "tts:zh:谢谢"]
    assert harness.log.surveys == [("call-1", "s", 4)] and record.surveys == [("s", 4)]
    harness.call(["0", "9"])
    assert len(harness.log.surveys) == 1


def test_goto_and_subflow_share_variables_and_return(harness):
    harness.write("common", "start: r\nnodes:\n"
                  '  r: {type: play, tts: "子流程{{ vars.x }}", next: s}\n'
                  "  s: {type: set, vars: {y: done}, next: ret}\n  ret: {type: return}\n")
    harness.write("main", flow("  a: {type: set, vars: {x: 1}, next: g}\n  g: {type: goto, target: c}\n"
                               '  c: {type: call, flow: common, next: p}\n'
                               '  p: {type: play, tts: "{{ vars.y }}", next: bye}\n'))
    channel, record = harness.call()
    assert channel.played == ["tts:zh:子流程1", "tts:zh:done"]
    assert record.path == ["a", "g", "c", "common:r", "common:s", "common:ret", "p", "bye"]


def test_hangup_node_sets_the_outcome_and_hangs_up(harness):
    harness.write("main", "start: a\nnodes:\n  a: {type: hangup, prompt: 再见, outcome: self_service_done}\n")
    channel, record = harness.call()
    assert channel.names() == ["answer", "play", "hangup"] and record.outcome == "self_service_done"
    assert harness.log.records[-1] is record


def test_freeswitch_tts_backend_speaks_through_the_channel_voice(harness):
    from tts import SpeakInstruction

    class SwitchTts:
        backend = "freeswitch"

        def prompt(self, text, *, language="zh"):
            return SpeakInstruction("tts_commandline", f"voice-{language}", text)

    harness.tts = SwitchTts()
    harness.write("main", flow("  a: {type: play, tts: \"你好\\n世界\", next: b}\n  b: {type: play, tts: 再见, next: bye}\n"))
    channel, _ = harness.call()
    assert channel.commands[1:5] == [("set_variable", {"name": "tts_engine", "value": "tts_commandline"}),
                                     ("set_variable", {"name": "tts_voice", "value": "voice-zh"}),
                                     ("play", {"path": "say:你好 世界"}), ("play", {"path": "say:再见"})]

