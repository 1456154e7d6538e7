"""Hold time: CHANNEL_HOLD .. CHANNEL_UNHOLD pairs per leg (pure, event time passed in), and end to end over
the simulator's event socket: an agent leg put on hold with uuid_hold adds the hold to the caller's
interaction in a real store (the caller's leg carries it; the agent's leg names it in bridge_uuid)."""
from __future__ import annotations

import datetime as dt
import time

import gevent
import pytest

from engine.acd.hold import HoldClock, HoldRecorder, event_time, legs_of
from engine.esl import commands
from engine.esl.events import Event
from engine.esl.inbound import InboundConnection
from engine.sim import FreeSwitchSim
from engine.store.repos.interactions import InteractionRepository
from tests.store.conftest import db_url, store  # noqa: F401  (real SQLite and PostgreSQL)

PASSWORD = "hold-test"


def _event(name: str, uuid: str, at: float | None = None, bridged: str = "") -> Event:
    headers = {"Event-Name": name, commands.H_UNIQUE_ID: uuid}
    if at is not None:
        headers[commands.H_EVENT_DATE_TIMESTAMP] = str(int(at * 1e6))
    if bridged:
        headers["variable_" + commands.VAR_BRIDGE_UUID] = bridged
    return Event(name=name, headers=headers)


def test_a_hold_lasts_from_hold_to_unhold_and_ends_at_hang_up_too() -> None:
    clock = HoldClock()
    clock.held("agent-leg", 100.0, ("agent-leg", "caller-leg"))
    clock.held("agent-leg", 105.0, ("agent-leg", "caller-leg"))  # a repeated hold keeps the first start
    assert clock.released("agent-leg", 130.5) == _ended(("agent-leg", "caller-leg"), 30.5)
    assert clock.released("agent-leg", 140.0) is None  # not on hold any more
    clock.held("other", 200.0, ("other",))
    assert clock.released("other", 260.0, ("other", "its-caller")).legs == ("other", "its-caller")


def _ended(legs, seconds):
    from engine.acd.hold import HoldEnded

    return HoldEnded(legs, seconds)


def test_held_channels_are_bounded() -> None:
    clock = HoldClock(max_channels=2)
    for i in range(3):
        clock.held(f"leg{i}", float(i), (f"leg{i}",))
    assert clock.released("leg0", 10.0) is None and clock.released("leg2", 10.0) is not None


def test_the_recorder_reads_the_event_time_and_the_bridged_leg() -> None:
    written = []
    recorder = HoldRecorder(lambda legs, s: written.append((legs, s)), clock=lambda: 0.0,
                            spawn=lambda fn, *a: fn(*a))
    recorder(_event(commands.EV_CHANNEL_HOLD, "agent-leg", 1000.0, bridged="caller-leg"))
    recorder(_event(commands.EV_CHANNEL_UNHOLD, "agent-leg", 1012.25, bridged="caller-leg"))
    recorder(_event(commands.EV_CHANNEL_HANGUP, "agent-leg", 1020.0))  # no hold open: nothing more
    assert written == [(("agent-leg", "caller-leg"), 12.25)]
    assert event_time(_event("X", "u"), lambda: 7.0) == 7.0
    assert legs_of(_event("X", "u", bridged="v")) == ("u", "v")


@pytest.mark.timeout(60)
def test_uuid_hold_on_the_switch_adds_the_hold_to_the_callers_interaction(store) -> None:
    sim = FreeSwitchSim(password=PASSWORD, time_scale=1.0)
    sim.start()
    sim.add_endpoint("1001", answer_after=0.05, hangup_after=None)
    sim.route("7100", apps=[("answer", ""), ("bridge", "user/1001")])
    inbound = InboundConnection(*sim.address, PASSWORD).start()
    interactions = InteractionRepository(store)
    try:
        assert inbound.wait_connected(10)
        inbound.add_handler(HoldRecorder(interactions.add_hold, time.time, gevent.spawn))
        call = sim.place_call("7100", "13900000077", script=[])
        interaction = interactions.start("inbound", dt.datetime.now(dt.timezone.utc), caller="13900000077",
                                         call_id=call.uuid)

        def agent_leg():
            return next((ch for ch in list(sim.switch.channels.values())
                         if ch.direction == "outbound" and "/1001" in ch.name), None)

        assert sim.wait_until(lambda: agent_leg() is not None and agent_leg().answered, 10)
        leg = agent_leg()
        before = time.time()
        assert inbound.api(commands.uuid_hold(leg.uuid)).startswith("+OK")
        gevent.sleep(0.3)
        assert inbound.api(commands.uuid_hold(leg.uuid, on=False)).startswith("+OK")
        after = time.time()
        assert sim.wait_until(lambda: interactions.get(interaction).hold_seconds is not None, 10)
        held = interactions.get(interaction).hold_seconds
        assert 0.3 <= held <= after - before
        call.hangup()
    finally:
        inbound.close()
        sim.stop()
