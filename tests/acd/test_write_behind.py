"""Store writes leave the call path (issue 14.2): they are journaled, queued and applied in order when the
engine is idle; a write still queued at a crash is replayed at the next start."""
from __future__ import annotations

import json

import gevent

from engine.acd.models import Agent, QueueConfig
from engine.acd.write_behind import WriteBehind, WriteBehindAgentLog, WriteBehindInteractions
from engine.ivr.ports import QueueRequest

from .fakes import FakeCaller, make_service, wait_until


class Recorder:
    def __init__(self, log=None):
        self.calls = [] if log is None else log

    def agent_state(self, *args):
        self.calls.append(("agent_state",) + args)

    def queue_event(self, call_id, at, **fields):
        self.calls.append(("queue_event", call_id, at, fields))

    def interaction_id(self, call_id, at=None, caller=None):
        return len(self.calls)


def test_writes_are_applied_later_in_submission_order(tmp_path):
    writes = WriteBehind(str(tmp_path / "j.journal"))
    store = Recorder()
    agent_log, interactions = WriteBehindAgentLog(writes, store), WriteBehindInteractions(writes, store)
    writes.start()
    agent_log.agent_state("1001", "ringing", "offer", 1.0)
    interactions.queue_event("c1", 2.0, offered_at=2.0)
    agent_log.agent_state("1001", "on-call", "answered", 3.0)
    assert store.calls == []  # nothing touched the store while submitting
    assert writes.flush(2)
    assert [c[0] for c in store.calls] == ["agent_state", "queue_event", "agent_state"]
    assert store.calls[1] == ("queue_event", "c1", 2.0, {"offered_at": 2.0})
    assert (tmp_path / "j.journal").read_text() == ""  # drained: the journal is empty again
    writes.stop()


def test_a_read_of_the_interaction_waits_for_the_writes_queued_before_it(tmp_path):
    writes = WriteBehind(None)
    store = Recorder()
    interactions = WriteBehindInteractions(writes, store)
    writes.start()
    interactions.queue_event("c1", 1.0, queue_entered_at=1.0)
    assert interactions.interaction_id("c1") == 1  # the queued write went first
    writes.stop()


def test_writes_still_queued_at_a_crash_are_replayed_at_the_next_start_and_applied_ones_are_not(tmp_path):
    journal = tmp_path / "j.journal"
    # Given a journal left by a crash: write 1 applied (done mark), writes 2 and 3 not, and a torn last line
    lines = [{"n": 1, "t": "agent_log", "m": "agent_state", "a": ["1001", "ringing", "offer", 1.0], "k": {}},
             {"done": 1},
             {"n": 2, "t": "interactions", "m": "queue_event", "a": ["c1", 2.0], "k": {"answered_at": 2.0}},
             {"n": 3, "t": "agent_log", "m": "agent_state", "a": ["1001", "on-call", "answered", 2.0], "k": {}}]
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"n": 4, "t": "age')
    # When the engine starts again
    writes = WriteBehind(str(journal))
    store = Recorder()
    WriteBehindAgentLog(writes, store)
    WriteBehindInteractions(writes, store)
    assert writes.replay() == 2
    # Then exactly the writes that were not applied are, in order, and the journal is emptied
    assert store.calls == [("queue_event", "c1", 2.0, {"answered_at": 2.0}),
                           ("agent_state", "1001", "on-call", "answered", 2.0)]
    assert journal.read_text() == ""


def test_no_store_write_runs_between_the_answer_event_and_the_bridge_command(tmp_path):
    writes = WriteBehind(str(tmp_path / "j.journal"))
    timeline: list = []
    store = Recorder(timeline)
    service, switch, clock = make_service([QueueConfig("support", wrap_up_seconds=0)],
                                          [Agent("1001", extension="1001", queues={"support": {}})],
                                          agent_log=WriteBehindAgentLog(writes, store),
                                          interactions=WriteBehindInteractions(writes, store))
    writes.start()
    run = switch._run
    switch._run = lambda cmd: (timeline.append(("command", cmd.split()[0])), run(cmd))[1]
    service.login("1001")
    caller = FakeCaller("caller-1")
    switch.callers["caller-1"] = caller
    waiting = gevent.spawn(service.enqueue, caller, QueueRequest(queue="support", call_uuid="caller-1"))
    wait_until(lambda: caller.played)
    assert writes.flush(2)
    timeline.clear()
    leg = switch.answer("1001")
    wait_until(lambda: ("command", "uuid_bridge") in timeline)
    # Then the bridge command went out before any store write of the answer
    first_write = next((i for i, item in enumerate(timeline) if item[0] != "command"), len(timeline))
    assert timeline.index(("command", "uuid_bridge")) < first_write
    assert writes.flush(2) and any(item[0] == "agent_state" and item[2] == "on-call" for item in timeline)
    switch.hang_up_leg(leg)
    waiting.get(timeout=2)
    writes.stop()
