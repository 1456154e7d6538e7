"""campaign.attempt_ended is stored in the transaction that concludes the attempt, and callback.due when an
open callback falls due (once, even when looked for again); on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from engine.dialer.hopper import Hopper
from engine.store.errors import StoreError
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.dial_attempts import DialAttemptRepository
from engine.store.repos.webhooks import OutboxRepository
from engine.webhooks.config import Subscriber, WebhookSettings
from engine.webhooks.delivery import DeliveryWorker
from engine.webhooks.outbox import Outbox
from tests.dialer.test_hopper import POLICY, T0, make_campaign
from tests.webhooks.conftest import SECRET


def outbox(store) -> Outbox:
    return Outbox(OutboxRepository(store), WebhookSettings((Subscriber("crm", "http://127.0.0.1:9/", SECRET),)))


def test_a_concluded_attempt_and_its_event_commit_together(store) -> None:
    box = outbox(store)
    handle = make_campaign(store, numbers=2)
    hopper = Hopper(store, POLICY, "d1")
    hopper.attempts.on_finished = box.attempt_ended
    first, second = hopper.fill(handle, 10, T0)
    one = hopper.begin(handle, first, T0).attempt
    hopper.finish(handle, one.id, "busy", T0 + dt.timedelta(seconds=20))
    hopper.finish(handle, one.id, "no_answer", T0 + dt.timedelta(seconds=30))  # already concluded: no event
    [row] = OutboxRepository(store).undelivered("crm")
    event = json.loads(row.body)
    assert (row.kind, row.ordering_key, event["type"]) == ("campaign.attempt_ended", f"attempt-{one.id}",
                                                         "campaign.attempt_ended")
    assert event["data"]["outcome"] == "busy" and event["data"]["number"] == first.number
    assert event["data"]["campaign_id"] == handle.id and event["occurred_at"] == "2026-03-02T03:00:20+00:00"

    def broken(conn, facts):  # the event cannot be stored: the outcome is not stored either
        raise StoreError("outbox refused")

    two = hopper.begin(handle, second, T0).attempt
    hopper.attempts.on_finished = broken
    with pytest.raises(StoreError):
        hopper.finish(handle, two.id, "answered", T0 + dt.timedelta(seconds=40))
    assert [a.outcome for a in DialAttemptRepository(store).for_number([second.number])] == ["dialing"]


def test_a_callback_falling_due_is_announced_once(store) -> None:
    box = outbox(store)
    now = dt.datetime.now(dt.timezone.utc)
    callbacks = CallbackRepository(store)
    due = callbacks.request("13812345678", "abandoned in support", now - dt.timedelta(seconds=30), "abandoned")
    callbacks.request("13812345679", "later", now + dt.timedelta(hours=2), "abandoned")
    worker = DeliveryWorker(box)
    assert worker.callbacks_due_once() == 1
    # a restarted engine looks again from a minute before the last such event: it finds the callback again
    # and stores nothing new
    assert DeliveryWorker(box).callbacks_due_once() == 0
    [row] = OutboxRepository(store).undelivered("crm")
    data = json.loads(row.body)["data"]
    assert row.kind == "callback.due" and data["callback_id"] == due.id and data["reason"] == "abandoned in support"
