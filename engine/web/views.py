"""Pages and JSON endpoints of the agent console and the supervisor wallboard, plus the push stream."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, redirect, render_template, request, url_for

from engine.web.app import WebServices, require
from engine.web.console import NOT_READY_REASONS, TRANSFER_KINDS, ConsoleError
from engine.web.outbound import SKIP_REASONS
from engine.web.push import TooManyStreams, encode

views = Blueprint("views", __name__)
BAD_INPUT = ("bad_input", "skip_reason_required")  # the request itself is wrong (400, naming the field)


def _services() -> WebServices:
    return current_app.extensions["jinqiao"]


@views.app_errorhandler(401)
def unauthorized(_error: Any) -> Any:
    if request.path.startswith("/api/") or request.path == "/events":
        return jsonify({"error": "unauthorized"}), 401
    return redirect(url_for("login_page"))


def _ok(**data: Any) -> Any:
    return jsonify({"ok": True, **data})


def _failed(error: ConsoleError) -> Any:
    status = 403 if error.key == "forbidden" else 400 if error.key in BAD_INPUT else 409
    return jsonify({"ok": False, "error": error.key, "message": g.t(error.key), "detail": error.detail}), status


def _agent_id() -> str:
    user = require("agent")
    if not user.agent_id:
        abort(403)
    return user.agent_id


# ----- agent console ----------------------------------------------------------------------------
@views.get("/console")
def console_page() -> Any:
    agent_id = _agent_id()
    console = _services().console
    outbound = console.outbound
    preview = None
    if outbound is not None:
        try:
            preview = outbound.preview(agent_id)
        except ConsoleError:
            preview = None
    return render_template("console.html", agent_id=agent_id, reasons=NOT_READY_REASONS,
                           dispositions=console.disposition_codes(), kinds=TRANSFER_KINDS,
                           history=console.history(agent_id, limit=8), state=_status(agent_id),
                           outbound=outbound is not None, skip_reasons=SKIP_REASONS, preview=preview,
                           preview_campaigns=outbound.preview_campaigns() if outbound is not None else [])


def _status(agent_id: str) -> dict:
    try:
        return _services().console.status(agent_id)
    except ConsoleError:
        return {"agent_id": agent_id, "state": "logged-out", "reason": "", "since": None, "call": None,
                "disposition_due": False}


@views.get("/api/console")
def console_status() -> Any:
    return jsonify(_status(_agent_id()))


@views.post("/api/console/ready")
def ready() -> Any:
    agent_id = _agent_id()
    try:
        _services().console.ready(agent_id)
    except ConsoleError as exc:
        return _failed(exc)
    return _ok()


@views.post("/api/console/not-ready")
def not_ready() -> Any:
    agent_id = _agent_id()
    try:
        _services().console.not_ready(agent_id, request.form.get("reason", ""))
    except ConsoleError as exc:
        return _failed(exc)
    return _ok()


@views.post("/api/console/disposition")
def disposition() -> Any:
    agent_id = _agent_id()
    try:
        _services().console.set_disposition(agent_id, request.form.get("call_id", ""), request.form.get("code", ""),
                                            request.form.get("notes", ""))
    except ConsoleError as exc:
        return _failed(exc)
    return _ok()


@views.post("/api/console/transfer")
def transfer() -> Any:
    agent_id = _agent_id()
    try:
        call_id = _services().console.transfer(agent_id, request.form.get("kind", ""), request.form.get("target", ""),
                                               request.form.get("notes", ""))
    except ConsoleError as exc:
        return _failed(exc)
    return _ok(call_id=call_id)


@views.post("/api/console/callback")
def callback() -> Any:
    agent_id = _agent_id()
    console = _services().console
    try:
        due = dt.datetime.fromisoformat(request.form.get("due", ""))
    except ValueError:
        return _failed(ConsoleError("error", "the callback time is not a date and time"))
    if due.tzinfo is None:
        due = due.replace(tzinfo=console.zone)
    try:
        console.schedule_callback(agent_id, request.form.get("call_id", ""), due, request.form.get("reason", ""))
    except ConsoleError as exc:
        return _failed(exc)
    return _ok()


def _outbound() -> Any:
    outbound = _services().console.outbound
    if outbound is None:
        raise ConsoleError("no_dialer")
    return outbound


def _agent_action(action: Any) -> Any:
    """Run `action(agent_id)` for the signed-in agent; a refusal is a 409 (or 403) naming the reason."""
    agent_id = _agent_id()
    try:
        result = action(agent_id)
    except ConsoleError as exc:
        return _failed(exc)
    return _ok(**(result or {}))


@views.post("/api/console/preview/next")
def preview_next() -> Any:
    campaign = request.form.get("campaign", "").strip()
    if not campaign:
        return _failed(ConsoleError("bad_input", "campaign: choose a preview campaign"))
    return _agent_action(lambda a: {"preview": _outbound().preview(a, campaign)})


@views.post("/api/console/preview/skip")
def preview_skip() -> Any:
    return _agent_action(lambda a: _outbound().preview_skip(a, request.form.get("reason", "")))


@views.post("/api/console/preview/dial")
def preview_dial() -> Any:
    return _agent_action(lambda a: {"call_id": _outbound().preview_dial(a)})


@views.post("/api/console/dial")
def click_to_dial() -> Any:
    return _agent_action(lambda a: {"call_id": _outbound().manual_call(a, request.form.get("number", ""))})


@views.post("/api/console/consult")
def consult() -> Any:
    console = _services().console
    return _agent_action(lambda a: {"call_id": console.consult(a, request.form.get("target", ""),
                                                                request.form.get("notes", ""))})


@views.post("/api/console/consult/<step>")
def consult_step(step: str) -> Any:
    console = _services().console
    steps = {"complete": console.complete_transfer, "cancel": console.cancel_consult}
    if step not in steps:
        abort(404)
    return _agent_action(lambda a: {"call_id": steps[step](a)})


@views.post("/api/console/recording")
def recording() -> Any:
    masked = request.form.get("masked", "")
    if masked not in ("0", "1"):
        return _failed(ConsoleError("bad_input", "masked: must be 0 or 1"))
    return _agent_action(lambda a: _services().console.recording(a, masked == "1"))


@views.get("/api/calls/<call_id>/card")
def card(call_id: str) -> Any:
    agent_id = _agent_id()
    try:
        view = _services().console.call_for(agent_id, call_id)
    except ConsoleError as exc:
        return _failed(exc)
    return jsonify({"status": view.status, "card": view.card})


@views.get("/history")
def history_page() -> Any:
    user = require("agent", "supervisor")
    agent_id = user.agent_id if user.role == "agent" else None
    return render_template("history.html", rows=_services().console.history(agent_id, limit=100),
                           everyone=agent_id is None)


# ----- supervisor -------------------------------------------------------------------------------
@views.get("/wallboard")
def wallboard_page() -> Any:
    require("supervisor")
    return render_template("wallboard.html", floor=_services().console.floor(), reasons=NOT_READY_REASONS)


@views.get("/api/floor")
def floor() -> Any:
    require("supervisor")
    return jsonify(_services().console.floor())


@views.post("/api/campaigns/<name>/<action>")
def campaign_action(name: str, action: str) -> Any:
    user = require("supervisor")
    try:
        status = _outbound().change(name, action, user.id)
    except ConsoleError as exc:
        return _failed(exc)
    return _ok(status=status)


@views.post("/api/agents/<agent_id>/state")
def force_state(agent_id: str) -> Any:
    require("supervisor")
    try:
        _services().console.force_state(agent_id, request.form.get("state", ""), request.form.get("reason", ""))
    except ConsoleError as exc:
        return _failed(exc)
    return _ok()


@views.post("/api/agents/<agent_id>/monitor")
def monitor(agent_id: str) -> Any:
    require("supervisor")
    mode = request.form.get("mode", "")
    if mode not in ("listen", "whisper", "barge"):
        return _failed(ConsoleError("error", "mode must be listen, whisper or barge"))
    try:
        leg = _services().console.monitor(agent_id, request.form.get("extension", "").strip(), mode)
    except ConsoleError as exc:
        return _failed(exc)
    return _ok(leg=leg)


# ----- push -------------------------------------------------------------------------------------
@views.get("/events")
def events() -> Any:
    user = g.user
    if user is None:
        abort(401)
    services = _services()
    if user.role == "agent" and user.agent_id:
        agent_id = user.agent_id

        def snapshot() -> bytes:
            return encode("hello", _status(agent_id))
        audience = f"agent:{agent_id}"
    elif user.role in ("supervisor", "admin"):
        def snapshot() -> bytes:
            return encode("floor", services.console.floor())
        audience = "supervisors"
    else:
        abort(403)
    try:
        def allowed() -> bool:
            now = services.user(user.id)
            return now is not None and now.active and now.role == user.role

        body = services.hub.stream((audience,), snapshot(), allowed, resync=snapshot)
    except TooManyStreams:
        return jsonify({"error": "busy"}), 503
    response = Response(body, mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"
    return response
