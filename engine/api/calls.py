"""API resources: interactions (filtered by time, number, agent, queue; paged) and their recordings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import send_file

from engine.api import schemas as s
from engine.api.errors import ApiError, not_found
from engine.api.operation import Call, Operation, Param
from engine.api.times import period
from engine.store.repos.interactions import InteractionRepository, RecordingRepository

INTERACTION_ID = Param("interaction_id", "path", s.ID)
RECORDING_ID = Param("recording_id", "path", s.ID)


def search(call: Call) -> Any:
    q = call.query
    since, until = period(q, call.services.console.zone)
    agent = q.get("agent")
    if call.principal.limited:
        if agent is not None and agent != call.principal.own_agent:
            raise ApiError(403, "forbidden", "an agent sees only their own calls", "query.agent")
        agent = call.principal.own_agent
    limit, offset = q.get("limit", 50), q.get("offset", 0)
    if call.principal.limited and agent is None:
        return {"items": [], "limit": limit, "offset": offset}
    rows = InteractionRepository(call.store).search(since, until, number=q.get("number"), queue=q.get("queue"),
                                                   agent_id=agent, limit=limit, offset=offset)
    return {"items": [s.plain(i) for i in rows], "limit": limit, "offset": offset}


def _interaction(call: Call, interaction_id: int) -> Any:
    found = InteractionRepository(call.store).get(interaction_id)
    if found is None or not call.principal.sees_agent(found.agent_id):
        raise not_found(f"interaction {interaction_id}")  # another agent's call: as if it did not exist
    return found


def read(call: Call) -> Any:
    return s.plain(_interaction(call, call.path["interaction_id"]))


def _recording(recording: Any) -> dict[str, Any]:
    out = s.plain(recording)
    out.pop("path", None)  # where the file lies on the engine's host is not the caller's business
    out["download"] = f"/api/v1/recordings/{recording.id}/audio"
    return out


def for_interaction(call: Call) -> Any:
    found = _interaction(call, call.path["interaction_id"])
    return {"items": [_recording(r) for r in RecordingRepository(call.store).for_interaction(found.id)]}


def _allowed_recording(call: Call) -> Any:
    recording = RecordingRepository(call.store).get(call.path["recording_id"])
    if recording is None:
        raise not_found(f"recording {call.path['recording_id']}")
    if call.principal.limited:
        owner = InteractionRepository(call.store).get(recording.interaction_id) if recording.interaction_id else None
        if owner is None or not call.principal.sees_agent(owner.agent_id):
            raise not_found(f"recording {call.path['recording_id']}")
    return recording


def recording(call: Call) -> Any:
    return _recording(_allowed_recording(call))


def audio(call: Call) -> Any:
    found = _allowed_recording(call)
    path = Path(found.path)
    if not path.is_file():
        raise ApiError(404, "not_found", f"the file of recording {found.id} is no longer there")
    kind = "audio/wav" if path.suffix.lower() == ".wav" else "application/octet-stream"
    return send_file(path, mimetype=kind, as_attachment=True, download_name=f"recording-{found.id}{path.suffix}",
                     conditional=False, etag=found.sha256)


OPERATIONS = (
    Operation("GET", "/interactions", "searchInteractions", "interactions:read",
              "Calls newest first, filtered by arrival time, number, agent and queue (agents: their own).", search,
              s.page_of(s.INTERACTION), params=(
                  Param("from", "query", s.WHEN, "Arrived at or after."), Param("to", "query", s.WHEN, "Arrived before."),
                  Param("number", "query", s.PHONE, "Caller or callee, any format."),
                  Param("agent", "query", s.text(32, minLength=1)), Param("queue", "query", s.text(64, minLength=1)),
                  Param("limit", "query", s.LIMIT), Param("offset", "query", s.OFFSET)), tag="interactions"),
    Operation("GET", "/interactions/{interaction_id}", "getInteraction", "interactions:read", "One call.", read,
              s.INTERACTION, params=(INTERACTION_ID,), tag="interactions"),
    Operation("GET", "/interactions/{interaction_id}/recordings", "listCallRecordings", "recordings:read",
              "The recordings of a call.", for_interaction,
              s.obj({"items": {"type": "array", "items": s.RECORDING}}, ("items",), closed=False),
              params=(INTERACTION_ID,), tag="recordings"),
    Operation("GET", "/recordings/{recording_id}", "getRecording", "recordings:read",
              "A recording's metadata (agents: recordings of their own calls only, else 404).", recording,
              s.RECORDING, params=(RECORDING_ID,), tag="recordings"),
    Operation("GET", "/recordings/{recording_id}/audio", "downloadRecording", "recordings:read",
              "The recording's audio file.", audio, None, params=(RECORDING_ID,), produces="audio/wav",
              tag="recordings"),
)
