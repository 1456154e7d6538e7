"""A flow file: parsed and checked into a `Flow` (nodes by id, start node), with every problem located.

How it works: `load_flow` reads the YAML with source positions, checks the top-level keys, builds each
node through its class's field declarations, then checks the graph: references to missing nodes,
nodes that cannot be reached from `start`, and loops that never wait for the caller (which would spin
forever). Checks that need other files (subflows, ACD queue names) are in `validate.py`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.ivr.fields import LANGUAGES, Field, FieldParser, Kind, Prompt, Ref
from engine.ivr.nodes import NODE_TYPES, Node
from engine.ivr.templates import TemplateEngine
from engine.yamlsrc import LocatedYaml, SourceError, load_file

NODE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}$")
FLOW_SUFFIXES = (".yaml", ".yml")
MAX_FLOW_BYTES = 256 * 1024  # the largest shipped flow is under 10 KiB

FLOW_FIELDS = {
    "name": Field(Kind.STR, "The flow's name; must match the file name (without .yaml)."),
    "description": Field(Kind.STR, "What this flow is for."),
    "language": Field(Kind.CHOICE, "Default language of prompts; a `language` variable overrides it.",
                      default="zh", choices=LANGUAGES),
    "start": Field(Kind.NODE, "The first node.", required=True),
    "fallback": Field(Kind.PROMPT, "Played when a node's prompt cannot be rendered and it has no fallback."),
    "vars": Field(Kind.VALUE_MAP, "Initial variables (literal values)."),
    "nodes": Field(Kind.STR, "Node id -> node.", required=True),  # checked by hand below
}


@dataclass
class Flow:
    """A loaded, checked flow."""

    name: str
    file: str
    start: str
    nodes: dict[str, Node]
    language: str = "zh"
    description: str = ""
    fallback: Prompt | None = None
    initial_vars: dict[str, Any] = field(default_factory=dict)
    refs: list[Ref] = field(default_factory=list)
    source: LocatedYaml | None = field(default=None, repr=False)
    mtime: float = 0.0
    broken: set[str] = field(default_factory=set)  # node ids present but unusable (already reported)


def flow_name(path: Path) -> str:
    return path.stem


def load_flow(path: str | Path, templates: TemplateEngine | None = None) -> tuple[Flow | None, list[SourceError]]:
    """Load and check one flow file; returns (flow, every problem found in this file).

    The flow is None when the file could not be read as a mapping; when there are errors it is only
    partially usable (for further reporting) and must not be run.
    """
    path = Path(path)
    try:
        mtime = path.stat().st_mtime
        source = load_file(path, MAX_FLOW_BYTES)
    except SourceError as exc:
        return None, [exc]
    except OSError as exc:
        return None, [SourceError(str(path), 1, 1, "", f"cannot read: {exc}")]
    parser = FieldParser(source, templates or TemplateEngine(), path.parent.resolve())
    data = source.data
    if not isinstance(data, dict):
        parser.error((), "a flow must be a mapping with 'start' and 'nodes'")
        return None, parser.errors
    top = dict(data)
    raw_nodes = top.pop("nodes", None)
    header = parser.parse_fields(top, {k: v for k, v in FLOW_FIELDS.items() if k != "nodes"}, ())
    if header["name"] is not None and header["name"] != flow_name(path):
        parser.error(("name",), f"flow name {header['name']!r} does not match the file name {flow_name(path)!r}")
    initial_vars = {k: getattr(v, "source", v) for k, v in (header["vars"] or {}).items()}
    broken: set[str] = set()
    nodes = _parse_nodes(parser, raw_nodes, broken)
    flow = Flow(name=flow_name(path), file=str(path), start=header["start"] or "", nodes=nodes,
                language=header["language"], description=header["description"] or "",
                fallback=header["fallback"], initial_vars=initial_vars, refs=list(parser.refs),
                source=source, mtime=mtime, broken=broken)
    check_graph(flow, parser)
    return flow, parser.errors


def _parse_nodes(parser: FieldParser, raw_nodes: Any, broken: set[str]) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    if raw_nodes is None:
        parser.error((), "missing required field 'nodes'")
        return nodes
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        parser.error(("nodes",), "expected a mapping of node ids to nodes")
        return nodes
    for node_id, raw in raw_nodes.items():
        path = ("nodes", node_id)
        if not isinstance(node_id, str) or not NODE_ID.match(node_id):
            parser.error(path, f"invalid node id {node_id!r} (letters, digits, _ and -)")
            continue
        if not isinstance(raw, dict):
            parser.error(path, "expected a mapping with 'type'")
            broken.add(node_id)
            continue
        kind = raw.get("type")
        cls = NODE_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            where = path + ("type",) if "type" in raw else path
            parser.error(where, f"unknown node type {kind!r} (known: {', '.join(sorted(NODE_TYPES))})"
                         if "type" in raw else "missing required field 'type'")
            broken.add(node_id)
            continue
        parser.current_node = node_id
        values = parser.parse_fields(raw, cls.all_fields(), path)
        cls.check(parser, values, raw, path)
        nodes[node_id] = cls(node_id, values, parser.source.where(path))
    parser.current_node = ""
    return nodes


def edges(flow: Flow) -> dict[str, list[str]]:
    """Node id -> ids of the nodes it can go to."""
    out: dict[str, list[str]] = {node_id: [] for node_id in flow.nodes}
    for ref in flow.refs:
        if ref.kind is Kind.NODE and ref.from_node in out and ref.target in flow.nodes:
            out[ref.from_node].append(ref.target)
    return out


def check_graph(flow: Flow, parser: FieldParser) -> None:
    """Report dangling references, unreachable nodes and loops that take no input."""
    for ref in flow.refs:
        if ref.kind is Kind.NODE and ref.target not in flow.nodes and ref.target not in flow.broken:
            parser.error(ref.path, f"no node called {ref.target!r} in this flow")
            parser.graph_incomplete = True
    if not flow.nodes or flow.start not in flow.nodes:
        return
    graph = edges(flow)
    seen, todo = {flow.start}, [flow.start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for node_id in flow.nodes:
        if node_id not in seen and not flow.broken and not parser.graph_incomplete:
            parser.error(("nodes", node_id), "node is unreachable from the start node")
    for cycle in silent_cycles(flow, graph):
        parser.error(("nodes", cycle[0]), "loop that never waits for the caller: " + " -> ".join(cycle + [cycle[0]]))


def silent_cycles(flow: Flow, graph: dict[str, list[str]], also_silent: frozenset[str] = frozenset()
                   ) -> list[list[str]]:
    """Cycles made only of nodes that do not wait for input (one representative per strongly connected part).

    `also_silent`: nodes that count as not waiting although their type may (calls of subflows that never ask).
    """
    silent = {n for n, node in flow.nodes.items() if not node.TAKES_INPUT or n in also_silent}
    sub = {n: [t for t in graph[n] if t in silent] for n in silent}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # Tarjan's algorithm (graphs are small; recursion is fine)
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sub[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1 or v in sub[v]:
                found.append(_order_cycle(sorted(part, key=list(flow.nodes).index), sub))

    for v in sub:
        if v not in index:
            strongconnect(v)
    return found


def _order_cycle(part: list[str], sub: dict[str, list[str]]) -> list[str]:
    """Walk the strongly connected part from its first node to show one actual cycle."""
    members = set(part)
    path = [part[0]]
    while True:
        nxt = next((t for t in sub[path[-1]] if t in members), None)
        if nxt is None or nxt == part[0] or nxt in path:
            return path
        path.append(nxt)
