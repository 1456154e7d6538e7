"""`jinqiao sim run`: option parsing, and the load mode's summary line and key presses (against a scripted engine)."""
from __future__ import annotations

from click.testing import CliRunner
from gevent.server import StreamServer

from engine.sim.cli import _parse_endpoint, _parse_route, load, sim

from .helpers import Frame, Peer


def test_route_and_endpoint_options_parse():
    assert _parse_route("5000=127.0.0.1:8084") == ("5000", "127.0.0.1:8084 async full")
    assert _parse_endpoint("1001:2.5") == ("1001", 2.5)
    assert _parse_endpoint("1002:never") == ("1002", None)


def test_run_requires_a_password(monkeypatch):
    monkeypatch.delenv("JINQIAO_SIM_PASSWORD", raising=False)
    result = CliRunner().invoke(sim, ["run", "--port", "0"])
    assert result.exit_code == 2 and "password" in result.output.lower()


def test_load_mode_places_calls_and_summarises(sim):
    def engine(sock, addr):
        p = Peer(sock)
        p.send("connect")
        p.next()
        p.cmd("myevents")
        p.send("sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true")
        p.next_reply()
        p.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE")
        p.send("sendmsg\ncall-command: execute\nexecute-app-name: read\nexecute-app-arg: 1 1 silence d 2000 #\n"
               "event-lock: true")
        p.next_reply()
        p.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE")
        p.send("sendmsg\ncall-command: hangup")
        p.wait_closed()

    server = StreamServer(("127.0.0.1", 0), engine)
    server.start()
    try:
        sim.route("7000", socket="127.0.0.1:%d async full" % server.address[1])
        line = load(sim, 20, "7000", "1380000", "1", concurrency=10, hangup_after=30)
    finally:
        server.stop()
    assert line.startswith("sim_load: calls=20 completed=20 failed=0 answered=20 ")
    assert "causes=NORMAL_CLEARING:20" in line


def _welcome_then_read_engine(heard_digits: list[str]):
    """A scripted engine: answer, a 3 s welcome prompt, then `read` one digit; hangs up NORMAL_CLEARING when it
    got "1", CALL_REJECTED otherwise."""
    def execute(p: Peer, app: str, arg: str) -> Frame:
        p.send(f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\nexecute-app-arg: {arg}\nevent-lock: true")
        p.next_reply()
        return p.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE" and f.ev.get("Application") == app)

    def engine(sock, addr):
        p = Peer(sock)
        p.send("connect")
        p.next()
        p.cmd("myevents")
        execute(p, "answer", "")
        execute(p, "playback", "welcome.wav")
        done = execute(p, "read", "1 1 silence d 2000 #")
        heard_digits.append(done.ev.get("variable_d", ""))
        p.send("sendmsg\ncall-command: hangup\nhangup-cause: "
               + ("NORMAL_CLEARING" if done.ev.get("variable_d") == "1" else "CALL_REJECTED"))
        p.wait_closed()
    return engine


def test_load_mode_presses_keys_when_the_flow_listens_not_during_the_welcome(sim):
    # Given a flow that plays a 3 s welcome (keys pressed then are lost) and then reads one digit
    sim.set_sound("welcome.wav", 3.0)
    heard: list[str] = []
    server = StreamServer(("127.0.0.1", 0), _welcome_then_read_engine(heard))
    server.start()
    try:
        sim.route("7001", socket="127.0.0.1:%d async full" % server.address[1])
        # When a load of callers each press 1
        line = load(sim, 5, "7001", "1380000", "1", concurrency=5, hangup_after=30)
    finally:
        server.stop()
    # Then every read got the 1
    assert heard == ["1"] * 5
    assert "causes=NORMAL_CLEARING:5" in line


def test_bad_key_groups_are_refused_with_the_group_named(monkeypatch):
    monkeypatch.setenv("JINQIAO_SIM_PASSWORD", "x")
    result = CliRunner().invoke(sim, ["run", "--port", "0", "--calls", "1", "--did", "1", "--digits", "1,x2"])
    assert result.exit_code == 2 and "'x2'" in result.output
    result = CliRunner().invoke(sim, ["call", "--to", "4000", "--from", "1", "--keys", "5@soon"])
    assert result.exit_code == 2 and "'5@soon'" in result.output


def test_each_key_group_goes_to_the_next_prompt_that_listens(sim):
    import gevent

    from engine.sim.listening import parse_keys, press_keys

    def engine(sock, addr):
        p = Peer(sock)
        p.send("connect")
        p.next()
        p.cmd("myevents")
        for app, arg in (("answer", ""), ("playback", "welcome.wav"), ("read", "1 1 silence first 2000 #"),
                         ("playback", "welcome.wav"), ("read", "1 4 silence second 2000 #")):
            p.send(f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\nexecute-app-arg: {arg}\nevent-lock: true")
            p.next_reply()
            p.wait_event(lambda f, app=app: f.event_name == "CHANNEL_EXECUTE_COMPLETE"
                         and f.ev.get("Application") == app)
        p.send("sendmsg\ncall-command: hangup")
        p.wait_closed()

    sim.set_sound("welcome.wav", 3.0)
    server = StreamServer(("127.0.0.1", 0), engine)
    server.start()
    try:
        sim.route("7002", socket="127.0.0.1:%d async full" % server.address[1])
        call = sim.place_call("7002", "13800000000")
        pressed = []
        driver = gevent.spawn(press_keys, call.channel, parse_keys("1, 42#"), pressed.append)
        assert call.wait_hangup(10)
        driver.join(5)
    finally:
        server.stop()
    assert call.variables.get("first") == "1" and call.variables.get("second") == "42"
    assert [p.digits for p in pressed] == ["1", "42#"]


def test_key_groups_parse_with_optional_times():
    from engine.sim.listening import KeyPress, parse_keys

    assert parse_keys("1, 880012345678#,9@12.5,") == [KeyPress("1"), KeyPress("880012345678#"), KeyPress("9", 12.5)]
    assert parse_keys("") == []
