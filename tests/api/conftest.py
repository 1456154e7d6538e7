"""API fixtures: the engine's web app (Flask test client) over a real store, tokens and console logins."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.acd.bus import Bus
from engine.config import WebSection
from engine.store.repos.agents import AgentRepository
from engine.store.repos.tokens import TokenRepository
from engine.store.repos.users import UserRepository
from engine.web.app import WebServices, create_app
from engine.web.console import Console
from engine.web.push import PushHub
from engine.web.security import load_secret_key
from tests.store.conftest import db_url, jq, store  # noqa: F401  (fixtures: real SQLite and PostgreSQL, the CLI)

PASSWORD = "api-test-pass"
NOW = dt.datetime.now(dt.timezone.utc)
ROLES = {"1001": "agent", "boss": "supervisor"}


@dataclass
class Api:
    """The app over a store, with helpers to make tokens and sign in."""

    app: Any
    store: Any

    def token(self, *scopes: str, agent_id: str | None = None, expires_at: dt.datetime | None = None) -> str:
        from engine.api.auth import expand_scopes

        _, secret = TokenRepository(self.store).create("test", expand_scopes(scopes or ("*",)), NOW, expires_at,
                                                      agent_id)
        return secret

    def client(self, token: str | None = None) -> Any:
        client = self.app.test_client()
        if token is not None:
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    def signed_in(self, user_id: str) -> tuple[Any, str]:
        """A test client signed in as `user_id` (agent 1001 or supervisor boss), and its CSRF token."""
        UserRepository(self.store).add(user_id, PASSWORD, role=ROLES[user_id])
        client = self.app.test_client()
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = client.post("/login", data={"user_id": user_id, "password": PASSWORD, "csrf_token": csrf})
        assert response.status_code == 302
        with client.session_transaction() as session:
            return client, session["csrf"]


def build_api(store: Any, tmp_path: Any) -> Api:
    agents = AgentRepository(store)
    agents.add("1001", name="赵敏", extension="1001")
    agents.add("1002", name="Li Lei", extension="1002")
    console = Console(None, store, Bus(), zone=ZoneInfo("Asia/Shanghai"))
    services = WebServices(console=console, users=UserRepository(store), hub=PushHub())
    app = create_app(services, WebSection(cookie_secure=False), load_secret_key(tmp_path / "web-secret"))
    app.testing = True
    return Api(app, store)


@pytest.fixture
def api(store, tmp_path) -> Api:  # noqa: F811
    """The API over SQLite and PostgreSQL (every test using it runs on both)."""
    return build_api(store, tmp_path)


@pytest.fixture
def sqlite_api(tmp_path) -> Any:
    """The API over a SQLite file (tests/store/test_migrations.py checks that migration 0009 makes these tables)."""
    from engine.store.database import open_store

    database = open_store(f"sqlite:///{tmp_path / 'api.db'}")
    database.create_all()
    yield build_api(database, tmp_path)
    database.dispose()
