"""Fixtures for the simulator tests: a started FreeSwitchSim at time scale 0.01 and an outbound listener."""
from __future__ import annotations

import pytest

from engine.sim import FreeSwitchSim
from .helpers import OutboundServer


@pytest.fixture
def sim(tmp_path):
    s = FreeSwitchSim(password="ClueCon", time_scale=0.01, sounds_dir=str(tmp_path))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def engine_listener():
    srv = OutboundServer()
    yield srv
    srv.stop()
