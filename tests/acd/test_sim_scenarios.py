"""End-to-end ACD scenarios on the FreeSWITCH simulator over real sockets: the caller reaches the engine's
outbound server, waits with music, agent phones ring through the inbound connection, and the races of
issue 5 (hang-up during an offer, as the agent answers, unregister mid-offer, lost events) are checked."""
from __future__ import annotations

import time

import pytest

from engine.acd.legs import SwitchLegs
from engine.acd.models import Agent, AgentState, QueueConfig
from engine.acd.ports import CustomerInfo, MemoryCustomers, MemoryRecords
from engine.acd.service import QueueService
from engine.esl import commands
from engine.esl.connection import CallHungUp, InboundConnection, OutboundServer
from engine.ivr.ports import QueueOutcome, QueueRequest
from engine.sim import FreeSwitchSim

PASSWORD = "acd-test"
DID = "5000"


class Rig:
    """Simulator + inbound control connection + outbound server running the queue for every call."""

    def __init__(self, sim: FreeSwitchSim, queue: QueueConfig, agents: list[str], **service_kw) -> None:
        self.sim = sim
        self.records = MemoryRecords()
        host, port = sim.address
        self.control = InboundConnection(host, port, PASSWORD, heartbeat_timeout=5, reconnect_min_delay=0.05).start()
        assert self.control.wait_connected(5)
        self.service = QueueService({queue.name: queue}, [Agent(a, extension=a) for a in agents],
                                    legs=SwitchLegs(self.control), clock=time.time, agent_log=self.records,
                                    interactions=self.records, callbacks=self.records, recordings=self.records,
                                    **service_kw)
        self.reconciler = self.service.attach(self.control, reconcile_every=3600)
        self.service.start()
        self.results: dict[str, object] = {}
        self.server = OutboundServer("127.0.0.1", 0, self._flow).start()
        sim.route(DID, socket="%s:%d async full" % self.server.address)
        sim.set_sound(commands.MUSIC_ON_HOLD, 3600)  # a music stream plays until interrupted
        for a in agents:
            self.service.login(a, [queue.name])

    def _flow(self, channel) -> None:
        try:
            self.results[channel.uuid] = self.service.enqueue(channel, QueueRequest(queue="support",
                                                                                    call_uuid=channel.uuid))
        except CallHungUp:
            self.results[channel.uuid] = "hung up"
            raise
        channel.hangup()

    def agent(self, agent_id: str):
        return self.service.distributor.agents[agent_id]

    def agent_legs_of(self, ext: str) -> list:
        return [ch for ch in self.sim.channels.values()
                if ch.variables.get(commands.VAR_CALL_ID) and ch.name.startswith(f"sofia/internal/{ext}")] or \
            [ch for ch in self.sim.channels.values() if ext in ch.name and ch.direction == "outbound"]

    def states(self, agent_id: str) -> list[str]:
        return [s for a, s, _, _ in self.records.agent_states if a == agent_id]

    def close(self) -> None:
        for channel in list(self.sim.channels.values()):  # callers still queued end their flows
            channel.hangup("NORMAL_CLEARING")
        self.service.stop()
        self.reconciler.stop()
        self.server.stop(timeout=1)
        self.control.close()


@pytest.fixture
def sim(tmp_path):
    s = FreeSwitchSim(password=PASSWORD, time_scale=0.01, sounds_dir=str(tmp_path))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def rig_factory(sim):
    rigs = []

    def make(queue=None, agents=("1001", "1002"), **service_kw) -> Rig:
        rig = Rig(sim, queue or QueueConfig("support", wrap_up_seconds=0.5, offer_timeout=10), list(agents),
                  **service_kw)
        rigs.append(rig)
        return rig
    yield make
    for rig in rigs:
        rig.close()


def _partner(sim, uuid: str) -> str | None:
    channel = sim.channels.get(uuid)
    other = channel.bridged_to if channel is not None else None
    return other.uuid if other is not None else None


def until(sim, predicate, timeout=5.0) -> None:
    assert sim.wait_until(predicate, timeout), f"condition not reached within {timeout}s"


def test_caller_waits_with_music_then_talks_to_the_agent_who_answers(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=3, hangup_after=30)  # sim seconds: rings 3 s, talks 30 s
    rig = rig_factory(agents=("1001",))
    call = sim.place_call(DID, "13800138000")
    until(sim, lambda: rig.agent("1001").state is AgentState.ON_CALL)
    assert any(commands.MUSIC_ON_HOLD in p for p in call.played)
    until(sim, lambda: call.uuid in rig.results, timeout=8)
    assert rig.results[call.uuid].outcome is QueueOutcome.ANSWERED
    until(sim, lambda: rig.agent("1001").state is AgentState.AVAILABLE)
    assert rig.states("1001") == ["available", "ringing", "on-call", "wrap-up", "available"]
    originate = next(c for c in sim.command_log if "originate" in c)
    assert f"jq_call_id={call.uuid}" in originate and "ignore_early_media=true" in originate


def test_unanswered_agent_is_skipped_and_the_next_agent_gets_the_call(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=None, reject_cause="USER_BUSY")
    sim.add_endpoint("1002", answer_after=2, hangup_after=50)
    rig = rig_factory()
    call = sim.place_call(DID, "13800138001")
    until(sim, lambda: rig.agent("1002").state is AgentState.ON_CALL)
    assert rig.agent("1001").consecutive_no_answers == 1
    until(sim, lambda: call.uuid in rig.results, timeout=8)
    assert rig.results[call.uuid].outcome is QueueOutcome.ANSWERED


def test_caller_hang_up_during_offer_kills_the_ringing_agent_leg_at_once(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=None)  # rings until cancelled
    rig = rig_factory(agents=("1001",))
    call = sim.place_call(DID, "13800138002")
    until(sim, lambda: rig.agent("1001").state is AgentState.RINGING)
    leg = next(iter(rig.service.agent_legs))
    until(sim, lambda: leg in sim.channels)
    call.hangup()
    until(sim, lambda: leg not in sim.channels or not sim.channels[leg].up, timeout=2)
    until(sim, lambda: rig.agent("1001").state is AgentState.AVAILABLE)
    assert rig.results.get(call.uuid) == "hung up"
    assert any(f.get("abandoned") for f in rig.records.events_for(call.uuid))
    assert len(rig.records.callbacks) == 1


def test_caller_hanging_up_as_the_agent_answers_leaves_nobody_stuck(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=4, hangup_after=500)
    rig = rig_factory(agents=("1001",))
    call = sim.place_call(DID, "13800138003")
    until(sim, lambda: rig.agent("1001").state is AgentState.RINGING)
    leg = next(iter(rig.service.agent_legs))
    until(sim, lambda: leg in sim.channels and sim.channels[leg].answered)  # the agent picks up ...
    call.hangup()  # ... as the caller gives up
    until(sim, lambda: rig.agent("1001").state in (AgentState.AVAILABLE, AgentState.WRAP_UP))
    until(sim, lambda: leg not in sim.channels or not sim.channels[leg].up)
    until(sim, lambda: rig.agent("1001").state is AgentState.AVAILABLE)
    assert not rig.service.agent_legs and not rig.service.calls


def test_agent_bridged_before_the_originate_returns_hangs_up_and_the_caller_moves_on_at_once(sim, rig_factory):
    # Given a switch that is still inside the originate when the agent's answer event reaches the engine
    sim.switch.latency.originate_return = 0.5
    sim.add_endpoint("1001", answer_after=1, hangup_after=100)  # sim seconds: talks 1 s real
    rig = rig_factory(agents=("1001",))
    call = sim.place_call(DID, "13800138010")
    until(sim, lambda: rig.agent("1001").state is AgentState.ON_CALL)
    [leg] = list(rig.service.agent_legs)
    until(sim, lambda: _partner(sim, call.uuid) == leg)
    # Then FreeSWITCH cancels the originate although the leg is up and bridged ...
    assert sim.channels[leg].bridged_in_originate
    gone_at = []
    until(sim, lambda: leg not in sim.channels and (gone_at.append(time.monotonic()) or True), timeout=5)
    # ... and the agent's hang-up still ends the conversation: the caller's flow goes on, the agent wraps up
    until(sim, lambda: call.uuid in rig.results, timeout=2)
    assert rig.results[call.uuid].outcome is QueueOutcome.ANSWERED
    assert rig.agent("1001").state in (AgentState.WRAP_UP, AgentState.AVAILABLE)
    fields = {k: v for f in rig.records.events_for(call.uuid) for k, v in f.items()}
    assert fields["hangup_by"] == "agent" and fields["hangup_cause"] == "NORMAL_CLEARING"
    assert 0.5 < fields["talk_seconds"] < 3
    assert not rig.service.agent_legs


def test_freeswitch_bridges_on_the_agents_answer_and_the_engine_sends_no_bridge(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=2, hangup_after=40)
    rig = rig_factory(agents=("1001",), bridge_on_answer=True)
    call = sim.place_call(DID, "13800138011")
    until(sim, lambda: rig.agent("1001").state is AgentState.ON_CALL)
    [leg] = list(rig.service.agent_legs)
    until(sim, lambda: _partner(sim, call.uuid) == leg)
    # FreeSWITCH ran the bridge itself at the answer: the engine sent no uuid_bridge (nor uuid_break)
    originate = next(c for c in sim.command_log if "originate" in c and leg in c)
    assert f"api_on_answer='uuid_bridge {call.uuid} {leg}'" in originate
    assert not any(c.startswith(("uuid_bridge", "uuid_break")) for c in sim.command_log if "api_on_answer" not in c)
    assert sim.channels[leg].bridged_in_originate  # so the originate ended -ERR ORIGINATOR_CANCEL, ignored
    until(sim, lambda: call.uuid in rig.results, timeout=8)
    assert rig.results[call.uuid].outcome is QueueOutcome.ANSWERED
    fields = {k: v for f in rig.records.events_for(call.uuid) for k, v in f.items()}
    assert fields["hangup_by"] == "agent" and fields["bridged_at"] >= fields["answered_at"]


def test_ring_all_and_whisper_queues_keep_the_engine_driven_bridge(sim, rig_factory):
    from engine.acd.intents import Offer
    rig = rig_factory(QueueConfig("support", whisper="/sounds/vip.wav"), agents=("1001",), bridge_on_answer=True)
    rig.service.distributor.queues["plain"] = QueueConfig("plain")
    call = type("Call", (), {"callback": False})()
    assert not rig.service.executor.may_bridge_on_answer(call, Offer("c", "support", ("1001",), 10))
    assert not rig.service.executor.may_bridge_on_answer(call, Offer("c", "plain", ("1001", "1002"), 10))
    assert rig.service.executor.may_bridge_on_answer(call, Offer("c", "plain", ("1001",), 10))


def test_agent_phone_unregistering_mid_offer_moves_the_caller_to_another_agent(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=None)
    sim.add_endpoint("1002", answer_after=2, hangup_after=30)
    rig = rig_factory()
    rig.service.not_ready("1002", "briefing")
    call = sim.place_call(DID, "13800138004")
    until(sim, lambda: rig.agent("1001").state is AgentState.RINGING)
    rig.service.ready("1002")
    sim.unregister("1001")
    until(sim, lambda: rig.agent("1002").state is AgentState.ON_CALL)
    assert not rig.agent("1001").registered
    until(sim, lambda: call.uuid in rig.results, timeout=8)
    assert rig.results[call.uuid].outcome is QueueOutcome.ANSWERED


def test_lost_hang_up_event_is_repaired_by_reconciling_with_show_channels(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=2)
    rig = rig_factory(agents=("1001",))
    call = sim.place_call(DID, "13800138005")
    until(sim, lambda: rig.agent("1001").state is AgentState.ON_CALL)
    [leg] = list(rig.service.agent_legs)
    until(sim, lambda: any("uuid_bridge" in c and leg in c for c in sim.command_log))
    rig.control._handlers.clear()  # from here on the engine hears nothing: the hang-up event is lost
    rig.control.api(commands.uuid_kill(leg))
    until(sim, lambda: leg not in sim.channels)
    assert rig.agent("1001").state is AgentState.ON_CALL  # stuck, as with mod_callcenter
    rig.reconciler.grace = 0.0  # the leg is younger than the default grace (calls just set up are skipped)
    repairs = rig.reconciler.reconcile()
    assert leg in repairs.legs_gone
    assert rig.agent("1001").state in (AgentState.WRAP_UP, AgentState.AVAILABLE)
    until(sim, lambda: call.uuid in rig.results, timeout=8)


def test_agent_hang_up_during_wrap_up_does_not_disturb_the_wrap_up_timer(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=1, hangup_after=20)
    rig = rig_factory(QueueConfig("support", wrap_up_seconds=0.6), agents=("1001",))
    call = sim.place_call(DID, "13800138006")
    until(sim, lambda: rig.agent("1001").state is AgentState.WRAP_UP, timeout=8)
    leg_events = len(rig.records.agent_states)
    rig.service.leg_hung_up(commands.new_uuid(), "NORMAL_CLEARING")  # a stray late hang-up
    assert rig.agent("1001").state is AgentState.WRAP_UP and len(rig.records.agent_states) == leg_events
    until(sim, lambda: rig.agent("1001").state is AgentState.AVAILABLE, timeout=3)
    until(sim, lambda: call.uuid in rig.results)


def test_blind_transfer_to_another_agent_keeps_the_caller_and_its_context(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=1)
    sim.add_endpoint("1002", answer_after=1, hangup_after=50)
    rig = rig_factory()
    rig.service.not_ready("1002", "busy elsewhere")
    call = sim.place_call(DID, "13800138007")
    until(sim, lambda: rig.agent("1001").state is AgentState.ON_CALL)
    [leg1] = list(rig.service.agent_legs)
    until(sim, lambda: any("uuid_bridge" in c and leg1 in c for c in sim.command_log))
    rig.service.ready("1002")
    rig.service.transfer(call.uuid, "agent", "1002")
    until(sim, lambda: rig.agent("1002").state is AgentState.ON_CALL, timeout=1)
    assert not call.hung_up  # the caller survived the first agent's hang-up (park_after_bridge)
    assert rig.agent("1001").state in (AgentState.WRAP_UP, AgentState.AVAILABLE)
    pop = rig.service.bus.messages("acd.screen_pop")[-1]
    assert pop["agent_id"] == "1002" and pop["transferred_from"] == "1001"
    until(sim, lambda: call.uuid in rig.results, timeout=8)
    assert rig.results[call.uuid].detail == "agent 1002"


def test_attended_transfer_on_the_simulator(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=1)
    sim.add_endpoint("1002", answer_after=1)
    rig = rig_factory()
    rig.service.not_ready("1002", "busy elsewhere")
    call = sim.place_call(DID, "13800138008")
    until(sim, lambda: rig.agent("1001").state is AgentState.ON_CALL)
    [leg1] = list(rig.service.agent_legs)
    until(sim, lambda: any("uuid_bridge" in c and leg1 in c for c in sim.command_log))
    rig.service.ready("1002")
    leg2 = rig.service.consult(call.uuid, "1002")
    until(sim, lambda: any("uuid_bridge" in c and leg1 in c and leg2 in c for c in sim.command_log))
    until(sim, lambda: _partner(sim, leg1) == leg2, timeout=1)
    assert not call.hung_up
    rig.service.complete_transfer(call.uuid)
    until(sim, lambda: leg1 not in sim.channels or not sim.channels[leg1].up)
    until(sim, lambda: _partner(sim, leg2) == call.uuid)
    until(sim, lambda: rig.agent("1001").state in (AgentState.WRAP_UP, AgentState.AVAILABLE))
    rig.control.api(commands.uuid_kill(leg2))
    until(sim, lambda: call.uuid in rig.results, timeout=8)
    assert rig.results[call.uuid].detail == "agent 1002"


def test_real_time_timers_expire_an_offer_nobody_reports_and_ring_the_next_agent(sim, rig_factory, monkeypatch):
    monkeypatch.setattr("engine.acd.routing.OFFER_GRACE_SECONDS", 0.3)
    # Given agent phones that never answer and a switch whose answer/failure never reaches the engine
    sim.add_endpoint("1001", answer_after=None)
    sim.add_endpoint("1002", answer_after=1, hangup_after=20)
    rig = rig_factory(QueueConfig("support", offer_timeout=1, wrap_up_seconds=0.2))
    rig.service.not_ready("1002", "coffee")
    call = sim.place_call(DID, "13800138009")
    until(sim, lambda: rig.agent("1001").state is AgentState.RINGING)
    [leg] = list(rig.service.agent_legs)
    rig.service.agent_legs[leg].settled = True  # as if its job result and hang-up were both lost
    rig.service.ready("1002")  # (schedules nothing earlier: the timer greenlet keeps its wait)
    # Then the domain's offer expiry (1 s + grace) fires on the timer greenlet, cancels 1001 ...
    until(sim, lambda: rig.agent("1002").state is AgentState.ON_CALL, timeout=5)
    assert rig.agent("1001").state is AgentState.AVAILABLE
    until(sim, lambda: call.uuid in rig.results, timeout=8)


def _drop_control_connection(sim) -> None:
    """FreeSWITCH drops the engine's inbound ESL connection (channels keep running, as on a real switch)."""
    for listener in list(sim.switch.listeners):
        if not listener.outbound:
            listener.close_after_flush()


def test_originate_in_flight_during_an_esl_reconnect_is_reconciled_by_its_uuid(sim, rig_factory):
    # Given an agent phone ringing for a caller (the originate job still running in FreeSWITCH)
    sim.add_endpoint("1001", answer_after=None)
    rig = rig_factory(QueueConfig("support", offer_timeout=600, wrap_up_seconds=0.2), agents=("1001",))
    call = sim.place_call(DID, "13800138010")
    until(sim, lambda: rig.agent("1001").state is AgentState.RINGING)
    [leg] = list(rig.service.agent_legs)
    until(sim, lambda: leg in sim.channels)
    sessions = rig.control.sessions
    # When the control connection drops: the bgapi job fails with ConnectionLost though the leg still rings
    _drop_control_connection(sim)
    until(sim, lambda: rig.control.sessions > sessions)
    # Then the engine finds its leg by the origination uuid and kills it instead of leaving it ringing
    until(sim, lambda: leg not in sim.channels)
    assert rig.agent("1001").consecutive_no_answers == 0  # not the agent's fault
    # And the caller is offered again, with exactly one leg ringing for the agent
    until(sim, lambda: rig.agent("1001").state is AgentState.RINGING and leg not in rig.service.agent_legs)
    [new_leg] = list(rig.service.agent_legs)
    until(sim, lambda: new_leg in sim.channels)
    ringing = [u for u, ch in sim.channels.items() if ch.direction == "outbound" and "1001" in ch.name]
    assert ringing == [new_leg]
    assert not call.hung_up


class _WhisperTts:
    """Renders whisper text to one known file (the simulator plays it for its set duration)."""

    path = "/var/tts/whisper-vip.wav"

    def __init__(self) -> None:
        self.spoken: list[str] = []

    def announce(self, channel, text: str, language: str) -> None:
        pass

    def render(self, text: str, language: str) -> str:
        self.spoken.append(text)
        return self.path


def test_whisper_is_heard_by_the_agent_only_and_ends_before_the_bridge(sim, rig_factory):
    sim.add_endpoint("1001", answer_after=1, hangup_after=300)
    sim.set_sound(_WhisperTts.path, 60)  # 0.6 s at this time scale
    tts = _WhisperTts()
    customers = MemoryCustomers({"13800138020": CustomerInfo(customer_id="7", name="王芳", segment="vip")})
    queue = QueueConfig("support", wrap_up_seconds=0.5, whisper="VIP 客户 {{ customer.name }}")
    rig = rig_factory(queue, agents=("1001",), announcer=tts, customers=customers)
    seen: list[tuple[str, str, str]] = []
    rig.control.add_handler(lambda e: seen.append((e.name, e.get(commands.H_UNIQUE_ID) or "",
                                                   e.get(commands.H_APPLICATION) or "")))
    call = sim.place_call(DID, "13800138020")
    until(sim, lambda: rig.agent("1001").state is AgentState.ON_CALL)
    [leg] = list(rig.service.agent_legs)
    until(sim, lambda: _partner(sim, leg) == call.uuid)
    # The agent heard the rendered whisper on its own leg; the caller heard hold music, never the whisper
    assert tts.spoken == ["VIP 客户 王芳"]
    assert _WhisperTts.path in sim.channels[leg].played
    assert _WhisperTts.path not in call.played and any(commands.MUSIC_ON_HOLD in p for p in call.played)
    # And the bridge came only after the whisper had finished playing
    whisper_done = seen.index((commands.EV_CHANNEL_EXECUTE_COMPLETE, leg, commands.APP_PLAYBACK))
    until(sim, lambda: any(name == commands.EV_CHANNEL_BRIDGE for name, _, _ in seen))
    bridged = next(i for i, (name, _, _) in enumerate(seen) if name == commands.EV_CHANNEL_BRIDGE)
    assert whisper_done < bridged
    log = sim.command_log
    broadcast = next(i for i, c in enumerate(log) if f"uuid_broadcast {leg} {_WhisperTts.path} aleg" in c)
    assert next(i for i, c in enumerate(log) if "uuid_bridge" in c) > broadcast
