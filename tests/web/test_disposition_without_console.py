"""A queue that needs a disposition before ready holds only agents who have the console open: an agent who works
from the phone alone (feature codes, `jinqiao agent`) could never enter one and would stay not-ready for good."""
from __future__ import annotations

import pytest

from tests.web.rig import KNOWN_CALLER, WebRig


@pytest.fixture
def rig(tmp_path):
    r = WebRig(tmp_path, agents=("1001",), answer_after=0.5)
    yield r
    r.close()


def test_an_agent_without_a_console_is_ready_again_after_wrap_up(rig) -> None:
    # Given agent 1001 logged in from the phone, no console open, in the disposition-required queue `support`
    rig.acd.login("1001")
    assert not rig.web.hub.watching("agent:1001")
    assert rig.wait(lambda: rig.state("1001") == "available", 10)
    # When a caller is served and hangs up
    call = rig.call(KNOWN_CALLER)
    assert rig.wait(lambda: rig.state("1001") == "on-call", 20)
    call.hangup()
    # Then the agent goes through wrap-up to available, never to not-ready for a disposition
    assert rig.wait(lambda: rig.state("1001") == "available", 15)
    assert "1001" not in rig.web.console.awaiting
