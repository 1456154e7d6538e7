"""`jinqiao demo` runs the whole engine against the simulator on SQLite, as a new user would run it, and what it
prints is what the engine stored."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from engine.store.database import open_store
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.customers import CustomerRepository
from engine.store.repos.interactions import InteractionRepository


def _demo(*args: str, cwd: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "engine.cli", "demo", *args], capture_output=True, text=True,
                            timeout=240, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _calls(out: str) -> list[dict[str, str]]:
    """Each `call N:` block of the printout as {label, call_id, customer, path, queue line, callback line}."""
    blocks = []
    for block in re.split(r"\ncall \d+: ", "\n" + out.split("\n\n")[1])[1:]:
        lines = block.splitlines()
        fields = {"label": lines[0]}
        for line in (line.strip() for line in lines[1:]):
            key, _, value = line.partition(": ") if not line.startswith(("caller ", "queue ", "flow ")) else \
                (line.split(" ", 1)[0], "", line)
            fields[key] = value
        fields["call_id"] = re.search(r"call id (\S+);", fields["caller"]).group(1)
        blocks.append(fields)
    return blocks


def test_demo_prints_each_call_as_the_engine_stored_it(tmp_path: Path) -> None:
    out = _demo("--calls", "4", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert "customers imported: 4 new, 0 updated, 0 rejected" in out
    assert "agents logged in: 1001, 1002, 1003" in out
    assert "4 calls in" in out and "4 stored, 0 not stored" in out
    assert f"data left in {tmp_path}" in out
    vip, unknown, second_vip, welcome = _calls(out)

    store = open_store(f"sqlite:///{tmp_path / 'jinqiao.db'}")
    try:
        interactions, customers = InteractionRepository(store), CustomerRepository(store)
        callbacks = CallbackRepository(store)
        stored = {}
        for call in (vip, unknown, second_vip, welcome):
            # Every printed fact of a call is the stored one: customer, path, queue and agent
            row = interactions.by_call_id(call["call_id"])
            assert row is not None, call
            stored[call["call_id"]] = row
            customer = customers.get(row.customer_id) if row.customer_id is not None else None
            if customer is None:
                assert call["customer"] == "no customer matched this number"
            else:
                assert call["customer"].startswith(f"{customer.name} (segment ")
            assert call["flow"] == f"flow {row.ivr_flow}: {' > '.join(row.ivr_path)}"
            if row.queue:
                assert call["queue"].startswith(f"queue {row.queue}: agent {row.agent_id or '-'}")
        # The VIP is matched by number and answered by 1001, the only agent with the vip skill
        assert vip["customer"] == "李雷 (VIP) (segment vip)"
        assert stored[vip["call_id"]].agent_id == "1001"
        assert "identify > is_vip > vip_greeting > vip_queue > survey > goodbye" in vip["flow"]
        assert vip["survey telecom_satisfaction"] == "5"
        # The unknown caller who asked for an agent got another agent: 1001 stayed free for the VIP
        assert stored[unknown["call_id"]].agent_id in ("1002", "1003")
        assert f"answered in general_service by {stored[unknown['call_id']].agent_id}" in out
        # The second VIP gave up while 1001 was busy and has an open callback task, as printed
        abandoned = stored[second_vip["call_id"]]
        assert abandoned.abandoned and abandoned.agent_id is None
        tasks = callbacks.open_for(customer_id=abandoned.customer_id)
        assert [t.source for t in tasks] == ["abandoned"]
        assert second_vip[f"callback task #{tasks[0].id}"] == "open, booked because the caller abandoned"
        assert f"{customers.get(abandoned.customer_id).name} gave up waiting in vip_service" in out
        # Every answered campaign call is one outbound interaction of its campaign, linked from its attempt, closed;
        # the ones an agent took carry the agent (reports count them as the agent's outbound calls, never inbound)
        from engine.store.models import ContactAttemptRow, InteractionRow
        with store.session() as s:
            answered = s.query(ContactAttemptRow).filter(ContactAttemptRow.answered_at.is_not(None)).all()
            assert answered and all(a.interaction_id is not None for a in answered)
            for attempt in answered:
                row = s.get(InteractionRow, attempt.interaction_id)
                assert (row.direction, row.campaign_id, row.callee) == ("outbound", attempt.campaign_id, attempt.number)
                assert row.hangup_at is not None and row.agent_id == attempt.agent_id, (attempt.outcome, attempt.connected_at, attempt.talk_seconds, row.talk_seconds, row.bridged_at, row.abandoned, row.hangup_by)
            assert any(a.agent_id for a in answered)
            assert s.query(InteractionRow).filter(InteractionRow.direction == "inbound").count() == 4
    finally:
        store.dispose()
    # The welcome caller pressed 7 and the flow said it back
    assert welcome["flow"] == "flow demo_welcome: welcome > ask > say_key > goodbye" and welcome["keys"] == "ask:7"
    recordings = [line for line in out.splitlines() if line.strip().startswith("recording: ")]
    assert len(recordings) == 2 and all("(0.0s" not in line for line in recordings)


def test_demo_removes_its_temporary_data(tmp_path: Path) -> None:
    out = _demo("--calls", "1", cwd=tmp_path)
    workdir = re.search(r"temporary data removed \((.+?)\)", out).group(1)
    assert out.splitlines()[0].startswith(f"Jinqiao demo — data in {workdir} ")
    assert not Path(workdir).exists()
