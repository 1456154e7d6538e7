"""The active/standby lease: one row per lease name, with the fencing token of its current holder."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models.base import Base, UtcDateTime


class EngineLeaseRow(Base):
    __tablename__ = "engine_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), default="")
    token: Mapped[int] = mapped_column(BigInteger, default=0)  # +1 at every change of holder
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
