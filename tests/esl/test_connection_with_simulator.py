"""The gevent connection layer against the simulated FreeSWITCH over real loopback sockets."""
from __future__ import annotations

import gevent
import pytest
from gevent.event import Event as Flag
from gevent.server import StreamServer

from engine.esl import commands
from engine.esl.connection import CallChannel, CallHungUp, ConnectionLost, InboundConnection, OutboundServer
from engine.sim import FreeSwitchSim, Hangup, Press

PASSWORD = "test-secret"


@pytest.fixture
def sim():
    simulator = FreeSwitchSim(password=PASSWORD, time_scale=0.01)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def inbound(sim):
    host, port = sim.address
    connection = InboundConnection(host, port, PASSWORD, heartbeat_timeout=5, reconnect_min_delay=0.05).start()
    assert connection.wait_connected(5)
    yield connection
    connection.close()


def wait_for(predicate, timeout: float = 5.0) -> bool:
    with gevent.Timeout(timeout, False):
        while not predicate():
            gevent.sleep(0.005)
        return True
    return False


def test_api_returns_the_exact_response_body(inbound) -> None:
    assert inbound.api("uuid_exists 00000000-0000-0000-0000-000000000000") == "false"
    assert inbound.api("nonexistent_cmd").startswith("-ERR nonexistent_cmd Command not found!")


def test_bgapi_originate_resolves_with_the_background_job_and_events_reach_handlers(sim, inbound) -> None:
    sim.add_endpoint("1001", answer_after=0.5)
    leg = commands.new_uuid()
    seen: list[str] = []
    inbound.add_handler(lambda e: seen.append(e.name) if e.unique_id == leg else None)
    job = inbound.bgapi(commands.originate(commands.user_endpoint("1001"), uuid=leg,
                                          variables={commands.VAR_CALL_ID: "call-1"}))
    assert job.get(timeout=5).strip() == f"+OK {leg}"
    assert wait_for(lambda: commands.EV_CHANNEL_PARK in seen)
    assert seen.index(commands.EV_CHANNEL_CREATE) < seen.index(commands.EV_CHANNEL_ANSWER)
    assert inbound.api(commands.uuid_getvar(leg, commands.VAR_CALL_ID)) == "call-1"


def test_bgapi_failure_cause_comes_back_as_the_job_body(sim, inbound) -> None:
    sim.add_endpoint("1002", answer_after=None, reject_cause="USER_BUSY")
    job = inbound.bgapi(commands.originate(commands.user_endpoint("1002")))
    assert job.get(timeout=5).strip() == "-ERR USER_BUSY"


def test_wrong_password_never_connects_and_says_why(sim) -> None:
    host, port = sim.address
    connection = InboundConnection(host, port, "wrong", reconnect_max_delay=0.2).start()
    try:
        assert not connection.wait_connected(0.5)
        assert "invalid" in connection.last_error
    finally:
        connection.close()


def test_reconnects_and_resubscribes_after_freeswitch_restarts(sim) -> None:
    host, port = sim.address
    reconnected = Flag()
    connection = InboundConnection(host, port, PASSWORD, reconnect_min_delay=0.05, reconnect_max_delay=0.2)
    connection.on_reconnect(lambda: reconnected.set() if connection.sessions == 2 else None)
    connection.start()
    try:
        assert connection.wait_connected(5)
        sim.stop()
        assert wait_for(lambda: not connection.connected)
        replacement = FreeSwitchSim(password=PASSWORD, time_scale=0.01, port=port)
        replacement.start()
        try:
            assert reconnected.wait(5)
            replacement.add_endpoint("1001", answer_after=0.1)
            names: list[str] = []
            connection.add_handler(lambda e: names.append(e.name))
            assert connection.bgapi(commands.originate(commands.user_endpoint("1001"))).get(timeout=5).startswith("+OK")
            assert wait_for(lambda: commands.EV_CHANNEL_ANSWER in names)  # the subscription was restored
        finally:
            replacement.stop()
    finally:
        connection.close()


def test_a_silent_socket_is_declared_dead_by_the_heartbeat_watchdog() -> None:
    accepted: list[int] = []

    def silent_freeswitch(sock, _address) -> None:
        accepted.append(1)
        sock.sendall(b"Content-Type: auth/request\n\n")
        sock.recv(1024)
        sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        sock.recv(1024)
        sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n")
        gevent.sleep(30)  # then nothing at all: no HEARTBEAT

    server = StreamServer(("127.0.0.1", 0), silent_freeswitch)
    server.start()
    connection = InboundConnection("127.0.0.1", server.server_port, "x", heartbeat_timeout=0.3,
                                   reconnect_min_delay=0.01, reconnect_max_delay=0.05).start()
    try:
        assert wait_for(lambda: len(accepted) >= 2)
        assert "heartbeat" in connection.last_error
    finally:
        connection.close()
        server.stop(timeout=0.1)


def test_pending_api_calls_fail_fast_when_the_connection_drops() -> None:
    def drop_after_auth(sock, _address) -> None:
        sock.sendall(b"Content-Type: auth/request\n\n")
        sock.recv(1024)
        sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        sock.recv(1024)
        sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n")
        sock.recv(1024)  # the api command: never answered
        sock.close()

    server = StreamServer(("127.0.0.1", 0), drop_after_auth)
    server.start()
    connection = InboundConnection("127.0.0.1", server.server_port, "x", reconnect_min_delay=5).start()
    try:
        assert connection.wait_connected(5)
        with pytest.raises(ConnectionLost):
            connection.api("status", timeout=5)
    finally:
        connection.close()
        server.stop(timeout=0.1)


def _outbound(sim, handler) -> OutboundServer:
    server = OutboundServer("127.0.0.1", 0, handler, linger=5).start()
    host, port = server.address
    sim.route("5000", socket=f"{host}:{port} async full")
    return server


def test_outbound_call_answers_plays_collects_and_hangs_up(sim) -> None:
    results: dict = {}

    def flow(channel: CallChannel) -> None:
        results["caller"] = (channel.caller_number, channel.caller_name, channel.destination_number)
        channel.answer()
        channel.play("silence_stream://500")
        results["digits"] = channel.collect(prompt="silence_stream://200", min_digits=1, max_digits=4,
                                            timeout_ms=3000, terminators="#")
        channel.hangup()
        results["cdr"] = channel.wait_hangup_complete(5)

    server = _outbound(sim, flow)
    try:
        call = sim.place_call("5000", "13800138000", "张三",
                              script=[Press("42#", at=0.1, during="play_and_get_digits")])
        assert call.wait_hangup(10)
        assert wait_for(lambda: "cdr" in results)
        assert results["caller"] == ("13800138000", "张三", "5000")
        assert results["digits"] == "42"
        assert results["cdr"] is not None and results["cdr"].variable("hangup_cause") == "NORMAL_CLEARING"
        assert [app for app, _ in call.apps if app != "set"][:4] == ["socket", "answer", "playback",
                                                                     "play_and_get_digits"]
        assert server.completed_calls == 1 and server.failed_calls == 0
    finally:
        server.stop()


def test_caller_hanging_up_mid_playback_raises_call_hung_up_in_the_flow(sim) -> None:
    outcome: dict = {}

    def flow(channel: CallChannel) -> None:
        channel.answer()
        try:
            channel.play("silence_stream://60000")
        except CallHungUp:
            outcome["hung_up"] = channel.hangup_cause
            with pytest.raises(CallHungUp):
                channel.play("silence_stream://100")
            outcome["second_call_refused"] = True

    server = _outbound(sim, flow)
    try:
        call = sim.place_call("5000", "13900000000", script=[Hangup(at=2.0)])
        assert call.wait_hangup(10)
        assert wait_for(lambda: "second_call_refused" in outcome)
        assert outcome["hung_up"] == "NORMAL_CLEARING"
    finally:
        server.stop()


def test_execute_completions_are_matched_by_application_uuid_not_by_name(sim) -> None:
    played: list[str] = []

    def flow(channel: CallChannel) -> None:
        channel.answer()
        for ms in (300, 100, 200):
            event = channel.execute(commands.APP_PLAYBACK, f"silence_stream://{ms}")
            played.append(event.headers.get("Application-Data", ""))
        channel.hangup()

    server = _outbound(sim, flow)
    try:
        call = sim.place_call("5000", "13700000000")
        assert call.wait_hangup(10)
        assert played == ["silence_stream://300", "silence_stream://100", "silence_stream://200"]
    finally:
        server.stop()


def test_a_voicemail_ended_by_hanging_up_is_still_returned_then_the_call_is_over(sim, tmp_path) -> None:
    outcome: dict = {}
    path = tmp_path / "vm.wav"

    def flow(channel: CallChannel) -> None:
        channel.answer()
        outcome["seconds"] = channel.record(str(path), max_seconds=60)
        outcome["hung_up_after_record"] = channel.hung_up
        try:
            channel.play("silence_stream://100")
        except CallHungUp:
            outcome["next_command_refused"] = True

    server = _outbound(sim, flow)
    try:
        call = sim.place_call("5000", "13500000000", script=[Hangup(at=4.0)])
        assert call.wait_hangup(10)
        assert wait_for(lambda: "next_command_refused" in outcome)
        assert outcome["hung_up_after_record"] is True
        # Simulated seconds, as FreeSWITCH reports record_ms: up to the 4 s hang-up, less when the machine is
        # slow to start the recording (the simulated clock runs at 100x).
        assert 0 < outcome["seconds"] <= 5.0
        assert path.exists() and path.stat().st_size > 44
    finally:
        server.stop()


def test_a_failed_bridge_returns_its_cause_and_keeps_the_caller(sim) -> None:
    sim.add_endpoint("1009", answer_after=None, reject_cause="USER_BUSY")
    outcome: dict = {}

    def flow(channel: CallChannel) -> None:
        channel.answer()
        outcome["disposition"] = channel.bridge(commands.user_endpoint("1009"))
        channel.play("silence_stream://100")  # the caller is still here for the flow's next step
        outcome["still_up"] = not channel.hung_up
        channel.hangup()

    server = _outbound(sim, flow)
    try:
        call = sim.place_call("5000", "13400000000")
        assert call.wait_hangup(10)
        assert wait_for(lambda: "still_up" in outcome)
        assert outcome["disposition"] == "USER_BUSY"
        assert outcome["still_up"] is True
    finally:
        server.stop()


def test_a_background_job_whose_event_is_filtered_out_fails_after_its_timeout(sim) -> None:
    from engine.esl.wire import CommandTimeout

    host, port = sim.address
    # A filter on Event-Name lets only CHANNEL_CREATE through: BACKGROUND_JOB never arrives (pitfall 19).
    connection = InboundConnection(host, port, PASSWORD, filters=[("Event-Name", "CHANNEL_CREATE")]).start()
    try:
        assert connection.wait_connected(5)
        job = connection.bgapi("status", timeout=0.3)
        with pytest.raises(CommandTimeout):
            job.get(timeout=5)
        assert not connection._jobs  # forgotten, not leaked
    finally:
        connection.close()


def test_the_key_that_ended_one_playback_is_not_reported_for_the_next(sim) -> None:
    keys: list[str] = []

    def flow(channel: CallChannel) -> None:
        channel.answer()
        keys.append(channel.play("silence_stream://5000", terminators="#"))
        keys.append(channel.play("silence_stream://200", terminators="#"))
        channel.hangup()

    server = _outbound(sim, flow)
    try:
        call = sim.place_call("5000", "13200000000", script=[Press("#", during="playback")])
        assert call.wait_hangup(10)
        assert keys == ["#", ""]  # mod_dptools clears playback_terminator_used before each playback
    finally:
        server.stop()


def test_execute_async_returns_a_future_resolved_by_the_matching_completion(sim) -> None:
    seen: dict = {}

    def flow(channel: CallChannel) -> None:
        channel.answer()
        future = channel.execute_async(commands.APP_PLAYBACK, "silence_stream://300")
        seen["ready_at_once"] = future.ready()
        event = future.get(timeout=5)
        seen["completion"] = (event.name, event.headers.get("Application"), event.application_uuid is not None)
        channel.hangup()

    server = _outbound(sim, flow)
    try:
        call = sim.place_call("5000", "13100000000")
        assert call.wait_hangup(10)
        assert wait_for(lambda: "completion" in seen)
        assert seen["ready_at_once"] is False
        assert seen["completion"] == ("CHANNEL_EXECUTE_COMPLETE", "playback", True)
    finally:
        server.stop()
