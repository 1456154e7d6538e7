"""A flow's transfer goes to an explicit context and number pattern: a caller cannot reach the agent
feature codes (`*21`…`*24`) or an internal context by what they type or say (issue 13.2)."""
from __future__ import annotations

from tests.ivr.fakes import FakeChannel


def flow(body: str, start: str = "t") -> str:
    return f"start: {start}\nnodes:\n{body}  bye: {{type: hangup}}\n"


def test_a_transfer_stays_in_the_public_context_unless_the_flow_names_another(harness):
    harness.write("main", flow('  t: {type: transfer, to: "8001", on_failure: bye}\n'))
    channel, record = harness.call()
    assert channel.commands[-1] == ("transfer", {"extension": "8001", "context": "public"})


def test_feature_codes_typed_by_a_caller_are_refused_by_the_default_pattern(harness):
    harness.write("main", flow('  t: {type: transfer, to: "{{ call.caller_name }}", context: default,'
                               ' on_failure: bye}\n'))
    for typed in ("*21", "*24", "#1", "1"):
        channel = FakeChannel()
        channel.caller_name = typed
        harness.runner().run(channel)
        assert "transfer" not in channel.names(), typed


def test_a_flow_can_allow_exactly_the_numbers_it_means(harness):
    harness.write("main", flow('  t: {type: transfer, to: "{{ call.caller_name }}", context: agents,'
                               ' pattern: "8[0-9]{3}", on_failure: bye}\n'))
    allowed, refused = FakeChannel(), FakeChannel()
    allowed.caller_name, refused.caller_name = "8001", "9001"
    harness.runner().run(allowed)
    harness.runner().run(refused)
    assert allowed.commands[-1] == ("transfer", {"extension": "8001", "context": "agents"})
    assert "transfer" not in refused.names()
