"""The node selector and channel registry (engine/esl/nodes.py), the `freeswitch.nodes` config, and originates
spread over two real simulators by SwitchNodes (never onto a dead node)."""
from __future__ import annotations

import time

import gevent
import pytest

from engine.config import ConfigError, load_config
from engine.esl import commands
from engine.esl.inbound import InboundConnection
from engine.esl.nodes import ChannelRegistry, NodeSelector
from engine.esl.switchnodes import Node, SwitchNodes
from engine.sim import FreeSwitchSim


def test_the_least_loaded_connected_node_is_picked_and_weight_counts():
    selector = NodeSelector({"a": 1.0, "b": 1.0, "c": 2.0})
    assert selector.pick(0.0) is None  # nothing connected: nothing to pick
    for name in ("a", "b", "c"):
        selector.set_connected(name, True, 0.0)
    assert selector.pick(0.0, {"a": 3, "b": 1, "c": 5}) == "b"
    assert selector.pick(0.0, {"a": 4, "b": 4, "c": 6}) == "c"  # (6+1)/2 < (4+1)/1
    selector.heartbeat("b", 50)  # the switch says it has more sessions than our events show
    assert selector.pick(0.0, {"a": 4, "b": 1, "c": 20}) == "a"


def test_a_disconnected_node_is_never_picked_and_recent_failures_push_a_node_back():
    selector = NodeSelector({"a": 1.0, "b": 1.0}, failure_window=60.0, failure_penalty=5.0)
    selector.set_connected("a", True, 0.0)
    selector.set_connected("b", True, 0.0)
    selector.set_connected("b", False, 10.0)
    assert selector.pick(10.0, {"a": 1000}) == "a"
    selector.set_connected("b", True, 11.0)  # back, but its outage counts as a recent failure
    assert selector.pick(11.0, {"a": 3, "b": 0}) == "a"
    assert selector.pick(71.0, {"a": 3, "b": 0}) == "b"  # the failure has aged out
    selector.failed("b", 80.0)
    selector.failed("b", 80.0)
    # b: 0 channels + 2 failures x 5 = 10
    assert selector.pick(80.0, {"a": 11, "b": 0}) == "b"
    assert selector.pick(80.0, {"a": 10, "b": 0}) == "a"  # a tie goes to the first configured node
    assert selector.pick(80.0, {"a": 9, "b": 0}) == "a"


def test_the_registry_follows_channels_and_phones_per_node():
    registry = ChannelRegistry()
    registry.add("u1", "a")
    registry.add("u2", "b")
    registry.add("u3", "b")
    assert registry.node_of("u2") == "b" and registry.counts() == {"a": 1, "b": 2}
    registry.remove("u2")
    assert registry.node_of("u2") is None and registry.counts() == {"a": 1, "b": 1}
    registry.registered("1001", "a")
    registry.registered("1002", "b")
    registry.registered("1001", "b")  # the phone moved to node b
    assert registry.phone_node("1001") == "b" and registry.phones_on("b") == {"1001", "1002"}
    registry.unregistered("1001", "a")  # a late unregister from the old node changes nothing
    assert registry.phone_node("1001") == "b"
    assert registry.forget_node("b") == {"u3"} and registry.node_of("u3") is None


def write(tmp_path, text):
    path = tmp_path / "jinqiao.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_nodes_config_reads_password_files_and_the_single_form_is_one_node(tmp_path):
    (tmp_path / "a.pw").write_text("node-a-secret\n")
    config = load_config(write(tmp_path, """
freeswitch:
  password: shared-secret
  nodes:
    - {name: a, host: 10.0.0.1, password_file: a.pw, weight: 2, sip_host: 192.168.0.1}
    - {name: b, host: 10.0.0.2, port: 8022}
"""), environ={})
    a, b = config.freeswitch.node_list()
    assert (a.name, a.host, a.port, a.password, a.weight, a.sip_address) == (
        "a", "10.0.0.1", 8021, "node-a-secret", 2.0, "192.168.0.1:5060")
    assert (b.name, b.port, b.password, b.sip_address) == ("b", 8022, "shared-secret", "10.0.0.2:5060")
    single = load_config(write(tmp_path, "freeswitch: {host: 10.1.1.1, port: 8021}\n"), environ={})
    (only,) = single.freeswitch.node_list()
    assert (only.name, only.host, only.port) == ("main", "10.1.1.1", 8021)


@pytest.mark.parametrize("nodes, line, message", [
    ("\n    - {name: a}\n    - {name: a, host: 10.0.0.2}", 4, "freeswitch.nodes[1].name: duplicate node name 'a'"),
    ("\n    - {name: a}\n    - {name: b}", 4, "freeswitch.nodes[1].port: 127.0.0.1:8021 is also nodes[0]"),
    (" [{host: 10.0.0.1}]", 2, "freeswitch.nodes[0]: a node needs a name"),
    (" [{name: a, colour: red}]", 2, "freeswitch.nodes[0].colour: unknown setting"),
    (" [{name: a, weight: 0}]", 2, "freeswitch.nodes[0].weight: must be a finite number above 0"),
    (" [{name: a, port: 70000}]", 2, "freeswitch.nodes[0].port: must be a TCP port"),
    (" [{name: 'a b'}]", 2, "freeswitch.nodes[0].name: must be a letter"),
    (" [{name: a, password_file: missing.pw}]", 2, "freeswitch.nodes[0].password_file: cannot read"),
    (" [a]", 2, "freeswitch.nodes[0]: expected a mapping"),
    (" {a: 1}", 2, "freeswitch.nodes: expected a list"),
])
def test_bad_node_entries_are_located(tmp_path, nodes, line, message):
    path = write(tmp_path, f"freeswitch:\n  nodes:{nodes}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    text = str(info.value)
    assert message in text and text.startswith(f"{path}:{line}:"), text


def test_a_password_file_with_a_dollar_is_refused(tmp_path):
    (tmp_path / "bad.pw").write_text("pa$$word\n")
    with pytest.raises(ConfigError, match=r"nodes\[0\]\.password_file: .*bad.pw: must not contain '\$'"):
        load_config(write(tmp_path, "freeswitch:\n  nodes: [{name: a, password_file: bad.pw}]\n"), environ={})


@pytest.fixture
def sims(tmp_path):
    pair = [FreeSwitchSim(password="nodes-pw", time_scale=0.05, sounds_dir=str(tmp_path)) for _ in range(2)]
    for sim in pair:
        sim.start()
        sim.set_destination("13900000000", "answer", after=0.1, hangup_after=None)
    yield pair
    for sim in pair:
        sim.stop()


def connection(sim) -> InboundConnection:
    return InboundConnection("127.0.0.1", sim.address[1], "nodes-pw", reconnect_min_delay=0.05,
                             reconnect_max_delay=0.1)


def originate(nodes: SwitchNodes) -> tuple[str, object]:
    uuid = commands.new_uuid()
    command = commands.originate("sofia/gateway/pstn/13900000000", uuid=uuid, timeout=10)
    return uuid, nodes.bgapi(command)


def test_originates_spread_over_two_nodes_and_never_onto_a_dead_one(sims):
    a, b = sims
    nodes = SwitchNodes([Node("a", connection(a)), Node("b", connection(b))], lost_after=0.3).start()
    try:
        assert all(node.connection.wait_connected(10) for node in nodes.nodes.values())
        jobs = [originate(nodes) for _ in range(10)]
        for uuid, job in jobs:
            assert job.get(timeout=20).startswith("+OK"), job.value
        on_a = {uuid for uuid, _ in jobs if uuid in a.channels}
        on_b = {uuid for uuid, _ in jobs if uuid in b.channels}
        assert len(on_a) == len(on_b) == 5  # spread by channels in use
        assert all(nodes.node_of(uuid) == ("a" if uuid in on_a else "b") for uuid, _ in jobs)
        # A command about a channel goes to the node that has it
        some_b = sorted(on_b)[0]
        nodes.api(commands.uuid_kill(some_b))
        assert any(line.startswith("api uuid_kill " + some_b) for line in b.command_log)
        assert not any(line.startswith("api uuid_kill " + some_b) for line in a.command_log)
        # A channel the engine never heard of is found on the node that has it
        assert nodes.api(commands.uuid_exists(sorted(on_a)[0])).strip() == "true"
        assert nodes.api(commands.uuid_exists(commands.new_uuid())).strip() == "false"
        # show channels joins both nodes
        assert len(commands_rows(nodes)) == len(a.channels) + len(b.channels)

        # When node b's control connection is gone, every new call goes to a
        for listener in list(b.switch.listeners):
            if not listener.outbound:
                b.switch.remove_listener(listener)
                listener.sock.close()
        b._server.server.stop(timeout=0)
        deadline = time.monotonic() + 10
        while nodes.selector.nodes["b"].connected and time.monotonic() < deadline:
            gevent.sleep(0.02)
        before_b = len(b.channels)
        more = [originate(nodes) for _ in range(4)]
        for uuid, job in more:
            assert job.get(timeout=20).startswith("+OK")
            assert uuid in a.channels
        assert len(b.channels) == before_b
    finally:
        nodes.close()


def commands_rows(nodes: SwitchNodes) -> list:
    import json
    return json.loads(nodes.api(commands.show_channels_json()))["rows"]
