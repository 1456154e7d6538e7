"""`uuid_record <uuid> mask|unmask <path>` as FreeSWITCH does it (switch_ivr_record_session_mask sets or clears
SMBF_MASK on the file's media bug; masked frames are written as silence): the simulator keeps the masked
intervals of each recording, refuses a path it is not recording, and treats a repeated mask as a no-op."""
from __future__ import annotations

import pytest

from engine.esl import commands
from engine.sim import FreeSwitchSim
from engine.sim.api import run_api


@pytest.fixture
def sim(tmp_path):
    s = FreeSwitchSim(password="mask-test", time_scale=1.0, sounds_dir=str(tmp_path))
    s.start()
    s.route("7100", apps=[("answer", ""), ("park", "")])
    yield s
    s.stop()


def test_masked_intervals_are_kept_per_recording_and_unknown_paths_refused(sim, tmp_path):
    import gevent

    call = sim.place_call("7100", "13911112222", "mask test")
    assert sim.wait_until(lambda: "CHANNEL_PARK" in call.events, 5)
    path = str(tmp_path / "call.wav")

    def api(action: str, target: str = path) -> str:
        command = commands.uuid_record(call.uuid, action, target)
        name, arg = command.split(" ", 1)
        return run_api(sim.switch, name, arg, None)

    assert api("mask").startswith("-ERR Cannot mask recording session")  # nothing recorded yet
    assert api("start") == "+OK Success\n"
    gevent.sleep(0.2)
    assert api("mask") == "+OK Success\n"
    gevent.sleep(0.3)
    assert api("mask") == "+OK Success\n"  # a flag set twice: the interval keeps its start
    assert api("unmask") == "+OK Success\n"
    assert api("unmask", str(tmp_path / "other.wav")).startswith("-ERR Cannot unmask recording session")
    gevent.sleep(0.1)
    assert api("mask") == "+OK Success\n"  # still masked at the stop: masked up to the end
    assert api("stop") == "+OK Success\n"
    channel = sim.switch.channels[call.uuid]
    (s1, e1), (s2, e2) = channel.recording_masks[path]
    assert 0.15 <= s1 < e1 and e1 - s1 >= 0.25 and e1 < s2 <= e2
    assert channel.recordings[path] >= e2
    call.hangup()
