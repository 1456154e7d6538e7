"""Screen-pops published on the bus are forwarded to webhooks as JSON; a failing webhook harms nothing."""
from __future__ import annotations

import json

from engine.acd.bus import TOPIC_AGENT_STATE, TOPIC_SCREEN_POP, Bus
from engine.acd.webhook import WebhookForwarder

from .fakes import wait_until


def test_screen_pop_is_posted_to_every_webhook_and_failures_are_counted():
    posted = []

    def post(url, body, timeout):
        if "down" in url:
            raise OSError("connection refused")
        posted.append((url, json.loads(body)))
        return 204

    bus = Bus()
    forwarder = WebhookForwarder(bus, ["http://crm/pop", "http://down/pop"], post=post)
    bus.publish(TOPIC_SCREEN_POP, {"call_id": "c1", "agent_id": "1001", "customer": {"name": "王芳"}})
    bus.publish(TOPIC_AGENT_STATE, {"agent_id": "1001", "state": "ringing"})  # not a forwarded topic
    wait_until(lambda: forwarder.delivered + forwarder.failed == 2)
    assert posted == [("http://crm/pop", {"topic": TOPIC_SCREEN_POP, "call_id": "c1", "agent_id": "1001",
                                          "customer": {"name": "王芳"}})]
    assert forwarder.failed == 1
    forwarder.close()
    witness = WebhookForwarder(bus, ["http://crm/witness"], post=post)
    bus.publish(TOPIC_SCREEN_POP, {"call_id": "c2"})
    wait_until(lambda: witness.delivered == 1)  # deliveries of the same message run in order
    assert forwarder.delivered == 1 and [u for u, _ in posted] == ["http://crm/pop", "http://crm/witness"]
