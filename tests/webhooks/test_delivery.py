"""The outbox delivers signed events to a real receiver on loopback, retries in order per call, survives a crash."""
from __future__ import annotations

import json
import time

import gevent
import pytest

from engine.store.database import open_store
from engine.store.repos.webhooks import OutboxRepository
from engine.webhooks.config import Subscriber, WebhookSettings
from engine.webhooks.delivery import DeliveryWorker, http_post
from engine.webhooks.events import CALL_ANSWERED, CALL_ENDED, CALL_OFFERED, KINDS, WebhookEvent
from engine.webhooks.outbox import Outbox
from engine.webhooks.policy import RetryPolicy
from tests.webhooks.conftest import SECRET

FAST = RetryPolicy(first_delay=0.01, max_delay=0.05, max_attempts=10, max_age=60)


def outbox_for(store, url: str, policy: RetryPolicy = FAST, events=KINDS) -> Outbox:
    settings = WebhookSettings((Subscriber("crm", url, SECRET, frozenset(events)),), timeout=2, poll_every=0.05,
                               retry=policy)
    return Outbox(OutboxRepository(store), settings)


def call_events(t0: float) -> list[WebhookEvent]:
    """Two calls whose events interleave: A offered, B offered, A answered, B ended, A ended."""
    script = [(CALL_OFFERED, "A"), (CALL_OFFERED, "B"), (CALL_ANSWERED, "A"), (CALL_ENDED, "B"), (CALL_ENDED, "A")]
    return [WebhookEvent(kind, call, t0 + n, {"call_id": call}) for n, (kind, call) in enumerate(script)]


def drain(worker: DeliveryWorker, receiver, want: int, rounds: int = 400) -> None:
    for _ in range(rounds):
        worker.deliver_once(worker.settings.subscribers[0])
        if len(receiver.accepted) >= want:
            return
        gevent.sleep(0.01)
    raise AssertionError(f"only {len(receiver.accepted)} of {want} delivered; tried {len(receiver.tried)}")


def test_events_arrive_signed_with_the_documented_envelope(store, receiver) -> None:
    outbox = outbox_for(store, receiver.url)
    event = WebhookEvent(CALL_OFFERED, "call-1", time.time(), {"call_id": "call-1", "queue": "support"})
    assert outbox.enqueue(event) == 1
    assert outbox.enqueue(event) == 0  # the same event twice (a replayed journal line) is stored once
    drain(DeliveryWorker(outbox), receiver, 1)
    assert receiver.bad_signatures == 0
    body = receiver.accepted[0]
    assert body["id"] == event.event_id and body["type"] == "call.offered"
    assert body["data"] == {"call_id": "call-1", "queue": "support"} and body["occurred_at"].endswith("+00:00")
    row = OutboxRepository(store).get(1)
    assert row.delivered_at is not None and row.attempts == 1


def test_a_wrong_secret_is_refused_by_the_receiver_and_kept_as_the_rows_error(store, receiver) -> None:
    settings = WebhookSettings((Subscriber("crm", receiver.url, b"not-the-shared-secret-at-all"),), retry=FAST)
    outbox = Outbox(OutboxRepository(store), settings)
    outbox.enqueue(WebhookEvent(CALL_OFFERED, "x", time.time(), {}))
    assert DeliveryWorker(outbox).deliver_once(settings.subscribers[0]) == 0
    assert receiver.bad_signatures == 1 and not receiver.accepted
    assert OutboxRepository(store).get(1).last_error == "HTTP 401 Unauthorized"


def test_a_failing_receiver_gets_every_event_after_retries_in_order_per_call(store, receiver) -> None:
    receiver.fail_first = 3
    outbox = outbox_for(store, receiver.url)
    events = call_events(time.time())
    for event in events:
        outbox.enqueue(event)
    drain(DeliveryWorker(outbox), receiver, len(events))
    assert sorted(receiver.ids()) == sorted(e.event_id for e in events) and len(receiver.ids()) == len(events)
    for call in ("A", "B"):
        expected = [e.event_id for e in events if e.key == call]
        assert [e["id"] for e in receiver.accepted if e["data"]["call_id"] == call] == expected
        # no event of a call was even tried before the call's earlier event was accepted
        tried = [e["id"] for e in receiver.tried if e["data"]["call_id"] == call]
        assert [i for n, i in enumerate(tried) if n == 0 or i != tried[n - 1]] == expected
    assert len(receiver.tried) == len(events) + 3


def test_a_receiver_that_never_accepts_makes_dead_letters_that_retry_requeues(store, receiver) -> None:
    receiver.fail_first = 10 ** 6
    outbox = outbox_for(store, receiver.url, RetryPolicy(first_delay=0.01, max_delay=0.01, max_attempts=2))
    worker = DeliveryWorker(outbox)
    outbox.enqueue(WebhookEvent(CALL_OFFERED, "A", time.time(), {"call_id": "A"}))
    repo = OutboxRepository(store)
    for _ in range(200):
        worker.deliver_once(outbox.settings.subscribers[0])
        if repo.get(1).dead_at is not None:
            break
        gevent.sleep(0.01)
    row = repo.get(1)
    assert row.dead_at is not None and row.attempts == 2 and row.last_error.startswith("HTTP 500")
    [status] = repo.status()
    assert (status.pending, status.dead, status.delivered) == (0, 1, 0)
    receiver.fail_first = 0
    assert repo.requeue(None, time.time()) == 1
    receiver.tried.clear()
    drain(worker, receiver, 1)
    assert repo.status()[0].delivered == 1 and repo.get(1).dead_at is None


def test_a_crash_mid_delivery_loses_nothing_and_sends_nothing_twice(db_url, store, receiver) -> None:
    """The first worker dies (like the process) after three deliveries; a new outbox on a new connection to
    the same store sends the rest, in order, and none of the three again."""
    events = [WebhookEvent(CALL_OFFERED if n % 2 == 0 else CALL_ENDED, f"call-{n // 2}", time.time() + n,
                           {"call_id": f"call-{n // 2}", "n": n}) for n in range(10)]
    first = outbox_for(store, receiver.url)
    for event in events:
        first.enqueue(event)

    class Crash(BaseException):
        pass

    calls = []

    def dies_on_the_fourth(url, body, headers, timeout):
        calls.append(url)
        if len(calls) == 4:
            raise Crash()
        return http_post(url, body, headers, timeout)

    with pytest.raises(Crash):
        DeliveryWorker(first, post=dies_on_the_fourth).deliver_once(first.settings.subscribers[0])
    assert len(receiver.accepted) == 3
    reopened = open_store(db_url)
    try:
        second = outbox_for(reopened, receiver.url)
        worker = DeliveryWorker(second).start()  # the real greenlet, as the daemon runs it
        try:
            deadline = time.monotonic() + 20
            while len(receiver.accepted) < 10 and time.monotonic() < deadline:
                gevent.sleep(0.02)
        finally:
            worker.stop()
        assert sorted(receiver.ids()) == sorted(e.event_id for e in events) and len(receiver.ids()) == 10
        for call in {e.key for e in events}:  # in order per call
            assert [i for i in receiver.ids() if i in {e.event_id for e in events if e.key == call}] == \
                [e.event_id for e in events if e.key == call]
        assert [json.loads(r.body)["id"] for r in OutboxRepository(reopened).undelivered("crm")] == []
    finally:
        reopened.dispose()


def test_an_unwanted_event_is_not_stored_for_that_subscriber(store, receiver) -> None:
    outbox = outbox_for(store, receiver.url, events=[CALL_ENDED])
    assert outbox.enqueue(WebhookEvent(CALL_OFFERED, "A", time.time(), {})) == 0
    assert outbox.enqueue(WebhookEvent(CALL_ENDED, "A", time.time(), {})) == 1


def test_delivered_events_past_their_keep_time_are_purged_and_dead_letters_stay(store) -> None:
    outbox = outbox_for(store, "http://127.0.0.1:9/")
    for n in range(3):
        outbox.enqueue(WebhookEvent(CALL_ENDED, f"call-{n}", time.time(), {}))
    repo = OutboxRepository(store)
    repo.delivered(1, time.time() - 8 * 86400)
    repo.delivered(2, time.time())
    repo.dead(3, "HTTP 410 Gone", time.time() - 30 * 86400)
    assert repo.purge_delivered(time.time() - 7 * 86400) == 1
    assert repo.get(1) is None and repo.get(2) is not None and repo.get(3).dead_at is not None
