"""Behaviour of the simulator's ESL server: auth gate, filters, subscriptions, replies, outbound rules."""
from __future__ import annotations

from gevent import socket

from engine.sim import Hangup, Press

from .helpers import Peer, connect_inbound


def test_commands_before_auth_are_refused_but_connection_stays_open(sim):
    peer = connect_inbound(sim.address, auth=False)
    assert peer.cmd("api status").h["Reply-Text"] == "-ERR command not found"
    assert peer.cmd("auth ClueCon").h["Reply-Text"] == "+OK accepted"
    peer.close()


def test_wrong_password_gets_invalid_then_disconnect_notice_and_close(sim):
    peer = connect_inbound(sim.address, auth=False)
    assert peer.cmd("auth nope").h["Reply-Text"] == "-ERR invalid"
    notice = peer.next()
    assert notice.content_type == "text/disconnect-notice"
    assert peer.wait_closed()


def test_filter_on_unique_id_drops_background_job_unless_allowed(sim):
    peer = connect_inbound(sim.address)
    peer.cmd("event plain BACKGROUND_JOB")
    peer.cmd("filter Unique-ID 00000000-0000-0000-0000-000000000000")
    job = peer.cmd("bgapi status").h["Job-UUID"]
    peer.cmd("api uuid_exists x")            # a reply after the job: the job event would be before it
    assert not any(f.ev.get("Job-UUID") == job for f in peer.log if f.event is not None)
    assert peer.cmd("filter Event-Name BACKGROUND_JOB").h["Reply-Text"] == \
        "+OK filter added. [Event-Name]=[BACKGROUND_JOB]"
    job = peer.cmd("bgapi status").h["Job-UUID"]
    peer.wait_event(lambda f: f.ev.get("Job-UUID") == job)
    peer.close()


def test_negative_only_filters_drop_everything(sim):
    peer = connect_inbound(sim.address)
    peer.cmd("event plain ALL")
    peer.cmd("filter Event-Name -HEARTBEAT")
    peer.cmd("bgapi status")
    peer.cmd("api uuid_exists x")
    assert [f for f in peer.log if f.event is not None] == []
    peer.close()


def test_client_chosen_job_uuid_is_honoured_and_truncated_to_36(sim):
    peer = connect_inbound(sim.address)
    peer.cmd("event json BACKGROUND_JOB")
    r = peer.cmd("bgapi status\nJob-UUID: c11e47c0-0000-4000-8000-000000000001-extra")
    assert r.h["Reply-Text"] == "+OK Job-UUID: c11e47c0-0000-4000-8000-000000000001"
    ev = peer.wait_event(lambda f: f.event_name == "BACKGROUND_JOB")
    assert ev.content_type == "text/event-json"
    assert ev.ev["Job-UUID"] == "c11e47c0-0000-4000-8000-000000000001"
    assert ev.event_body.startswith("UP ")
    peer.close()


def test_custom_subscription_needs_the_subclass(sim):
    peer = connect_inbound(sim.address)
    peer.cmd("event plain CUSTOM sofia::register")
    sim.unregister("1001")
    sim.register("1001")
    ev = peer.wait_event(lambda f: f.event_name == "CUSTOM")
    assert ev.ev["Event-Subclass"] == "sofia::register"
    assert ev.ev["from-user"] == "1001"
    peer.close()


def test_api_reply_bodies_keep_freeswitch_quirks(sim):
    peer = connect_inbound(sim.address)
    assert peer.cmd("api show channels as json").body == b'{"row_count": 0}\n'
    assert peer.cmd("api uuid_getvar nope x").body == b"-ERR No such channel!\n"
    assert peer.cmd("api uuid_answer nope").body == b"-ERROR\n"
    assert peer.cmd("api create_uuid").body.count(b"-") == 4
    assert peer.cmd("api frobnicate 1").body == b"-ERR frobnicate Command not found!\n"
    assert peer.cmd("api hupall").body == b"+OK hangup all channels with cause MANAGER_REQUEST\n"
    peer.close()


def test_uuid_setvar_getvar_and_undef(sim):
    sim.route("1", apps=[("answer", ""), ("park", "")])
    call = sim.place_call("1", "100")
    assert sim.wait_until(lambda: "CHANNEL_PARK" in call.events, 2)
    peer = connect_inbound(sim.address)
    assert peer.cmd("api uuid_setvar %s jq_call_id 42" % call.uuid).body == b"+OK\n"
    assert peer.cmd("api uuid_getvar %s jq_call_id" % call.uuid).body == b"42"
    assert peer.cmd("api uuid_getvar %s nothing" % call.uuid).body == b"_undef_"
    assert peer.cmd("api uuid_exists %s" % call.uuid).body == b"true"
    dump = peer.cmd("api uuid_dump %s json" % call.uuid).body
    assert b'"variable_jq_call_id":"42"' in dump and not dump.endswith(b"\n")
    assert peer.cmd("api uuid_kill %s USER_BUSY" % call.uuid).body == b"+OK\n"
    assert call.wait_hangup(2) and call.hangup_cause == "USER_BUSY"
    peer.close()


def test_sendmsg_to_unknown_uuid_is_an_invalid_session(sim):
    peer = connect_inbound(sim.address)
    r = peer.cmd("sendmsg 11111111-2222-3333-4444-555555555555\ncall-command: hangup")
    assert r.h["Reply-Text"] == "-ERR invalid session id [11111111-2222-3333-4444-555555555555]"
    peer.close()


def test_outbound_socket_without_full_refuses_api_and_event(sim, engine_listener):
    sim.route("2", socket=engine_listener.address + " async")
    call = sim.place_call("2", "200", script=[Hangup(at=30)])
    peer = engine_listener.accept()
    peer.send("connect")
    assert peer.next().h["Control"] == "single-channel"
    assert peer.cmd("api status").h["Reply-Text"] == "-ERR command not found"
    assert peer.cmd("event plain ALL").h["Reply-Text"] == "-ERR command not found"
    assert peer.cmd("myevents").h["Reply-Text"] == "+OK Events Enabled"
    assert peer.cmd("myevents").h["Reply-Text"] == "-ERR aready enabled."
    assert peer.cmd("getvar nothing_here").h["Reply-Text"] == "-ERR command not found"
    peer.close()
    assert call.wait_hangup(2)


def test_first_outbound_command_other_than_connect_gets_no_reply(sim, engine_listener):
    sim.route("3", socket=engine_listener.address + " async full")
    sim.place_call("3", "300", script=[Hangup(at=30)])
    peer = engine_listener.accept()
    peer.send("myevents")
    peer.send("connect")
    first = peer.next()
    assert first.h.get("Event-Name") == "CHANNEL_DATA"      # the connect reply, nothing before it
    peer.close()


def test_outbound_myevents_sees_only_its_channel_and_is_disconnected_without_linger(sim, engine_listener):
    sim.route("4", socket=engine_listener.address + " async full")
    other = sim.place_call("5", "999")          # no route: hangs up with NO_ROUTE_DESTINATION
    call = sim.place_call("4", "400", script=[Hangup(at=0.5)])
    peer = engine_listener.accept()
    peer.send("connect")
    peer.next()
    peer.cmd("myevents json")
    peer.send("sendmsg\ncall-command: execute\nexecute-app-name: answer")
    assert peer.wait_closed(5)
    uuids = {f.ev.get("Unique-ID") for f in peer.log if f.event is not None}
    assert uuids == {call.uuid}
    assert other.hangup_cause == "NO_ROUTE_DESTINATION"
    last = peer.log[-1]
    assert last.h["Content-Disposition"] == "disconnect" and last.h["Controlled-Session-UUID"] == call.uuid


def test_hash_digit_arrives_url_encoded_in_plain(sim):
    sim.route("6", apps=[("answer", ""), ("park", "")])
    peer = connect_inbound(sim.address)
    peer.cmd("event plain DTMF")
    call = sim.place_call("6", "600", script=[Press("#", at=0.1), Hangup(at=5)])
    got = b""
    while b"DTMF-Digit" not in got:
        fr = peer.next()
        got = fr.body
    assert b"DTMF-Digit: %23\n" in got
    call.hangup()
    peer.close()


def test_exit_before_auth_says_bye(sim):
    sock = socket.create_connection(sim.address)
    peer = Peer(sock)
    peer.next()
    assert peer.cmd("exit").h["Reply-Text"] == "+OK bye"
    assert peer.next().content_type == "text/disconnect-notice"
    assert peer.wait_closed()


def _outbound(sim, engine_listener, did):
    sim.route(did, socket=engine_listener.address + " async full")
    call = sim.place_call(did, "900", script=[Hangup(at=60)])
    peer = engine_listener.accept()
    peer.send("connect")
    peer.next()
    peer.cmd("myevents")
    return call, peer


def _execute(peer, app, arg, uuid, lock):
    peer.send("sendmsg\ncall-command: execute\nexecute-app-name: %s\nexecute-app-arg: %s\nEvent-UUID: %s%s"
              % (app, arg, uuid, "\nevent-lock: true" if lock else ""))
    assert peer.next_reply().h["Reply-Text"] == "+OK"


def _completions(peer, n):
    done = []
    while len(done) < n:
        fr = peer.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE")
        done.append(fr.ev["Application-UUID"])
    return done


def test_execute_without_event_lock_runs_nested_inside_a_playback(sim, engine_listener):
    sim.set_sound("/long.wav", 5)
    call, peer = _outbound(sim, engine_listener, "41")
    _execute(peer, "playback", "/long.wav", "p1", lock=False)
    _execute(peer, "set", "x=1", "s1", lock=False)
    assert _completions(peer, 2) == ["s1", "p1"]
    call.hangup()
    peer.close()


def test_event_locked_executes_run_one_after_another(sim, engine_listener):
    sim.set_sound("/long.wav", 5)
    call, peer = _outbound(sim, engine_listener, "42")
    _execute(peer, "playback", "/long.wav", "p1", lock=True)
    _execute(peer, "set", "x=1", "s1", lock=True)
    assert _completions(peer, 2) == ["p1", "s1"]
    call.hangup()
    peer.close()


def test_uuid_break_stops_playback_with_status_break(sim, engine_listener):
    sim.set_sound("/long.wav", 500)
    call, peer = _outbound(sim, engine_listener, "43")
    peer.cmd("event plain PLAYBACK_STOP")
    _execute(peer, "playback", "/long.wav", "p1", lock=True)
    peer.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE")
    assert peer.cmd("api uuid_break %s" % call.uuid).body == b"+OK\n"
    stop = peer.wait_event(lambda f: f.event_name == "PLAYBACK_STOP")
    assert stop.ev["Playback-Status"] == "break"
    done = peer.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE")
    assert done.ev["Application-Response"] == "FILE PLAYED"
    call.hangup()
    peer.close()


def test_body_is_used_as_app_argument_with_text_plain(sim, engine_listener):
    sim.set_sound("/var/rec/a b.wav", 0.1)
    call, peer = _outbound(sim, engine_listener, "44")
    body = "/var/rec/a b.wav"
    peer.send("sendmsg\ncall-command: execute\nexecute-app-name: playback\nevent-lock: true\nEvent-UUID: b1\n"
              "content-type: text/plain\ncontent-length: %d\n\n%s" % (len(body), body))
    peer.next_reply()
    done = peer.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE")
    assert done.ev["Application-Data"] == body
    assert call.played == [body]
    call.hangup()
    peer.close()


def test_listener_that_falls_behind_is_killed_like_freeswitch(sim, monkeypatch):
    from engine.sim import listener as listener_module
    monkeypatch.setattr(listener_module, "MAX_QUEUED", 200)
    peer = connect_inbound(sim.address)
    peer.cmd("event plain HEARTBEAT")
    for _ in range(300):                       # no yield: the writer cannot drain in between
        sim.switch.fire(sim.switch.heartbeat_event())
    assert peer.wait_closed(5)
    assert peer.log[-1].body == b"killed listener because of lost events\n"


def test_uuid_transfer_of_socket_call_runs_new_extension_and_the_socket_lasts_until_the_call_ends(
        sim, engine_listener):
    sim.route("50", apps=[("set", "landed=50"), ("sleep", "100000"), ("hangup", "")])
    call, peer = _outbound(sim, engine_listener, "45")
    esl = connect_inbound(sim.address)
    assert esl.cmd("api uuid_transfer %s 50 XML default" % call.uuid).body == b"+OK\n"
    assert sim.wait_until(lambda: call.channel.variables.get("landed") == "50", 5)
    assert not peer.wait_closed(0.2)  # transferred, still up: FreeSWITCH keeps the socket open
    assert peer.wait_closed(5)  # closed once the channel hung up in its new extension
    assert peer.log[-1].h["Content-Disposition"] == "disconnect"
    assert call.wait_destroyed(5)
    assert call.channel.variables["landed"] == "50"
    esl.close()


def test_stop_hangs_up_everything_and_closes_connections(engine_listener):
    from engine.sim import FreeSwitchSim
    fs = FreeSwitchSim(time_scale=0.01)
    fs.start()
    fs.route("60", socket=engine_listener.address + " async full")
    call = fs.place_call("60", "600")
    peer = engine_listener.accept()
    peer.send("connect")
    peer.next()
    peer.cmd("linger")
    esl = connect_inbound(fs.address)
    fs.stop()
    assert call.hangup_cause == "SYSTEM_SHUTDOWN"
    assert peer.wait_closed(3) and esl.wait_closed(3)
    assert esl.log[-1].body == b"The system is being shut down.\n"
    assert not fs.channels


def test_static_socket_replies_after_the_app_and_its_events_follow(sim, engine_listener):
    sim.set_sound("/p.wav", 1.0)
    sim.route("46", socket=engine_listener.address + " full")
    call = sim.place_call("46", "460", script=[Hangup(at=60)])
    peer = engine_listener.accept()
    peer.send("connect")
    assert peer.next().h["Socket-Mode"] == "static"
    peer.cmd("myevents")
    peer.send("sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: /p.wav")
    reply = peer.next()
    assert reply.content_type == "command/reply" and reply.h["Reply-Text"] == "+OK"
    after = peer.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE")
    assert after.ev["Application"] == "playback"
    call.hangup()
    peer.close()


def _parked_legs(sim, esl, *uuids):
    for u in uuids:
        sim.set_destination("n" + u, "answer", after=0.1)
        assert esl.cmd("api originate {origination_uuid=%s}sofia/gw/n%s &park()" % (u, u)).body == (
            "+OK %s\n" % u).encode()


def test_uuid_bridge_survivor_with_park_after_bridge_stays_up_and_can_be_rebridged(sim):
    esl = connect_inbound(sim.address)
    _parked_legs(sim, esl, "caller", "agent1", "agent2")
    esl.cmd("api uuid_setvar caller park_after_bridge true")
    esl.cmd("api uuid_bridge caller agent1")
    assert sim.wait_until(lambda: sim.channels["caller"].bridged_to is sim.channels["agent1"], 2)
    esl.cmd("api uuid_kill agent1")
    assert sim.wait_until(lambda: sim.channels["caller"].bridged_to is None and "agent1" not in sim.channels, 2)
    assert sim.channels["caller"].up
    esl.cmd("api uuid_bridge caller agent2")
    assert sim.wait_until(lambda: sim.channels["caller"].bridged_to is sim.channels["agent2"], 2)
    esl.cmd("api hupall")
    assert sim.wait_until(lambda: not sim.channels, 2)
    esl.close()


def test_uuid_bridge_of_an_already_bridged_leg_moves_it_and_parks_the_one_left(sim):
    esl = connect_inbound(sim.address)
    _parked_legs(sim, esl, "c", "a1", "a2")
    esl.cmd("api uuid_setvar c park_after_bridge true")
    esl.cmd("api uuid_bridge c a1")
    assert sim.wait_until(lambda: sim.channels["c"].bridged_to is sim.channels["a1"], 2)
    esl.cmd("api uuid_bridge a1 a2")                      # consult: the first agent talks to the second
    assert sim.wait_until(lambda: sim.channels["a1"].bridged_to is sim.channels["a2"], 2)
    assert sim.channels["c"].up and sim.channels["c"].bridged_to is None
    esl.cmd("api uuid_bridge c a2")                       # complete the transfer
    assert sim.wait_until(lambda: sim.channels["c"].bridged_to is sim.channels["a2"], 2)
    assert sim.wait_until(lambda: "a1" not in sim.channels, 2)   # left alone without park_after_bridge
    esl.cmd("api hupall")
    assert sim.wait_until(lambda: not sim.channels, 2)
    esl.close()
