"""The node base class: declared fields, load-time checks, run-time step; plus the node type registry."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from engine.ivr.fields import Field, FieldParser, Kind
from engine.yamlsrc import PathKey

if TYPE_CHECKING:
    from engine.ivr.session import CallSession

NODE_TYPES: dict[str, type["Node"]] = {}

COMMON_FIELDS = {
    "type": Field(Kind.STR, "The node type.", required=True),
    "description": Field(Kind.STR, "A note for flow authors; ignored at run time."),
    "fallback": Field(Kind.PROMPT, "Played instead of this node's prompt when its template cannot be rendered."),
}


class FlowFinished(Exception):
    """The call left the flow for good (hangup node, transfer, answered by an agent)."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def node_type(cls: type["Node"]) -> type["Node"]:
    """Class decorator: register a node class under its TYPE name."""
    NODE_TYPES[cls.TYPE] = cls
    return cls


class Node:
    """One step of a flow. Subclasses declare TYPE and FIELDS, and implement `run`.

    Fields are checked and converted when the flow is loaded (`FieldParser`); `run` executes the step
    on a call and returns the id of the next node, or None to end the current flow (or subflow).
    """

    TYPE: ClassVar[str] = ""
    DOC: ClassVar[str] = ""
    FIELDS: ClassVar[dict[str, Field]] = {}
    TAKES_INPUT: ClassVar[bool] = False  # waits for the caller (breaks loops that would spin)

    def __init__(self, node_id: str, values: dict[str, Any], location: tuple[int, int]) -> None:
        self.id = node_id
        self.f = values
        self.location = location

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["f"][name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def all_fields(cls) -> dict[str, Field]:
        return {**COMMON_FIELDS, **cls.FIELDS}

    @classmethod
    def check(cls, parser: FieldParser, values: dict[str, Any], data: dict[str, Any], path: PathKey) -> None:
        """Cross-field checks at load time; report with `parser.error(path, ...)`."""

    def run(self, session: "CallSession") -> str | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"
