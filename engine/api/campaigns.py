"""API resource: campaigns (create from a JSON or YAML body, import contacts from a CSV body, launch, pause,
resume, stop, status). Validation and state changes are the ones `jinqiao campaign` uses."""
from __future__ import annotations

import csv
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine.api import schemas as s
from engine.api.errors import ApiError, from_store, not_found
from engine.api.operation import Call, Operation, Param
from engine.api.validation import check
from engine.dialer.campaigns import parse_campaign
from engine.dialer.contacts import enroll_query, import_csv
from engine.dialer.hopper import load_handle
from engine.store.errors import ImportFileError, StoreError
from engine.store.importer import ImportOptions
from engine.store.repos.campaigns import ACTIONS, CampaignRepository
from engine.store.repos.dial_attempts import DialAttemptRepository
from engine.yamlsrc import LocatedYaml, SourceError, load_text

CAMPAIGN_ID = Param("campaign_id", "path", s.ID)
LIVE_FRESH_S = 15


def _known_flows(call: Call) -> set[str] | None:
    folder = call.settings.get("flows_dir")
    if not folder:
        return None
    try:
        return {p.stem for p in Path(folder).iterdir() if p.suffix in (".yaml", ".yml")}
    except OSError:
        return None


def _handle(call: Call) -> Any:
    try:
        handle = load_handle(call.store, call.path["campaign_id"])
    except SourceError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    if handle is None:
        raise not_found(f"campaign {call.path['campaign_id']}")
    return handle


def list_campaigns(call: Call) -> Any:
    return {"items": [_campaign(c) for c in CampaignRepository(call.store).list()]}


def _campaign(record: Any) -> dict[str, Any]:
    out = s.plain(record)
    for key in ("settings", "live", "live_at"):
        out.pop(key, None)
    return out


def create(call: Call) -> Any:
    if call.content_type == "application/json":
        doc = LocatedYaml("request body", call.body, {})
    else:
        try:
            doc = load_text(call.raw.decode("utf-8"), "request body")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid", "the YAML body must be UTF-8") from None
        except SourceError as exc:
            raise ApiError(400, "invalid", exc.message, f"$.{exc.field_name}" if exc.field_name else "$") from None
    check(s.CAMPAIGN_CREATE, doc.data)
    source = doc.data.get("source") if isinstance(doc.data, dict) else None
    if isinstance(source, dict) and "csv" in source:
        raise ApiError(422, "invalid", "a CSV source is a file on the engine's host: send the contacts to "
                                       "POST /campaigns/{id}/contacts instead", "$.source.csv")
    try:
        config = parse_campaign(doc, _known_flows(call))
    except SourceError as exc:
        raise ApiError(422, "invalid", exc.message, f"$.{exc.field_name}" if exc.field_name else "$") from None
    try:
        record = CampaignRepository(call.store).save(config.name, config.mode, config.queue, config.max_attempts,
                                                     int(config.shortest_retry.total_seconds()), {"config": config.raw},
                                                     now=call.now)
    except StoreError as exc:
        raise from_store(exc, "$.name") from None
    return _campaign(record), 201


def status(call: Call) -> Any:
    handle = _handle(call)
    repo, attempts = CampaignRepository(call.store), DialAttemptRepository(call.store)
    record, now = repo.get(handle.id), call.now
    due, leased = repo.due_and_leased(handle.id, now)
    midnight = now.astimezone(call.services.console.zone).replace(hour=0, minute=0, second=0, microsecond=0)
    today = attempts.figures(handle.id, midnight)
    period = attempts.figures(handle.id, now - handle.config.abandon.window)
    fresh = record.live is not None and record.live_at is not None and \
        (now - record.live_at).total_seconds() <= LIVE_FRESH_S
    return {"campaign": _campaign(record), "purpose": handle.config.purpose, "contacts": repo.counts(handle.id),
            "due_now": due, "leased": leased, "today": _figures(today), "period": _figures(period),
            "abandon_target": handle.config.abandon.rate, "live": s.plain(record.live) if fresh else None}


def _figures(f: Any) -> dict[str, Any]:
    return {"attempts": f.attempts, "in_flight": f.in_flight, "live_answers": f.live_answers,
            "abandoned": f.abandoned, "abandon_rate": round(f.abandon_rate, 4), "outcomes": dict(f.outcomes)}


def _change(kind: str) -> Any:
    target, allowed_from = ACTIONS[kind]

    def change(call: Call) -> Any:
        handle = _handle(call)
        repo = CampaignRepository(call.store)
        try:
            before, after = repo.change_status(handle.id, target, allowed_from)
        except StoreError as exc:
            raise from_store(exc) from None
        return {"campaign": _campaign(repo.get(handle.id)), "before": before, "after": after}

    change.__name__ = kind
    return change


def import_contacts(call: Call) -> Any:
    handle = _handle(call)
    mapping: dict[str, str] = {}
    for index, item in enumerate(call.query.get("map", [])):
        target, sep, column = item.partition("=")
        if not sep or not target.strip() or not column.strip():
            raise ApiError(400, "invalid", f"expected FIELD=COLUMN, got {item[:60]!r}", f"query.map[{index}]")
        mapping[target.strip()] = column.strip()
    options = ImportOptions(mapping=mapping, extra_columns=call.query.get("extra_columns", "error"),
                            encoding=call.query.get("encoding"))
    folder = tempfile.mkdtemp(prefix="jq-api-import-")  # 0700: the rows are customer data
    try:
        path = Path(folder) / "contacts.csv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle_out:
            handle_out.write(call.raw)
        try:
            # Off the event loop: a large file is seconds of parsing and writing, calls must not wait for it.
            result = call.services.run_blocking(import_csv, call.store, handle.id, path, options,
                                                handle.config.priority)
        except ImportFileError as exc:
            raise ApiError(422, "invalid", exc.message, f"csv.line[{exc.line}].{exc.field}" if exc.field
                           else f"csv.line[{exc.line}]") from None
        except LookupError as exc:
            raise ApiError(400, "invalid", str(exc), "query.encoding") from None
        except StoreError as exc:
            raise from_store(exc) from None
        summary = result.customers
        rejected = _rejected(summary.errors_file if summary else None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    customers = None
    if summary is not None:
        customers = {"inserted": summary.inserted, "updated": summary.updated, "unchanged": summary.unchanged,
                     "rejected": summary.rejected, "encoding": summary.encoding}
    return {"enrolled": result.enrolled, "already_there": result.already_there, "customers": customers,
            "rejected": rejected}


def enroll(call: Call) -> Any:
    """Enroll the customers the campaign's segment query matches (`jinqiao campaign import NAME`)."""
    handle = _handle(call)
    source = handle.config.source
    if source is None or not source.is_query:
        raise ApiError(409, "conflict", f"campaign {handle.record.name} has no segment query: send its contacts "
                                        "as CSV to /contacts")
    try:
        result = enroll_query(call.store, handle.id, source, call.now, handle.config.priority)
    except StoreError as exc:
        raise from_store(exc) from None
    return {"enrolled": result.enrolled, "already_there": result.already_there, "customers": None, "rejected": []}


def _rejected(errors_file: str | None, limit: int = 1000) -> list[dict[str, Any]]:
    """The bad-row report (line, field, reason) the import wrote, without the rows' own values."""
    if not errors_file or not Path(errors_file).exists():
        return []
    out = []
    with open(errors_file, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row in reader:
            if len(row) >= 3 and row[0].isdigit():
                out.append({"line": int(row[0]), "field": row[1].lstrip("'"), "error": row[2].lstrip("'")})
            if len(out) >= limit:
                break
    return out


def _status_change(kind: str, summary: str) -> Operation:
    return Operation("POST", f"/campaigns/{{campaign_id}}/{kind}", f"{kind}Campaign", "campaigns:write", summary,
                     _change(kind), s.STATUS_CHANGE, params=(CAMPAIGN_ID,), body_required=False, body=None,
                     body_types=(), tag="campaigns")


OPERATIONS = (
    Operation("GET", "/campaigns", "listCampaigns", "campaigns:read", "Every campaign.", list_campaigns,
              s.obj({"items": {"type": "array", "items": s.CAMPAIGN}}, ("items",), closed=False), tag="campaigns"),
    Operation("POST", "/campaigns", "createCampaign", "campaigns:write",
              "Create a campaign (draft) from the settings of a campaign file (docs/dialer.md), as JSON or YAML.",
              create, s.CAMPAIGN, body=s.CAMPAIGN_CREATE, body_types=("application/json", "application/yaml"),
              status=201, tag="campaigns"),
    Operation("GET", "/campaigns/{campaign_id}", "campaignStatus", "campaigns:read",
              "Progress, abandon rates and the running dialer's live figures.", status, s.CAMPAIGN_STATUS,
              params=(CAMPAIGN_ID,), tag="campaigns"),
    Operation("POST", "/campaigns/{campaign_id}/contacts", "importContacts", "campaigns:write",
              "Add contacts from a CSV body (imported as customers too); bad rows are listed with line and reason.",
              import_contacts, s.IMPORT_RESULT, params=(
                  CAMPAIGN_ID,
                  Param("map", "query", {"type": "array", "items": s.text(200, minLength=3), "maxItems": 50},
                        "FIELD=COLUMN, as `customers import --map`."),
                  Param("extra_columns", "query", {"type": "string", "enum": ["error", "ignore", "attributes"]}),
                  Param("encoding", "query", s.text(32, minLength=1))),
              body={"type": "string"}, body_types=("text/csv",), tag="campaigns"),
    Operation("POST", "/campaigns/{campaign_id}/enroll", "enrollCampaign", "campaigns:write",
              "Add the customers the campaign's segment query (source) matches.", enroll, s.IMPORT_RESULT,
              params=(CAMPAIGN_ID,), tag="campaigns"),
    _status_change("launch", "Start dialing (draft -> running)."),
    _status_change("pause", "Stop placing new calls (running -> paused)."),
    _status_change("resume", "Resume dialing (paused -> running)."),
    _status_change("stop", "Stop for good (history stays for reports)."),
)
