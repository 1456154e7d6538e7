"""`jinqiao tokens create|list|revoke`: integration tokens for the REST API (the secret is printed once)."""
from __future__ import annotations

import datetime as dt
import re

import click

from engine.store.cliutil import fail, open_cli_store, store_errors

_DURATION = re.compile(r"^([1-9][0-9]{0,4})([dhm])\Z")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def _expiry(text: str | None, now: dt.datetime) -> dt.datetime | None:
    if not text:
        return None
    found = _DURATION.match(text.strip())
    if found is None:
        raise click.BadParameter(f"expected a duration like 90d, 12h or 30m, got {text!r}", param_hint="--expires")
    return now + dt.timedelta(**{_UNITS[found[2]]: int(found[1])})


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def tokens(database_url: str | None) -> None:
    """Integration tokens for the REST API (docs/api.md): scoped, revocable, stored hashed."""


@tokens.command("create")
@click.option("--name", required=True, help="Who or what uses the token (e.g. erp, gps-tracker).")
@click.option("--scope", "scopes", multiple=True, required=True, metavar="RESOURCE:ACCESS",
              help="e.g. customers:read, dnc:write; RESOURCE:* for both, * for every scope. Repeatable.")
@click.option("--expires", metavar="DURATION", help="Expire after 90d, 12h or 30m (default: never).")
@click.option("--agent", "agent_id", metavar="ID", help="Act for this agent: only their own calls and recordings.")
@click.pass_context
def create(ctx: click.Context, name: str, scopes: tuple[str, ...], expires: str | None, agent_id: str | None) -> None:
    """Create a token and print it (once: only its hash is kept)."""
    from engine.api.auth import expand_scopes
    from engine.store.repos.tokens import TokenRepository

    now = dt.datetime.now(dt.timezone.utc)
    expires_at = _expiry(expires, now)
    try:
        wanted = expand_scopes(scopes)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None
    with store_errors():
        token, secret = TokenRepository(open_cli_store(ctx)).create(name, wanted, now, expires_at, agent_id)
    click.echo(f"token {token.id} ({token.name}): {' '.join(token.scopes)}"
               + (f", agent {token.agent_id}" if token.agent_id else "")
               + (f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else ""), err=True)
    click.echo("store it now, it is not shown again:", err=True)
    click.echo(secret)


@tokens.command("list")
@click.pass_context
def list_tokens(ctx: click.Context) -> None:
    """Every token: id, name, prefix, scopes, state and last use (never the secret)."""
    from engine.store.repos.tokens import TokenRepository

    now = dt.datetime.now(dt.timezone.utc)
    with store_errors():
        rows = TokenRepository(open_cli_store(ctx)).list()
    for t in rows:
        state = "revoked" if t.revoked_at else ("expired" if not t.usable(now) else "active")
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        expires = f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never"
        click.echo(f"{t.id}\t{t.name}\t{t.prefix}…\t{state}\tlast used {used}\texpires {expires}\t"
                   f"{t.agent_id or '-'}\t{' '.join(t.scopes)}")
    click.echo(f"{len(rows)} tokens", err=True)


@tokens.command("revoke")
@click.argument("token_id", type=click.IntRange(min=1))
@click.pass_context
def revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke token TOKEN_ID (refused from the next request on)."""
    from engine.store.repos.tokens import TokenRepository

    with store_errors():
        if not TokenRepository(open_cli_store(ctx)).revoke(token_id, dt.datetime.now(dt.timezone.utc)):
            fail(f"no active token {token_id}")
    click.echo(f"token {token_id}: revoked")
