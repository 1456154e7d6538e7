"""End to end with the simulator: a caller queued through the ACD of the engine `jinqiao serve` builds gets to
an agent, and the receiver gets call.offered, call.answered and call.ended, signed, in that order; the call
events go through the ACD's write-behind journal, so ones a crash left there reach the outbox on replay."""
from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from engine.acd.write_behind import WriteBehind
from engine.cli import AppContext, main
from engine.daemon import build_engine
from engine.sim import FreeSwitchSim, Press
from engine.store.repos.webhooks import OutboxRepository
from engine.webhooks.acd_events import EmittingInteractions
from engine.webhooks.config import Subscriber, WebhookSettings
from engine.webhooks.outbox import Outbox
from tests.webhooks.conftest import SECRET
from tests.telecom_engine import seed_agent, telecom_config

PASSWORD = "hooks-e2e-secret"


def test_a_simulated_inbound_call_reaches_the_receiver_as_offered_answered_ended(tmp_path, monkeypatch,
                                                                                 receiver) -> None:
    monkeypatch.setenv("JINQIAO_WEBHOOK_CRM_SECRET", SECRET.decode())
    sim = FreeSwitchSim(password=PASSWORD, time_scale=0.02)
    sim.start()
    config = telecom_config(tmp_path, sim, PASSWORD,
                            webhooks={"poll_every": 0.2, "subscribers": {"crm": {"url": receiver.url}}})
    seed_agent(config)
    sim.add_endpoint("2001", answer_after=0.5, hangup_after=3.0)
    engine = build_engine(config).start()
    try:
        assert engine.inbound.wait_connected(10)
        host, port = engine.outbound.address
        sim.route("10086", socket=f"{host}:{port} async full")
        result = CliRunner().invoke(main, ["agent", "login", "2001"], obj=AppContext(_config=config))
        assert result.exit_code == 0, result.output
        call = sim.place_call("10086", "13300000000", script=[Press("1", during="play_and_get_digits"),
                                                              Press("0", during="play_and_get_digits")])
        assert sim.wait_until(lambda: len([e for e in receiver.accepted
                                           if e["data"].get("call_id") == call.uuid]) >= 3, 30), receiver.tried
        mine = [e for e in receiver.accepted if e["data"].get("call_id") == call.uuid]
        assert [e["type"] for e in mine] == ["call.offered", "call.answered", "call.ended"]
        offered, answered, ended = (e["data"] for e in mine)
        assert offered["queue"] == "general_service" and offered["caller"] == "13300000000"
        assert answered["agent_id"] == "2001" and ended["agent_id"] == "2001" and ended["hangup_by"] == "agent"
        assert receiver.bad_signatures == 0
        call.hangup()
    finally:
        engine.stop()
        sim.stop()


def test_call_events_left_in_the_journal_by_a_crash_reach_the_outbox_once_on_replay(tmp_path, sqlite_store) -> None:
    journal = str(tmp_path / "acd-writes.journal")
    crm = Subscriber("crm", "http://127.0.0.1:9/", SECRET)
    outbox = Outbox(OutboxRepository(sqlite_store), WebhookSettings((crm,)))

    class Interactions:
        def queue_event(self, call_id, at, **fields):
            pass

    writes = WriteBehind(journal)
    writes.register("interactions", Interactions())
    writes.register("webhooks", outbox)
    writes.start()
    writes._worker.kill()  # the engine dies before the worker applied anything
    class Journaled:  # what WriteBehindInteractions does: submit the write to the journaled queue
        def queue_event(self, call_id, at, **fields):
            writes.submit("interactions", "queue_event", call_id, at, **fields)

    log = EmittingInteractions(Journaled(), lambda event: writes.submit("webhooks", "enqueue", event.as_dict()))
    now = time.time()
    log.queue_event("c1", now, caller="1330", queue="q", queue_entered_at=now)
    log.queue_event("c1", now + 1, agent_id="2001", answered_at=now + 1)
    writes.stop(timeout=0.1)
    assert OutboxRepository(sqlite_store).undelivered("crm") == []
    left = Path(journal).read_bytes()
    assert left
    for _ in range(2):  # the next start replays the journal; the same lines replayed again add nothing
        Path(journal).write_bytes(left)
        again = WriteBehind(journal)
        again.register("interactions", Interactions())
        again.register("webhooks", outbox)
        again.replay()
    kinds = [r.kind for r in OutboxRepository(sqlite_store).undelivered("crm")]
    assert kinds == ["call.offered", "call.answered"]
