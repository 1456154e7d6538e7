"""The rendered FreeSWITCH files are valid XML that hands each configured DID to the engine's socket."""
from __future__ import annotations

import dataclasses
from xml.etree import ElementTree

import pytest

from engine.config import load_config
from engine.esl import commands
from engine.fsconf import render_all


def config_with(**ivr):
    base = load_config(None, environ={"JINQIAO_FREESWITCH_PASSWORD": "p&ss<word>", "JINQIAO_OUTBOUND_PORT": "9084"})
    return dataclasses.replace(base, ivr=dataclasses.replace(base.ivr, **ivr))


def test_each_did_becomes_an_extension_running_the_socket_app() -> None:
    files = render_all(config_with(dids={"4008001234": "logistics_hotline", "+10086": "telecom_service"}))
    root = ElementTree.fromstring(files["dialplan/public/jinqiao.xml"])
    extensions = root.findall("extension")
    assert [e.get("name") for e in extensions] == ["jinqiao_10086", "jinqiao_4008001234"]
    for ext in extensions:
        actions = {a.get("application"): a.get("data") for a in ext.iter("action")}
        assert actions["socket"] == "127.0.0.1:9084 async full"
    condition = extensions[1].find("condition")
    assert condition.get("expression") == r"^\+?4008001234$"


def test_event_socket_config_escapes_the_password_and_binds_loopback() -> None:
    text = render_all(config_with(dids={}))["autoload_configs/event_socket.conf.xml"]
    params = {p.get("name"): p.get("value") for p in ElementTree.fromstring(text).iter("param")}
    assert params["password"] == "p&ss<word>"
    assert params["listen-ip"] == "127.0.0.1"


def test_a_did_that_is_not_a_number_is_refused() -> None:
    import click

    with pytest.raises(click.UsageError, match="not a dialled number"):
        render_all(config_with(dids={"4000<x/>": "demo"}))


def test_agent_feature_codes_need_digest_auth_and_carry_no_caller_data() -> None:
    from engine.acd import agent_control
    from engine.esl import commands

    config = config_with(dids={})
    root = ElementTree.fromstring(render_all(config)["dialplan/default/jinqiao_features.xml"])
    codes = {}
    for ext in root.findall("extension"):
        conditions = {c.get("field"): c.get("expression") for c in ext.findall("condition")}
        assert conditions["${sip_authorized}"] == "^true$"
        assert conditions["${sip_auth_username}"] == agent_control.EXTENSION_PATTERN
        data = [a.get("data") for a in ext.iter("action") if a.get("application") == "event"][0]
        assert "caller_id" not in data  # nothing a caller sets reaches the event
        codes[conditions["destination_number"]] = dict(pair.split("=", 1) for pair in data.split(","))
    assert set(codes) == {r"^\*21$", r"^\*22$", r"^\*23$", r"^\*24$"}
    login = codes[r"^\*21$"]
    assert login["Event-Subclass"] == commands.SUBCLASS_AGENT_CONTROL and login["Event-Name"] == "CUSTOM"
    assert commands.H_AGENT_ID not in login and login[commands.H_AGENT_ACTION] == "login"
    assert login[agent_control.H_EXTENSION] == "${sip_auth_username}"
    key = agent_control.control_key(config.freeswitch.password)
    assert login[agent_control.H_TOKEN] == agent_control.feature_code_token(key)
    assert codes[r"^\*24$"][commands.H_AGENT_REASON] == "break"


def test_host_values_and_flow_names_are_escaped_or_refused() -> None:
    import click

    base = config_with(dids={})
    with pytest.raises(click.UsageError, match="freeswitch.host"):
        render_all(dataclasses.replace(base, freeswitch=dataclasses.replace(base.freeswitch, host='x"/><param')))
    with pytest.raises(click.UsageError, match="outbound"):
        render_all(dataclasses.replace(base, outbound=dataclasses.replace(base.outbound, host="a b")))
    with pytest.raises(click.UsageError, match="not a flow name"):
        render_all(config_with(dids={"4000": "demo${x}"}))
    with pytest.raises(click.UsageError, match="expands"):
        render_all(dataclasses.replace(base, freeswitch=dataclasses.replace(base.freeswitch, password="a$${b}")))


def _render(tmp_path, *extra):
    from click.testing import CliRunner

    from engine.cli import AppContext, main

    config = config_with(dids={"4000": "demo_welcome"})
    return CliRunner().invoke(main, ["fs", "render", "--out", str(tmp_path / "fs"), *extra],
                              obj=AppContext(_config=config))


def test_render_writes_private_files_and_never_overwrites_a_changed_one_without_force(tmp_path) -> None:
    import stat

    first = _render(tmp_path)
    assert first.exit_code == 0, first.output
    target = tmp_path / "fs" / "autoload_configs" / "event_socket.conf.xml"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert "reload mod_event_socket" in first.output
    # An operator edited the file (say, another listen-ip): render shows the change and keeps it.
    edited = target.read_text().replace('value="127.0.0.1"', 'value="10.0.0.1"')
    target.write_text(edited)
    target.chmod(0o644)
    kept = _render(tmp_path)
    assert kept.exit_code == 1 and target.read_text() == edited
    assert '-    <param name="listen-ip" value="10.0.0.1"/>' in kept.output and "--force" in kept.output
    assert "p&amp;ss" not in kept.output  # the password is never printed
    forced = _render(tmp_path, "--force")
    assert forced.exit_code == 0 and 'value="127.0.0.1"' in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def _nodes_config(tmp_path):
    (tmp_path / "b.pw").write_text("node-b-secret\n")
    path = tmp_path / "jinqiao.yaml"
    path.write_text(f"""
database: {{url: "sqlite:///{tmp_path / 'jq.db'}"}}
outbound: {{host: 10.0.0.9, port: 8084}}
ivr: {{dids: {{"4000": demo_welcome}}}}
freeswitch:
  password: node-a-secret
  nodes:
    - {{name: fs-a, host: 10.0.0.1, sip_host: 10.1.0.1}}
    - {{name: fs-b, host: 10.0.0.2, password_file: b.pw}}
""")
    return load_config(str(path), environ={})


def _render_with(tmp_path, config, *extra, input=None):
    from click.testing import CliRunner

    from engine.cli import AppContext, main

    return CliRunner().invoke(main, ["fs", "render", "--out", str(tmp_path / "fs"), *extra],
                              obj=AppContext(_config=config), input=input)


def test_several_nodes_render_a_folder_each_with_its_password_acl_and_peers(tmp_path) -> None:
    import stat
    import wave

    result = _render_with(tmp_path, _nodes_config(tmp_path))
    assert result.exit_code == 0, result.output
    for name, host, password, peer in (("fs-a", "10.0.0.1", "node-a-secret", "10.0.0.2"),
                                       ("fs-b", "10.0.0.2", "node-b-secret", "10.1.0.1")):
        folder = tmp_path / "fs" / name
        params = {p.get("name"): p.get("value") for p in ElementTree.parse(
            folder / "autoload_configs" / "event_socket.conf.xml").iter("param")}
        assert (params["listen-ip"], params["password"], params["apply-inbound-acl"]) == (host, password, "10.0.0.9/32")
        public = ElementTree.parse(folder / "dialplan" / "public" / "jinqiao.xml").getroot()
        assert {a.get("data") for a in public.iter("action") if a.get("application") == "socket"} == {
            "10.0.0.9:8084 async full"}
        peers = ElementTree.parse(folder / "dialplan" / "public" / "jinqiao_nodes.xml").getroot()
        condition = peers.find("extension/condition")
        assert condition.get("field") == "${network_addr}"
        assert condition.get("expression") == "^(" + peer.replace(".", r"\.") + ")$"
        bridge = [a.get("data") for a in peers.iter("action") if a.get("application") == "bridge"]
        assert bridge == ["user/$1@${domain_name}"]
        # Hold music without a sound pack: local_stream moh/<rate> over WAVs the render generated
        streams = ElementTree.parse(folder / "autoload_configs" / "local_stream.conf.xml").getroot()
        assert streams.get("name") == "local_stream.conf"
        for directory in streams.findall("directory"):
            rate = directory.get("name").split("/")[1]
            assert directory.get("name") == f"moh/{rate}"
            assert directory.get("path") == f"$${{conf_dir}}/jinqiao-moh/{rate}"
            assert {p.get("name"): p.get("value") for p in directory.iter("param")}["rate"] == rate
            wav = folder / "jinqiao-moh" / rate / "jinqiao-hold.wav"
            with wave.open(str(wav)) as audio:
                assert audio.getframerate() == int(rate) and audio.getnchannels() == 1
                assert audio.getnframes() >= 4 * int(rate)
                assert max(audio.readframes(audio.getnframes())) > 0  # not silence
        assert {d.get("name") for d in streams.findall("directory")} == {"moh/8000", "moh/16000"}
        for path in folder.rglob("*"):
            assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert commands.MUSIC_ON_HOLD == "local_stream://moh"  # what the queue plays is what is rendered


def test_agent_sip_users_come_from_the_agents_table_with_operator_passwords(tmp_path) -> None:
    import stat

    from engine.store.database import open_store
    from engine.store.migrate import upgrade
    from engine.store.repos.agents import AgentRepository

    config = _nodes_config(tmp_path)
    store = open_store(config.database_url)
    upgrade(store.engine)
    AgentRepository(store).add("alice", name="Alice <Ops>", extension="1001")
    AgentRepository(store).add("bob", extension="1002")
    store.dispose()
    secrets = tmp_path / "agents.pw"
    secrets.write_text("# extension password\n1001 alice-sip-pass\n")
    secrets.chmod(0o600)
    missing = _render_with(tmp_path, config, "--agents", "--agent-passwords", str(secrets))
    assert missing.exit_code != 0 and "agent bob: no SIP password for extension 1002" in missing.output
    assert not (tmp_path / "fs").exists()  # nothing written with a user missing
    secrets.write_text("1001 alice-sip-pass\n1002 short\n")
    short = _render_with(tmp_path, config, "--agents", "--agent-passwords", str(secrets))
    assert short.exit_code != 0 and "agent bob: SIP password must be at least 8 characters" in short.output
    secrets.write_text("1001 alice-sip-pass\n1002 bob-sip-pass\n")
    secrets.chmod(0o644)
    public = _render_with(tmp_path, config, "--agents", "--agent-passwords", str(secrets))
    assert public.exit_code != 0 and "chmod 600" in public.output
    secrets.chmod(0o600)
    done = _render_with(tmp_path, config, "--agents", "--agent-passwords", str(secrets))
    assert done.exit_code == 0, done.output
    for node in ("fs-a", "fs-b"):
        path = tmp_path / "fs" / node / "directory" / "default" / "jinqiao_agents.xml"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        users = {u.get("id"): u for u in ElementTree.parse(path).getroot().findall("user")}
        assert set(users) == {"1001", "1002"}
        assert {p.get("name"): p.get("value") for p in users["1001"].iter("param")} == {"password": "alice-sip-pass"}
        variables = {v.get("name"): v.get("value") for v in users["1001"].iter("variable")}
        assert variables["effective_caller_id_name"] == "Alice <Ops>"
        assert {p.get("value") for p in users["1002"].iter("param")} == {"bob-sip-pass"}
    assert "alice-sip-pass" not in done.output
    # Without a passwords file the operator is asked (no terminal here: refused, never a default)
    asked = _render_with(tmp_path, config, "--agents", "--force")
    assert asked.exit_code != 0 and "there is no default" in asked.output
