"""The push hub: one encoding per event shared by every stream, queued messages written together, and a stream
that falls behind gets one fresh snapshot instead of its dropped backlog (bounded memory, no reconnect)."""
from __future__ import annotations

from engine.web.push import QUEUE_MESSAGES, PushHub, encode


def _messages(chunk: bytes) -> list[bytes]:
    return [m for m in chunk.split(b"\n\n") if m]


def test_one_encoding_is_shared_by_every_stream_and_queued_messages_go_out_in_one_write():
    hub = PushHub()
    first, second = hub.stream(("supervisors",)), hub.stream(("supervisors",))
    assert next(first).startswith(b"retry:") and next(second).startswith(b"retry:")
    for n in range(3):
        hub.publish("supervisors", "floor", {"n": n})
    q1, q2 = hub._audiences["supervisors"]
    assert q1.qsize() == q2.qsize() == 3
    assert all(a is b for a, b in zip(q1.queue, q2.queue))  # the same bytes objects, not copies
    chunk = next(first)  # one write carries all three, in order
    assert _messages(chunk) == [encode("floor", {"n": n}).rstrip(b"\n") for n in range(3)]


def test_a_stream_that_falls_behind_gets_a_snapshot_then_only_newer_messages():
    hub = PushHub()
    snapshots: list[int] = []

    def snapshot() -> bytes:
        snapshots.append(1)
        return encode("hello", {"state": "available"})
    slow = hub.stream(("agent:1001",), resync=snapshot)
    fast = hub.stream(("agent:1001",))
    next(slow), next(fast)
    for n in range(QUEUE_MESSAGES + 5):  # the slow browser reads nothing meanwhile
        hub.publish("agent:1001", "state", {"n": n})
        if n < QUEUE_MESSAGES + 4:
            assert next(fast)  # the fast one keeps up
    hub.publish("agent:1001", "state", {"n": "after"})
    messages = _messages(next(slow))
    assert messages[0].startswith(b"event: hello") and snapshots == [1]
    newer = list(range(QUEUE_MESSAGES + 1, QUEUE_MESSAGES + 5)) + ["after"]  # after the overflow
    assert messages[1:] == [encode("state", {"n": n}).rstrip(b"\n") for n in newer]
    assert all(b'"n":0}' not in m for m in messages)  # the dropped backlog is not sent
    assert hub.resyncs == 1 and hub.count == 2  # still open: no reconnect needed


def test_idle_streams_get_a_keep_alive_comment_from_the_hub_heartbeat():
    hub = PushHub(heartbeat=0.05)
    idle = hub.stream(("supervisors",))
    next(idle)
    assert next(idle) == b": keep-alive\n\n"  # blocks until the hub's heartbeat greenlet wakes it
