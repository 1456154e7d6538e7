"""Blended agents (issue 9.3): inbound and outbound share one agent pool and one agent state. A reserved agent is
never offered an inbound call; inbound callers waiting reduce the agents predictive pacing counts as ready."""
from __future__ import annotations


import pytest

from engine.acd.distributor import AcdError
from engine.acd.models import AgentState
from engine.dialer.service import CampaignLoop, DialerSettings, OutboundCall
from tests.acd.helpers import agent, caller, distributor, offered_agent, queue


def test_a_reserved_agent_gets_no_inbound_offer_until_released() -> None:
    d = distributor([queue("sales")], [agent("1001", queues=("sales",))])
    d.reserve("1001", "preview", now=1.0)
    assert d.agents["1001"].state is AgentState.RESERVED and d.free_agents("sales") == []
    assert offered_agent(d.enqueue(caller("in-1", "sales", at=2.0), 2.0)) is None
    assert offered_agent(d.release("1001", 3.0)) == "1001"  # freed: the waiting inbound caller is offered at once


def test_only_a_free_agent_can_be_reserved_and_a_logout_waits_for_the_release() -> None:
    d = distributor([queue("sales")], [agent("1001", queues=("sales",))])
    d.reserve("1001", "manual call", now=1.0)
    with pytest.raises(AcdError):
        d.reserve("1001", "preview", now=1.5)
    d.logout("1001", 2.0)
    assert d.agents["1001"].state is AgentState.RESERVED
    d.release("1001", 3.0)
    assert d.agents["1001"].state is AgentState.LOGGED_OUT


class _Pool:
    """The QueueService surface the dialing loop reads (pool_figures), over a real Distributor."""

    def __init__(self, d) -> None:
        self.distributor = d

    def pool_figures(self, name: str) -> dict:
        d = self.distributor
        members = [a for a in d.agents.values() if name in a.queues]
        return {"logged_in": len(members), "ready": len(d.free_agents(name)), "paused": 0, "talk_started": [],
                "wrap_up_ends": [], "waiting": d.queue_length(name), "agents": {}}


class _Dialer:
    def __init__(self, pool, inbound_first: bool) -> None:
        self.queues = pool
        self.settings = DialerSettings(pacing="progressive", inbound_first=inbound_first)
        self.clock = lambda: 10.0

    def pool_figures(self, name):
        return self.queues.pool_figures(name)


def _handle():
    from engine.dialer.campaigns import parse_campaign
    from engine.dialer.hopper import CampaignHandle
    from engine.store.records import Campaign
    from engine.yamlsrc import load_text

    config = parse_campaign(load_text("name: c\nmode: predictive\nqueue: sales\n", "c.yaml"))
    return CampaignHandle(Campaign(1, "c", "predictive", "running", "sales", 3, 600), config)


@pytest.mark.parametrize("inbound_first, ready", [(True, 1), (False, 3)])
def test_inbound_callers_waiting_keep_the_agents_they_could_take(inbound_first: bool, ready: int) -> None:
    # Given 3 free agents but 2 inbound callers already waiting (no offer made yet: the agents just logged in)
    d = distributor([queue("sales")], [agent(a, queues=("sales",)) for a in ("1001", "1002", "1003")], ready=False)
    d._lengths["sales"] = 2  # two inbound callers in line
    for a in ("1001", "1002", "1003"):
        d.agents[a].state = AgentState.AVAILABLE
    loop = CampaignLoop.__new__(CampaignLoop)
    loop.dialer, loop.handle, loop.calls = _Dialer(_Pool(d), inbound_first), _handle(), {}
    from engine.dialer.pacing import PacingHistory
    loop.history = PacingHistory()
    # an outbound call of ours answered and waiting in the same line is not an inbound caller
    mine = OutboundCall("u1", loop.handle, None, 1, 0.0, answered_at=1.0, waiting=True, handled=True)  # type: ignore[arg-type]
    loop.calls["u1"] = mine
    d._lengths["sales"] = 3
    state = loop.pacing_state()
    assert state.agents_ready == ready and state.calls_waiting == 1
