"""Agents, skills with proficiency, the state timeline, and dispositions."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.store.errors import NotFound
from engine.store.repos.agents import AgentRepository, DispositionRepository

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai


def test_skills_carry_a_proficiency_that_can_be_changed_and_removed(store) -> None:
    repo = AgentRepository(store)
    repo.add("1001", "Li", extension="user/1001", team="A")
    repo.set_skill("1001", "billing", 7)
    repo.set_skill("1001", "mandarin", 10)
    repo.set_skill("1001", "billing", 3)
    assert repo.get("1001").skills == {"billing": 3, "mandarin": 10}
    assert repo.remove_skill("1001", "billing").skills == {"mandarin": 10}
    assert repo.skills() == ["billing", "mandarin"]


@pytest.mark.parametrize("level", [0, 11, -1, True])
def test_proficiency_outside_1_to_10_is_refused(store, level: int) -> None:
    AgentRepository(store).add("1001")
    with pytest.raises(ValueError, match="proficiency"):
        AgentRepository(store).set_skill("1001", "billing", level)


def test_setting_a_skill_of_an_unknown_agent_is_not_found(store) -> None:
    with pytest.raises(NotFound):
        AgentRepository(store).set_skill("9999", "billing", 5)


def test_removed_agents_leave_the_list_but_keep_their_history_and_can_come_back(store) -> None:
    repo = AgentRepository(store)
    repo.add("1001", "Li")
    repo.record_state_change("1001", "ready", None, T0)
    assert repo.remove("1001") and not repo.remove("1001")
    assert [a.id for a in repo.list()] == [] and [a.id for a in repo.list(include_inactive=True)] == ["1001"]
    assert len(repo.state_changes("1001")) == 1
    assert repo.add("1001").active and repo.get("1001").name == "Li"


def test_state_changes_form_a_timeline_queryable_by_window(store) -> None:
    repo = AgentRepository(store)
    repo.add("1001")
    repo.add("1002")
    for minutes, (agent, state, reason) in enumerate([("1001", "login", None), ("1001", "not_ready", "lunch"),
                                                      ("1002", "ready", None), ("1001", "ready", None)]):
        repo.record_state_change(agent, state, reason, T0 + dt.timedelta(minutes=minutes))
    timeline = repo.state_changes("1001")
    assert [(c.state, c.reason) for c in timeline] == [("login", None), ("not_ready", "lunch"), ("ready", None)]
    window = repo.state_changes(since=T0 + dt.timedelta(minutes=1), until=T0 + dt.timedelta(minutes=3))
    assert [(c.agent_id, c.state) for c in window] == [("1001", "not_ready"), ("1002", "ready")]


def test_dispositions_are_a_catalogue_where_removal_only_deactivates(store) -> None:
    repo = DispositionRepository(store)
    repo.add("SALE", "Sale made", "sale", is_success=True)
    repo.add("NOINT", "Not interested", "sale")
    repo.add("SALE", "Sale closed", "sale", is_success=True)
    assert [(d.code, d.label) for d in repo.list()] == [("NOINT", "Not interested"), ("SALE", "Sale closed")]
    assert repo.remove("NOINT") and not repo.remove("NOINT")
    assert [d.code for d in repo.list()] == ["SALE"]
    assert repo.get("NOINT") is not None and not repo.get("NOINT").active
