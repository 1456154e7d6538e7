"""`jinqiao sim run`: option parsing and the load mode's summary line (against a scripted engine)."""
from __future__ import annotations

from click.testing import CliRunner
from gevent.server import StreamServer

from engine.sim.cli import _parse_endpoint, _parse_route, load, sim

from .helpers import Peer


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
