"""Nodes that steer the flow without talking to the caller: set, branch, hours, goto, call, return, hangup."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from engine.ivr import hours
from engine.ivr.fields import Field, FieldParser, Kind
from engine.ivr.nodes.base import FlowFinished, Node, node_type
from engine.ivr.templates import Template, TemplateRenderError
from engine.yamlsrc import PathKey

if TYPE_CHECKING:
    from engine.ivr.session import CallSession

log = logging.getLogger(__name__)

NEXT = Field(Kind.NODE, "The node to go to next.", required=True)


@node_type
class SetNode(Node):
    TYPE = "set"
    DOC = "Set call variables (values are templates or literals); `language` switches the call's language."
    FIELDS = {
        "vars": Field(Kind.VALUE_MAP, "Variable name -> value (text is a template).", required=True),
        "next": NEXT,
    }

    def run(self, session: "CallSession") -> str | None:
        for name, value in self.vars.items():
            if isinstance(value, Template):
                try:
                    session.vars[name] = session.render(value)
                except TemplateRenderError as exc:
                    log.warning("[%s] %s: %s not set (%s)", session.uuid, self.id, name, exc)
            else:
                session.vars[name] = value
        return self.next


@node_type
class BranchNode(Node):
    TYPE = "branch"
    DOC = "Go to the first `next` whose `if` expression holds (over customer, call, vars, now), else `else`."
    FIELDS = {
        "conditions": Field(Kind.CONDITIONS, "List of {if: <expression>, next: <node>}, tried in order.",
                            required=True),
        "else": Field(Kind.NODE, "Where to go when no condition holds.", required=True),
    }

    def run(self, session: "CallSession") -> str | None:
        context = session.context()
        for expression, target in self.conditions:
            try:
                if expression.evaluate(context):
                    return target
            except TemplateRenderError as exc:
                log.info("[%s] %s: condition %r not evaluated (%s); treated as false", session.uuid, self.id,
                         expression.source, exc)
        return self.f["else"]


@node_type
class HoursNode(Node):
    TYPE = "hours"
    DOC = "Branch on opening hours: weekly intervals, holiday dates and a time zone."
    FIELDS = {
        "timezone": Field(Kind.STR, "IANA time zone of the schedule.", default="Asia/Shanghai"),
        "weekly": Field(Kind.WEEKLY, "Day range -> 'HH:MM-HH:MM' (may run past midnight: '22:00-06:00') "
                        "or a list of them ('closed', '24h').",
                        required=True),
        "holidays": Field(Kind.DATE_LIST, "Local dates (YYYY-MM-DD) closed all day, with the night starting on them.",
                          default=frozenset()),
        "open": Field(Kind.NODE, "Where to go when open.", required=True),
        "closed": Field(Kind.NODE, "Where to go when closed (and on holidays).", required=True),
    }

    @classmethod
    def check(cls, parser: FieldParser, values: dict[str, Any], data: dict[str, Any], path: PathKey) -> None:
        name = values.get("timezone")
        if name is not None:
            tz = hours.zone(name)
            if tz is None:
                parser.error(path + ("timezone",), f"unknown time zone {name!r}")
            values["_tz"] = tz

    def run(self, session: "CallSession") -> str | None:
        tz = self.f.get("_tz") or hours.zone("UTC")
        open_now = hours.is_open(session.services.now(), tz, self.weekly, self.holidays)
        return self.f["open"] if open_now else self.closed


@node_type
class GotoNode(Node):
    TYPE = "goto"
    DOC = "Jump to another node of this flow."
    FIELDS = {"target": Field(Kind.NODE, "The node to jump to.", required=True)}

    def run(self, session: "CallSession") -> str | None:
        return self.target


@node_type
class CallNode(Node):
    TYPE = "call"
    DOC = "Run another flow as a subflow (sharing variables); continue at `next` when it returns."
    TAKES_INPUT = True  # the subflow is checked on its own; looping through it is a deliberate repeat
    FIELDS = {
        "flow": Field(Kind.FLOW, "Name of the flow to run.", required=True),
        "next": NEXT,
        "on_failure": Field(Kind.NODE, "Where to go if the subflow cannot be run (default: next)."),
    }

    def run(self, session: "CallSession") -> str | None:
        if session.call_subflow(self.flow):
            return self.next
        return self.on_failure or self.next


@node_type
class ReturnNode(Node):
    TYPE = "return"
    DOC = "End this flow; in a subflow, continue in the calling flow."
    FIELDS: dict[str, Field] = {}

    def run(self, session: "CallSession") -> str | None:
        return None


@node_type
class HangupNode(Node):
    TYPE = "hangup"
    DOC = "Play an optional goodbye, then hang up."
    FIELDS = {
        "prompt": Field(Kind.PROMPT, "Played before hanging up."),
        "outcome": Field(Kind.IDENT, "Outcome stored on the interaction (default: keep the current one)."),
    }

    def run(self, session: "CallSession") -> str | None:
        session.play(self.prompt, self.fallback)
        if self.outcome:
            session.record.outcome = self.outcome
        session.channel.hangup()
        raise FlowFinished(session.record.outcome)
