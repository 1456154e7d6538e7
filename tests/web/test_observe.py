"""/metrics and /health on the engine's web server, scraped over a real socket from an engine that runs a
simulated call: the series parse with prometheus_client's own parser and say what happened; /health turns
503 when the ESL connection is down."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from engine.cli import AppContext, main
from engine.daemon import build_engine
from engine.sim import FreeSwitchSim, Press
from engine.web.server import start_web
from tests.telecom_engine import seed_agent, telecom_config

PASSWORD = "observe-secret"


def get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_show_a_live_call_and_health_follows_the_switch_connection(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JINQIAO_WEBHOOK_CRM_SECRET", "a-secret-of-at-least-16-bytes")
    sim = FreeSwitchSim(password=PASSWORD, time_scale=0.02)
    sim.start()
    config = telecom_config(
        tmp_path, sim, PASSWORD, freeswitch={"reconnect_max_delay": 0.5}, web={"port": 0},
        # a receiver that is not there: the call's events stay in the backlog
        webhooks={"subscribers": {"crm": {"url": "http://127.0.0.1:9/hooks"}}, "retry": {"first_delay": 60}})
    seed_agent(config)
    sim.add_endpoint("2001", answer_after=0.5, hangup_after=3600)
    engine = build_engine(config).start()
    web = start_web(engine, port=0)
    try:
        assert web.address[0] == "127.0.0.1"
        assert engine.inbound.wait_connected(10)
        host, port = engine.outbound.address
        sim.route("10086", socket=f"{host}:{port} async full")
        result = CliRunner().invoke(main, ["agent", "login", "2001"], obj=AppContext(_config=config))
        assert result.exit_code == 0, result.output
        call = sim.place_call("10086", "13300000000", script=[Press("1", during="play_and_get_digits"),
                                                              Press("0", during="play_and_get_digits")])
        assert sim.wait_until(lambda: engine.acd.service.snapshot()["agents"]["2001"]["state"] == "on-call", 20)
        assert sim.wait_until(lambda: engine.webhooks.outbox.repo.status()
                              and engine.webhooks.outbox.repo.status()[0].pending >= 2, 10)
        status, body, headers = get(web.url + "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "Set-Cookie" not in headers  # no session for a scraper
        got = samples(body)
        assert got[("jinqiao_calls", (("state", "connected"),))] == 1
        assert got[("jinqiao_agents", (("state", "on-call"),))] == 1
        assert got[("jinqiao_queue_waiting", (("queue", "general_service"),))] == 0
        assert ("jinqiao_queue_longest_wait_seconds", (("queue", "sales"),)) in got
        node = (("node", f"{config.freeswitch.host}:{config.freeswitch.port}"),)
        assert got[("jinqiao_esl_connected", node)] == 1 and got[("jinqiao_esl_reconnects_total", node)] == 0
        assert 0 <= got[("jinqiao_esl_event_lag_seconds", node)] < 60
        assert got[("jinqiao_webhook_backlog", (("subscriber", "crm"),))] >= 2  # offered, answered
        assert got[("jinqiao_webhook_dead", (("subscriber", "crm"),))] == 0
        status, body, _ = get(web.url + "/health")
        assert status == 200
        assert json.loads(body) == {"status": "ok", "esl_connected": {node[0][1]: True}, "store_reachable": True,
                                    "lease_role": "single"}
        call.hangup()
        sim.stop()  # the switch goes away
        assert sim.wait_until(lambda: not engine.inbound.connected, 10)
        status, body, _ = get(web.url + "/health")
        assert status == 503
        assert json.loads(body)["esl_connected"] == {node[0][1]: False} and json.loads(body)["status"] == "unhealthy"
        assert samples(get(web.url + "/metrics")[1])[("jinqiao_esl_connected", node)] == 0
    finally:
        web.stop()
        engine.stop()
        sim.stop()


def test_health_and_metrics_name_every_freeswitch_node(tmp_path) -> None:
    """With several nodes, /health and jinqiao_esl_connected list each node by name; one node down is unhealthy."""
    import types

    from engine.esl.inbound import InboundConnection
    from engine.esl.switchnodes import Node, SwitchNodes
    from engine.web.observe import EngineState

    sims = [FreeSwitchSim(password=PASSWORD, sounds_dir=str(tmp_path)) for _ in range(2)]
    for sim in sims:
        sim.start()
    nodes = SwitchNodes([Node(name, InboundConnection(*sim.address, PASSWORD, heartbeat_timeout=5,
                                                      reconnect_min_delay=0.05))
                         for name, sim in zip(("fs-a", "fs-b"), sims)]).start()
    try:
        for node in nodes.nodes.values():
            assert node.connection.wait_connected(5)
        state = EngineState(types.SimpleNamespace(inbound=nodes, store=None))
        assert [name for name, _ in state.nodes()] == ["fs-a", "fs-b"]
        assert all(connection.connected for _, connection in state.nodes())
        sims[1].stop()
        import time
        deadline = time.monotonic() + 5
        while dict((n, c.connected) for n, c in state.nodes())["fs-b"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dict((n, c.connected) for n, c in state.nodes()) == {"fs-a": True, "fs-b": False}
    finally:
        nodes.close()
        sims[0].stop()
