"""`jinqiao webhooks status|retry|test`: the outbox's backlog and failures, requeue, and a signed test POST."""
from __future__ import annotations

import time
import uuid

import click

from engine.store.cliutil import config_of, fail, open_cli_store, store_errors


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def webhooks(database_url: str | None) -> None:
    """Signed webhooks: what waits in the outbox, what failed, send again, try a receiver."""


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


@webhooks.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="How many failing or dead events to list.")
@click.pass_context
def status(ctx: click.Context, limit: int) -> None:
    """Backlog per subscriber, oldest pending age, failing events with their last error, dead letters."""
    from engine.store.repos.webhooks import OutboxRepository

    store = open_cli_store(ctx)
    try:
        with store_errors():
            repo = OutboxRepository(store)
            rows, problems = repo.status(), repo.problems(limit)
    finally:
        store.dispose()
    if not rows:
        click.echo("outbox empty: no webhook events stored")
        return
    now = time.time()
    click.echo("subscriber\tpending\toldest_pending\tfailing\tdead\tdelivered")
    for s in rows:
        oldest = _age(now - s.oldest_pending_at.timestamp()) if s.oldest_pending_at else "-"
        click.echo(f"{s.subscriber}\t{s.pending}\t{oldest}\t{s.failing}\t{s.dead}\t{s.delivered}")
    if problems:
        click.echo("\nid\tsubscriber\tevent\tkey\tattempts\tstate\tlast_error")
        for r in problems:
            state = "dead" if r.dead_at else f"retry in {_age(r.next_attempt_at.timestamp() - now)}"
            click.echo(f"{r.id}\t{r.subscriber}\t{r.kind}\t{r.ordering_key}\t{r.attempts}\t{state}\t{r.last_error}")


@webhooks.command()
@click.argument("event_row", metavar="ID", required=False, type=int)
@click.option("--dead", is_flag=True, help="Requeue every dead event.")
@click.pass_context
def retry(ctx: click.Context, event_row: int | None, dead: bool) -> None:
    """Send an event again now (ID from `webhooks status`), or every dead one with --dead."""
    from engine.store.repos.webhooks import OutboxRepository

    if (event_row is None) == (not dead):
        fail("give one event ID or --dead")
    store = open_cli_store(ctx)
    try:
        with store_errors():
            repo = OutboxRepository(store)
            if event_row is not None and repo.get(event_row) is None:
                fail(f"no webhook event with id {event_row}")
            count = repo.requeue(event_row, time.time())
    finally:
        store.dispose()
    if event_row is not None and not count:
        fail(f"webhook event {event_row} was already delivered")
    click.echo(f"requeued {count} event(s); the running engine sends them at its next look")


@webhooks.command()
@click.argument("url")
@click.option("--subscriber", metavar="NAME", help="Sign with this configured subscriber's secret "
              "(default: the one whose url is URL).")
def test(url: str, subscriber: str | None) -> None:
    """POST a signed `webhook.test` event to URL and print what the receiver answered."""
    from engine.webhooks.config import load_webhooks
    from engine.webhooks.delivery import http_post, signed_headers
    from engine.webhooks.events import WebhookEvent
    from engine.yamlsrc import SourceError

    if not url.startswith(("http://", "https://")):
        fail(f"URL: expected an http(s) URL, got {url!r}")
    config = config_of(None)
    try:
        settings = load_webhooks(config.webhooks, config.source)
    except SourceError as exc:
        fail(str(exc))
    chosen = settings.subscriber(subscriber) if subscriber else \
        next((s for s in settings.subscribers if s.url == url), None)
    if chosen is None:
        fail(f"no configured subscriber {'named ' + repr(subscriber) if subscriber else 'with url ' + url} "
             "(its secret signs the test)")
    event = WebhookEvent("webhook.test", "test", time.time(), {"subscriber": chosen.name}, uuid.uuid4().hex)
    body = event.body().encode("utf-8")
    result = http_post(url, body, signed_headers(chosen, event.event_id, event.kind, body, time.time()),
                       settings.timeout)
    if not result.ok:
        fail(f"{url}: not delivered: {result.error}")
    click.echo(f"{url}: delivered (event {event.event_id}, signed as subscriber {chosen.name})")
