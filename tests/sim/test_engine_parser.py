"""The engine's own sans-IO parser reads every byte the simulator writes (events, replies, notices)."""
from __future__ import annotations

import pytest
from engine.sim import Press

from .helpers import Splitter
from .test_fidelity_calls import finish, lifecycle_route, observer

protocol = pytest.importorskip("engine.esl.protocol")


@pytest.mark.parametrize("fmt", ["plain", "json", "xml"])
def test_engine_parser_splits_simulator_stream_like_the_reference_splitter(sim, fmt):
    lifecycle_route(sim)
    peer = observer(sim, fmt)
    sim.place_call("5000", "01011", "测试 来电", script=[Press("12#", at=0.5, during="play_and_get_digits")])
    finish(peer, sim)
    data = bytes(peer.raw)
    mine = Splitter().feed(data)
    parser = protocol.Parser()
    frames = []
    for i in range(0, len(data), 977):          # odd split points
        frames += parser.feed(data[i:i + 977])
    assert len(frames) == len(mine) > 40
    assert [f.content_type for f in frames] == [f.content_type for f in mine]
