"""Table of the people who sign in to the web console: login id, role, password hash and language."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models.base import Base, UtcDateTime


class WebUserRow(Base):
    """A console login. `password_hash` is `scrypt$n$r$p$salt$hash` (parameters kept with the hash)."""

    __tablename__ = "web_users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # what the user types to sign in
    role: Mapped[str] = mapped_column(String(16))  # agent | supervisor | admin
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8))  # zh | en; None: from the browser
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
