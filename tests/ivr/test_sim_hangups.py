"""Scenario tests on the simulator: the caller hangs up inside each kind of node, or gives bad input."""
from __future__ import annotations

from typing import Any

import gevent
import pytest
from gevent.server import StreamServer

from engine.ivr.ports import QueueOutcome, QueueRequest, QueueResult
from engine.sim import FreeSwitchSim, Hangup, Press, Wait
from tests.ivr.simharness import SimEngine

FLOW = """\
start: menu
nodes:
  menu:
    type: menu
    prompt: 请选择
    options: {1: readout, 2: message, 3: rate, 4: agent, 5: order, 6: account}
    invalid_prompt: 无效
    on_failure: bye
  readout: {type: say, kind: digits, value: "{{ call.caller_number }}", before: 您的号码是, next: bye}
  message: {type: record, prompt: 请留言, max_seconds: 60, next: bye}
  rate: {type: survey, prompt: 请打分, invalid_prompt: 请按1到5, thanks: 谢谢, retries: 2, next: bye}
  agent: {type: queue, queue: support, prompt: 请稍候, on_failure: bye}
  order:
    type: lookup
    source: http
    url: "{{ vars.erp }}/orders/{{ call.caller_number|urlencode }}"
    timeout: 0.5
    into: order
    next: bye
    on_not_found: bye
    on_failure: sorry
  sorry: {type: play, tts: 系统繁忙, next: bye}
  account:
    type: collect
    prompt: 请输入账号
    max_digits: 8
    into: account
    mask: true
    next: bye
    on_failure: bye
  bye: {type: hangup, prompt: 再见}
"""


class HoldingQueue:
    """An ACD whose queue plays hold music until the caller gives up."""

    def __init__(self) -> None:
        self.requests: list[QueueRequest] = []

    def enqueue(self, channel: Any, request: QueueRequest) -> QueueResult:
        self.requests.append(request)
        channel.play("local_stream://moh")
        return QueueResult(QueueOutcome.TIMEOUT)


class SilentErp:
    """An HTTP business system that accepts requests and never answers."""

    def __init__(self) -> None:
        self.requests = 0
        self.server = StreamServer(("127.0.0.1", 0), self._handle)

    def _handle(self, sock: Any, address: Any) -> None:
        self.requests += 1
        sock.recv(4096)
        gevent.sleep(60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def silent_erp():
    erp = SilentErp()
    erp.server.start()
    yield erp
    erp.server.stop(timeout=0.1)


@pytest.fixture
def engine(tmp_path, silent_erp):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "bad.yaml").write_text(FLOW.replace("start: menu", f'start: menu\nvars: {{erp: "{silent_erp.url}"}}'),
                                    encoding="utf-8")
    sim = FreeSwitchSim("ClueCon", time_scale=0.01)
    sim.start()
    eng = SimEngine(sim, flows, tmp_path, {"7000": "bad"}, queues=HoldingQueue()).start()  # type: ignore[arg-type]
    yield eng
    eng.stop()
    sim.stop()


def app_started(call, name: str) -> bool:
    return any(app == name for app, _ in call.apps)


@pytest.mark.parametrize("key, node, started", [
    ("1", "readout", lambda e, c: any(t.startswith("您的号码是") for t in e.said(c))),
    ("2", "message", lambda e, c: app_started(c, "record")),
    ("3", "rate", lambda e, c: e.collects(c) == 2),
    ("4", "agent", lambda e, c: "local_stream://moh" in c.played),
    ("6", "account", lambda e, c: e.collects(c) == 2),
])
def test_a_caller_hanging_up_inside_a_node_ends_the_flow_there_and_is_recorded(engine, key, node, started):
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, [key])
    assert engine.sim.wait_until(lambda: started(engine, call), 10), call.apps
    call.hangup()
    (record,) = engine.finished()
    assert record.ended_by_caller and record.outcome == "caller_hangup"
    assert record.path == ["menu", node]
    assert engine.log.surveys == []


def test_a_message_ended_by_the_caller_hanging_up_is_kept(engine):
    # the caller picks 2, speaks for about two seconds after the one-second prompt, and hangs up
    script = [Press("2", during="play_and_get_digits"), Wait(3.0), Hangup()]
    call = engine.sim.place_call("7000", "13800138000", script=script)
    (record,) = engine.finished()
    assert record.path == ["menu", "message"] and record.ended_by_caller
    assert record.recordings and record.recordings[0].endswith("-message.wav")
    assert app_started(call, "record")


def test_a_caller_hanging_up_while_the_business_system_hangs_ends_cleanly_after_the_timeout(engine, silent_erp):
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, ["5"])
    assert engine.sim.wait_until(lambda: silent_erp.requests == 1, 10)
    call.hangup()
    (record,) = engine.finished()
    assert record.ended_by_caller and record.outcome == "caller_hangup" and record.path[:2] == ["menu", "order"]


def test_a_business_system_that_never_answers_plays_the_failure_branch(engine):
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, ["5"])
    (record,) = engine.finished()
    assert record.path == ["menu", "order", "sorry", "bye"] and record.outcome == "completed"
    assert engine.said(call)[-2:] == ["系统繁忙", "再见"]


def test_survey_replays_after_invalid_keys_and_stores_the_valid_score(engine):
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, ["3", "9", "#", "4"])
    (record,) = engine.finished()
    assert engine.log.surveys == [(call.uuid, "rate", 4)] and record.surveys == [("rate", 4)]
    assert engine.said(call).count("请按1到5") == 2 and "谢谢" in engine.said(call)


def test_a_dtmf_flood_at_a_masked_collect_is_cut_to_size_and_masked(engine):
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, ["6", "12345678" * 40 + "#"])
    (record,) = engine.finished()
    assert record.digits == [("menu", "6"), ("account", "******78")]
    assert record.outcome == "completed" and not record.ended_by_caller
