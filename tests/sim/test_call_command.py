"""`jinqiao sim call`: one call placed through a running `sim run` into a running engine, as a flow author does it."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.sim.callcontrol import CallControl, CallControlError, parse_request, request_call
from engine.sim.cli import sim

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_flow_author_calls_a_did_presses_a_key_and_sees_prompts_keys_and_path(tmp_path: Path) -> None:
    # Given a simulator and an engine attached to it, started from the command line with one config
    esl_port, socket_port = _free_port(), _free_port()
    config = tmp_path / "jinqiao.yaml"
    config.write_text(f"""engine: {{data_dir: {tmp_path / 'data'}, log_level: warning, log_format: text}}
freeswitch: {{host: 127.0.0.1, port: {esl_port}, password: flowpw}}
outbound: {{host: 127.0.0.1, port: {socket_port}, linger_seconds: 2}}
ivr: {{flows_dir: {ROOT / 'ivr_flows'}, dids: {{"4000": demo_welcome}}}}
""", encoding="utf-8")
    control = tmp_path / "ctl.sock"
    jinqiao = [sys.executable, "-m", "engine.cli", "--config", str(config)]
    env = {**os.environ, "JINQIAO_SIM_PASSWORD": "flowpw"}
    subprocess.run(jinqiao + ["db", "upgrade"], check=True, capture_output=True, cwd=tmp_path, timeout=60)
    # the static prompts are in the audio cache before the call, as `jinqiao tts render` leaves them
    subprocess.run(jinqiao + ["tts", "render", str(ROOT / "ivr_flows" / "demo_welcome.yaml")], check=True,
                   capture_output=True, cwd=tmp_path, timeout=120)
    switch = subprocess.Popen(jinqiao + ["sim", "run", "--port", str(esl_port), "--time-scale", "0.05",
                                         "--route", f"4000=127.0.0.1:{socket_port}", "--control", str(control)],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    engine = subprocess.Popen(jinqiao + ["serve"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: control.exists() and _accepts(socket_port), 30, "the simulator and the engine")
        assert stat.S_IMODE(control.stat().st_mode) == 0o600
        # When the author places one call and presses 7
        result = subprocess.run(jinqiao + ["sim", "call", "--control", str(control), "--to", "4000",
                                           "--from", "13800138000", "--keys", "7"],
                                capture_output=True, text=True, timeout=120, cwd=tmp_path)
        # Then the printout shows the prompts heard (static TTS texts by their text), the key, and the stored path
        assert result.returncode == 0, result.stdout + result.stderr
        lines = [line.strip() for line in result.stdout.splitlines()]
        assert lines[0].startswith("call ") and lines[0].endswith("13800138000 -> 4000")
        heard = [line for line in lines if line.startswith("heard")]
        assert heard[0].startswith("heard   您好，欢迎致电金桥呼叫中心。")
        order = [lines.index("listening (play_and_get_digits)"), lines.index("pressed 7"),
                 lines.index("hung up: NORMAL_CLEARING")]
        assert order == sorted(order)
        assert any(line.startswith("heard   请按任意一个数字键。") for line in lines[order[0]:order[1]])
        assert "flow demo_welcome: welcome > ask > say_key > goodbye" in lines
        assert "keys: ask:7" in lines and "outcome: completed" in lines
    finally:
        engine.terminate()
        switch.terminate()
        engine.wait(10)
        switch.wait(10)
    assert not control.exists(), "sim run removes its control socket when stopped"


def test_sim_call_without_a_simulator_says_what_to_start(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("JINQIAO_CONFIG", raising=False)
    result = CliRunner().invoke(sim, ["call", "--control", str(tmp_path / "none.sock"), "--to", "4000", "--from", "1"])
    assert result.exit_code == 2 and "start `jinqiao sim run` first" in result.output


@pytest.mark.parametrize("line, words", [
    (b"not json", "request is not JSON"),
    (b'{"to": "4000 1", "from": "1"}', "to: expected a number"),
    (b'{"to": "4000", "from": "1\\n"}', "from: expected a number"),
    (b'{"to": "4000", "from": "1", "keys": "1,x"}', "keys: bad key group 'x'"),
    (b'{"to": "4000", "from": "1", "hangup_after": -1}', "hangup_after"),
    (b'{"to": "4000", "from": "1", "name": "a\\u0000b"}', "name: expected at most 64 printable"),
])
def test_a_bad_request_is_refused_naming_the_field(line, words):
    with pytest.raises(CallControlError, match=words):
        parse_request(line)


def test_the_control_socket_replaces_a_stale_one_and_refuses_a_live_one(sim, tmp_path):
    path = tmp_path / "c.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # a socket file nobody serves, as a killed simulator leaves it
    first = CallControl(sim, str(path)).start()
    try:
        with pytest.raises(CallControlError, match="another simulator"):
            CallControl(sim, str(path)).start()
        replies = list(request_call(str(path), {"to": "4000 x", "from": "1"}, timeout=5))
        assert replies == [{"event": "error", "message": replies[0]["message"]}] and "to:" in replies[0]["message"]
    finally:
        first.stop()
    assert not path.exists()


def test_the_control_socket_refuses_a_directory_others_may_write(sim, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(CallControlError, match="only it may write"):
        CallControl(sim, str(shared / "c.sock")).start()


def test_the_caller_hangs_up_when_sim_call_is_interrupted(sim, tmp_path):
    # Given a DID whose call never ends by itself
    sim.route("7100", apps=[("answer", ""), ("playback", "silence_stream://-1")])
    control = CallControl(sim, str(tmp_path / "c.sock")).start()
    try:
        replies = request_call(control.path, {"to": "7100", "from": "13800138000"}, timeout=5)
        placed = next(replies)
        assert placed["event"] == "placed"
        channel = sim.channels[placed["uuid"]]
        assert sim.wait_until(lambda: channel.answered, 5)
        # When the author interrupts `sim call` (its socket closes)
        replies.close()
        # Then the simulated caller hangs up
        assert channel.hungup.wait(5)
        assert channel.hangup_cause == "NORMAL_CLEARING"
    finally:
        control.stop()
