"""Nodes that reach outside the IVR: lookup (directory, data table, HTTP), queue, transfer, callback."""
from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import gevent

from engine.ivr.channel import CallHungUp
from engine.ivr.digits import mask_number
from engine.ivr.fields import Field, FieldParser, Kind
from engine.ivr.lookups import TABLE_SUFFIXES, LookupError_
from engine.ivr.nodes.base import FlowFinished, Node, node_type
from engine.ivr.ports import CallbackRequest, QueueRequest
from engine.ivr.templates import TemplateRenderError
from engine.yamlsrc import PathKey

if TYPE_CHECKING:
    from engine.ivr.session import CallSession

log = logging.getLogger(__name__)

PHONE_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
SIP_URI = re.compile(r"^sips?:")
EXTENSION = re.compile(r"^[0-9*#+]{1,32}$")
TRANSFER_CONTEXT = "public"  # a flow's caller came in through `public`; a transfer keeps it there by default
TRANSFER_NUMBER = re.compile(r"\+?[0-9]{2,15}")
CONTEXT_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
REFERENCE_KINDS = ("account", "order", "waybill")


@node_type
class LookupNode(Node):
    TYPE = "lookup"
    DOC = ("Find data for the call: the customer (by caller number or a collected account/order/waybill "
           "number), a row of a data table in ivr_flows/data, or a JSON object from an HTTP business system.")
    FIELDS = {
        "source": Field(Kind.CHOICE, "Where to look.", required=True, choices=("customer", "table", "http")),
        "by": Field(Kind.CHOICE, "customer source: what the key is.", default="caller",
                    choices=("caller", *REFERENCE_KINDS)),
        "key": Field(Kind.TEMPLATE, "The key (template); default for by=caller: the caller's number."),
        "table": Field(Kind.STR, "table source: data file name in <flows_dir>/data (without .yaml/.csv)."),
        "url": Field(Kind.TEMPLATE, "http source: URL (template; use |urlencode on call data)."),
        "timeout": Field(Kind.FLOAT, "Seconds before giving up on the backend (any source).", default=3.0,
                         minimum=0.1, maximum=30),
        "into": Field(Kind.IDENT, "Variable that receives the record (customer source: also `customer`)."),
        "next": Field(Kind.NODE, "Where to go when found.", required=True),
        "on_not_found": Field(Kind.NODE, "Where to go when nothing was found.", required=True),
        "on_failure": Field(Kind.NODE, "Where to go when the backend fails or times out (default: on_not_found)."),
    }

    @classmethod
    def check(cls, parser: FieldParser, values: dict[str, Any], data: dict[str, Any], path: PathKey) -> None:
        source = values.get("source")
        if source == "table":
            if not values.get("table"):
                parser.error(path, "a table lookup needs 'table'")
            elif not any((parser.base_dir / "data" / f"{values['table']}{s}").is_file() for s in TABLE_SUFFIXES):
                parser.error(path + ("table",), f"data table not found: {parser.base_dir / 'data'}/"
                                                f"{values['table']}.yaml|.csv")
        if source == "http" and values.get("url") is None and "url" not in data:
            parser.error(path, "an http lookup needs 'url'")
        if source in ("table", "http") and not values.get("into") and "into" not in data:
            parser.error(path, f"a {source} lookup needs 'into' (the variable for the result)")
        if source != "customer" and "by" in data:
            parser.error(path + ("by",), "'by' only applies to source: customer")
        needs_key = source == "table" or (source == "customer" and values.get("by") != "caller")
        if needs_key and values.get("key") is None and "key" not in data:
            parser.error(path, "this lookup needs 'key' (e.g. '{{ vars.waybill }}')")

    def run(self, session: "CallSession") -> str | None:
        try:
            with gevent.Timeout(self.timeout, LookupError_(f"no answer within {self.timeout:g}s")):
                record = self._find(session)
        except TemplateRenderError as exc:
            log.warning("[%s] %s: lookup key not rendered (%s)", session.uuid, self.id, exc)
            return self.on_failure or self.on_not_found
        except LookupError_ as exc:
            log.warning("[%s] %s: %s lookup failed: %s", session.uuid, self.id, self.source, exc)
            return self.on_failure or self.on_not_found
        except Exception:  # a broken directory must not drop the call
            log.exception("[%s] %s: %s lookup raised", session.uuid, self.id, self.source)
            return self.on_failure or self.on_not_found
        if not record:
            return self.on_not_found
        record = dict(record)
        if self.source == "customer":
            session.customer = record
            if record.get("id") is not None:
                session.record.customer_id = str(record["id"])
        if self.into:
            session.vars[self.into] = record
        return self.next

    def _find(self, session: "CallSession") -> Any:
        services = session.services
        if self.source == "customer":
            if self.by == "caller":
                key = session.render(self.key) if self.key else session.record.caller_number
                return services.directory.find_by_phone(key) if key else None
            key = session.render(self.key).strip()
            return services.directory.find_by_reference(self.by, key) if key else None
        if self.source == "table":
            key = session.render(self.key).strip()
            return services.tables.find(self.table, key) if key else None
        url = session.render(self.url).strip()
        return services.http.get_json(url, self.timeout)


@node_type
class QueueNode(Node):
    TYPE = "queue"
    DOC = ("Put the caller into an ACD queue with a priority and skills (templates, e.g. from the customer's "
           "segment). Continues at `next` after an agent took the call (or ends the flow if there is no "
           "`next`); plays `failure_prompt` and goes to `on_failure` when no agent can be reached. When the "
           "caller asked for a callback from the queue (an exit key, or the queue's overflow), plays "
           "`callback_prompt` and goes to `on_callback` (or ends the call); when the queue overflowed to "
           "voicemail, goes to `on_voicemail` (or `on_failure`).")
    TAKES_INPUT = True  # waits in the queue
    FIELDS = {
        "queue": Field(Kind.QUEUE, "Name of the ACD queue (a key of acd.queues).", required=True),
        "priority": Field(Kind.TEMPLATE, "Priority 0-100, higher first (template).", default=None),
        "skills": Field(Kind.TEMPLATE_LIST, "Skills an agent needs (templates).", default=[]),
        "timeout_s": Field(Kind.INT, "Longest wait in the queue, in seconds.", minimum=1, maximum=7200),
        "prompt": Field(Kind.PROMPT, "Played before queueing."),
        "failure_prompt": Field(Kind.PROMPT, "Played when the call cannot be queued or nobody answers."),
        "next": Field(Kind.NODE, "Where to continue after the agent call (e.g. a survey); omit to end."),
        "on_failure": Field(Kind.NODE, "Where to go when no agent answered.", required=True),
        "callback_prompt": Field(Kind.PROMPT, "Played when the caller left the queue with a callback booked."),
        "on_callback": Field(Kind.NODE, "Where to go after a callback was booked; omit to end the call."),
        "on_voicemail": Field(Kind.NODE, "Where to go when the queue sends the caller to voicemail."),
    }

    def _priority(self, session: "CallSession") -> int:
        if self.priority is None:
            return 0
        text = str(session.render_or(self.priority, "0")).strip()
        try:
            return max(0, min(100, int(float(text or 0))))
        except ValueError:
            log.warning("[%s] %s: priority %r is not a number; using 0", session.uuid, self.id, text)
            return 0

    def run(self, session: "CallSession") -> str | None:
        gateway = session.services.queues
        if gateway is None:
            log.warning("[%s] %s: no ACD queue gateway configured", session.uuid, self.id)
            session.play(self.failure_prompt or self.fallback)
            return self.on_failure
        skills = tuple(s for s in (str(session.render_or(t, "")).strip() for t in self.skills) if s)
        request = QueueRequest(queue=self.queue, priority=self._priority(session), skills=skills,
                               call_uuid=session.uuid, flow=session.record.flow,
                               customer_id=session.record.customer_id, language=session.language,
                               timeout_s=self.timeout_s, ivr_path=tuple(session.record.path),
                               ivr_digits=tuple(f"{node}:{digits}" for node, digits in session.record.digits))
        session.play(self.prompt, self.fallback)
        try:
            result = gateway.enqueue(session.channel, request)
        except CallHungUp:
            raise
        except Exception:
            log.exception("[%s] %s: enqueue into %s failed", session.uuid, self.id, self.queue)
            result = None
        if result is not None and result.answered and result.detail.startswith("transferred:"):
            # An agent transferred the caller out (to a number): the call is the dialplan's now.
            raise FlowFinished("transferred")
        if result is not None and result.answered:
            session.record.outcome = "answered"
            if self.next is None:
                raise FlowFinished("answered")
            return self.next
        detail = result.detail if result is not None else ""
        if detail.startswith("callback:"):
            session.record.outcome = "callback_requested"
            log.info("[%s] %s: left queue %s with callback %s", session.uuid, self.id, self.queue, detail[9:])
            session.play(self.callback_prompt, self.fallback)
            if self.on_callback is None:
                raise FlowFinished("callback_requested")
            return self.on_callback
        if detail == "voicemail" and self.on_voicemail is not None:
            session.record.outcome = "queue_voicemail"
            return self.on_voicemail
        log.info("[%s] %s: not answered in queue %s (%s)", session.uuid, self.id, self.queue,
                 result.outcome.value if result else "error")
        session.record.outcome = "queue_" + (result.outcome.value if result else "failed")
        session.play(self.failure_prompt or self.fallback)
        return self.on_failure


@node_type
class TransferNode(Node):
    TYPE = "transfer"
    DOC = "Transfer the call to a number (through the dialplan) or bridge it to a SIP URI."
    FIELDS = {
        "to": Field(Kind.TEMPLATE, "Number or sip:user@host (template).", required=True),
        "prompt": Field(Kind.PROMPT, "Played before transferring."),
        "context": Field(Kind.STR, "Dialplan context for numbers. Default `public`, where the caller already is: "
                                   "naming an internal context (e.g. `default`) is an explicit choice.",
                         default=TRANSFER_CONTEXT),
        "pattern": Field(Kind.REGEX, "Regular expression a number must match in full (default: 2-15 digits, "
                                     "optional leading +; never `*` feature codes unless allowed here)."),
        "on_failure": Field(Kind.NODE, "Where to go when the target is invalid or does not answer."),
    }

    def run(self, session: "CallSession") -> str | None:
        from engine.esl import commands

        target = str(session.render_or(self.to, "")).strip()
        session.play(self.prompt, self.fallback)
        if SIP_URI.match(target):
            try:
                endpoint = commands.sip_uri_endpoint(target)
            except ValueError:
                log.warning("[%s] %s: refusing SIP target %r", session.uuid, self.id, mask_number(target[:60]))
                session.record.outcome = "transfer_failed"
                return self.on_failure
            # Only a real answer counts: early media (a 183 ringback or announcement) is not success.
            cause = session.channel.bridge(commands.dial_string(endpoint, {commands.VAR_IGNORE_EARLY_MEDIA: "true"}))
            if cause == "SUCCESS":
                session.record.outcome = "transferred"
                raise FlowFinished("transferred")
            log.info("[%s] %s: bridge failed: %s", session.uuid, self.id, cause)
        elif EXTENSION.match(target) and (self.pattern or TRANSFER_NUMBER).fullmatch(target) \
                and CONTEXT_NAME.match(str(self.context)):
            session.channel.transfer(target, context=self.context)
            session.record.outcome = "transferred"
            raise FlowFinished("transferred")
        else:
            log.warning("[%s] %s: refusing transfer target %r", session.uuid, self.id, mask_number(target[:40]))
        session.record.outcome = "transfer_failed"
        return self.on_failure


@node_type
class CallbackNode(Node):
    TYPE = "callback"
    DOC = "Store a request to call the caller back (optionally for a queue)."
    FIELDS = {
        "number": Field(Kind.TEMPLATE, "Number to call back (template; default: the caller's number)."),
        "queue": Field(Kind.QUEUE, "Queue whose agents make the callback."),
        "note": Field(Kind.TEMPLATE, "A note for the agent (template)."),
        "next": Field(Kind.NODE, "Where to go once stored.", required=True),
        "on_failure": Field(Kind.NODE, "Where to go when the number is invalid or storing fails.", required=True),
    }

    def run(self, session: "CallSession") -> str | None:
        number = (str(session.render_or(self.number, "")) if self.number else session.record.caller_number).strip()
        if not PHONE_NUMBER.match(number):
            log.info("[%s] %s: no valid callback number", session.uuid, self.id)
            return self.on_failure
        request = CallbackRequest(number=number, queue=self.queue, call_uuid=session.uuid,
                                  flow=session.record.flow, requested_at=session.services.now(),
                                  customer_id=session.record.customer_id,
                                  note=str(session.render_or(self.note, "")) if self.note else "")
        try:
            with gevent.Timeout(session.services.store_timeout, TimeoutError("the store did not answer")):
                session.services.callbacks.request_callback(request)
        except Exception:
            log.exception("[%s] %s: storing the callback failed", session.uuid, self.id)
            return self.on_failure
        session.record.outcome = "callback_requested"
        return self.next

