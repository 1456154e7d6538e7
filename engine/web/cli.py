"""`jinqiao users add|list|remove`: console logins. There are no default accounts; passwords come from a prompt or stdin."""
from __future__ import annotations

import sys

import click

from engine.store.cliutil import fail, open_cli_store, store_errors


@click.group()
def users() -> None:
    """Web console logins (agents, supervisors, admins)."""


@users.command("add")
@click.argument("user_id")
@click.option("--role", type=click.Choice(["agent", "supervisor", "admin"]), default="agent", show_default=True)
@click.option("--agent", "agent_id", metavar="ID", help="The agent this login belongs to (agents: default the same id).")
@click.option("--language", type=click.Choice(["zh", "en"]), help="Page language (default: from the browser).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.pass_context
def add(ctx: click.Context, user_id: str, role: str, agent_id: str | None, language: str | None,
        password_stdin: bool) -> None:
    """Create USER_ID (or set a new password, role and language)."""
    from engine.store.repos.users import UserRepository, check_password_rules

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    problem = check_password_rules(password)
    if problem:
        fail(problem)
    store = open_cli_store(ctx)
    with store_errors():
        try:
            user = UserRepository(store).add(user_id, password, role=role, agent_id=agent_id, language=language)
        except ValueError as exc:
            fail(str(exc))
    click.echo(f"user {user.id}: {user.role}" + (f" (agent {user.agent_id})" if user.agent_id else ""))


@users.command("list")
@click.pass_context
def list_users(ctx: click.Context) -> None:
    """Every login with its role, agent and language."""
    from engine.store.repos.users import UserRepository

    with store_errors():
        for user in UserRepository(open_cli_store(ctx)).list():
            state = "" if user.active else "  (removed)"
            click.echo(f"{user.id}\t{user.role}\t{user.agent_id or '-'}\t{user.language or 'browser'}{state}")


@users.command("remove")
@click.argument("user_id")
@click.pass_context
def remove(ctx: click.Context, user_id: str) -> None:
    """Disable USER_ID (signed-in sessions end within seconds)."""
    from engine.store.repos.users import UserRepository

    with store_errors():
        if not UserRepository(open_cli_store(ctx)).remove(user_id):
            fail(f"no active user {user_id!r}")
    click.echo(f"user {user_id}: removed")
