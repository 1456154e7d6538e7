"""Agents with their skills and proficiency, their state timeline, and the disposition catalogue."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select

from engine.store.database import Store
from engine.store.errors import NotFound
from engine.store.models import AgentRow, AgentSkillRow, AgentStateChangeRow, DispositionRow, SkillRow, as_utc
from engine.store.records import Agent, AgentStateChange, Disposition
from engine.store.repos.convert import to_record

log = logging.getLogger(__name__)
MIN_PROFICIENCY, MAX_PROFICIENCY = 1, 10


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _check_id(agent_id: str) -> str:
    text = str(agent_id).strip()
    if not text or len(text) > 32:
        raise ValueError(f"agent id must be 1..32 characters, got {agent_id!r}")
    return text


class AgentRepository:
    """Agents (by login id such as "1001"), their skills, and every state change they go through."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, agent_id: str, name: str = "", extension: str | None = None, team: str | None = None) -> Agent:
        """Create an agent, or update and re-activate one with this id."""
        agent_id = _check_id(agent_id)
        with self.store.session() as s:
            row = s.get(AgentRow, agent_id)
            if row is None:
                row = AgentRow(id=agent_id, created_at=_now())
                s.add(row)
            row.name, row.extension, row.team = name or row.name or "", extension or row.extension, team or row.team
            row.active, row.removed_at = True, None
            s.flush()
            return self._record(row)

    def get(self, agent_id: str) -> Agent | None:
        with self.store.session() as s:
            row = s.get(AgentRow, str(agent_id))
            return self._record(row) if row else None

    def list(self, include_inactive: bool = False) -> list[Agent]:
        with self.store.session() as s:
            query = select(AgentRow).order_by(AgentRow.id)
            if not include_inactive:
                query = query.where(AgentRow.active.is_(True))
            return [self._record(r) for r in s.scalars(query)]

    def remove(self, agent_id: str) -> bool:
        """Deactivate an agent (history that names them is kept); False if there is no such active agent."""
        with self.store.session() as s:
            row = s.get(AgentRow, str(agent_id))
            if row is None or not row.active:
                return False
            row.active, row.removed_at = False, _now()
            return True

    def set_skill(self, agent_id: str, skill: str, proficiency: int) -> Agent:
        """Give an agent a skill at a proficiency 1..10 (replacing the previous level)."""
        skill = str(skill).strip()
        if not skill or len(skill) > 64:
            raise ValueError(f"skill name must be 1..64 characters, got {skill!r}")
        if isinstance(proficiency, bool) or not isinstance(proficiency, int) or not MIN_PROFICIENCY <= proficiency <= MAX_PROFICIENCY:
            raise ValueError(f"proficiency must be a whole number {MIN_PROFICIENCY}..{MAX_PROFICIENCY}, got {proficiency!r}")
        with self.store.session() as s:
            row = self._require(s, agent_id)
            skill_row = s.scalars(select(SkillRow).where(SkillRow.name == skill)).first()
            if skill_row is None:
                skill_row = SkillRow(name=skill)
                s.add(skill_row)
                s.flush()
            link = next((k for k in row.skills if k.skill_id == skill_row.id), None)
            if link is None:
                row.skills.append(AgentSkillRow(skill_id=skill_row.id, skill=skill_row, proficiency=proficiency))
            else:
                link.proficiency = proficiency
            s.flush()
            return self._record(row)

    def remove_skill(self, agent_id: str, skill: str) -> Agent:
        with self.store.session() as s:
            row = self._require(s, agent_id)
            row.skills[:] = [k for k in row.skills if k.skill.name != skill]
            s.flush()
            return self._record(row)

    def skills(self) -> list[str]:
        """The skill catalogue."""
        with self.store.session() as s:
            return list(s.scalars(select(SkillRow.name).order_by(SkillRow.name)))

    def record_state_change(self, agent_id: str, state: str, reason: str | None, at: dt.datetime | float) -> None:
        """Append one step to the agent's timeline (login, ready, not_ready, on_call, wrap_up, logout...)."""
        with self.store.session() as s:
            s.add(AgentStateChangeRow(agent_id=str(agent_id), state=str(state)[:32],
                                      reason=(str(reason)[:64] if reason else None), at=as_utc(at)))

    def state_changes(self, agent_id: str | None = None, since: dt.datetime | float | None = None,
                      until: dt.datetime | float | None = None) -> list[AgentStateChange]:
        """The timeline, oldest first, optionally for one agent and a time window [since, until)."""
        query = select(AgentStateChangeRow).order_by(AgentStateChangeRow.at, AgentStateChangeRow.id)
        if agent_id is not None:
            query = query.where(AgentStateChangeRow.agent_id == str(agent_id))
        if since is not None:
            query = query.where(AgentStateChangeRow.at >= as_utc(since))
        if until is not None:
            query = query.where(AgentStateChangeRow.at < as_utc(until))
        with self.store.session() as s:
            return [to_record(AgentStateChange, r) for r in s.scalars(query)]

    def latest_states(self) -> dict[str, AgentStateChange]:
        """Each agent's newest timeline step (the state the engine stored last), by agent id."""
        newest = (select(AgentStateChangeRow.agent_id, func.max(AgentStateChangeRow.id).label("last_id"))
                  .group_by(AgentStateChangeRow.agent_id).subquery())
        query = select(AgentStateChangeRow).join(newest, AgentStateChangeRow.id == newest.c.last_id)
        with self.store.session() as s:
            return {r.agent_id: to_record(AgentStateChange, r) for r in s.scalars(query)}

    @staticmethod
    def _require(s, agent_id: str) -> AgentRow:  # type: ignore[no-untyped-def]
        row = s.get(AgentRow, str(agent_id))
        if row is None:
            raise NotFound(f"no agent {agent_id!r}")
        return row

    @staticmethod
    def _record(row: AgentRow) -> Agent:
        skills = {k.skill.name: k.proficiency for k in sorted(row.skills, key=lambda k: k.skill.name)}
        return to_record(Agent, row, skills=skills)


class DispositionRepository:
    """The catalogue of call outcomes agents choose from (codes are kept once used: remove deactivates)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, code: str, label: str, category: str | None = None, is_success: bool = False) -> Disposition:
        code = str(code).strip()
        if not code or len(code) > 32:
            raise ValueError(f"disposition code must be 1..32 characters, got {code!r}")
        with self.store.session() as s:
            row = s.get(DispositionRow, code) or DispositionRow(code=code)
            row.label, row.category, row.is_success, row.active = label, category, bool(is_success), True
            s.add(row)
            s.flush()
            return to_record(Disposition, row)

    def get(self, code: str) -> Disposition | None:
        with self.store.session() as s:
            row = s.get(DispositionRow, code)
            return to_record(Disposition, row) if row else None

    def list(self, include_inactive: bool = False) -> list[Disposition]:
        query = select(DispositionRow).order_by(DispositionRow.code)
        if not include_inactive:
            query = query.where(DispositionRow.active.is_(True))
        with self.store.session() as s:
            return [to_record(Disposition, r) for r in s.scalars(query)]

    def remove(self, code: str) -> bool:
        with self.store.session() as s:
            row = s.get(DispositionRow, code)
            if row is None or not row.active:
                return False
            row.active = False
            return True
