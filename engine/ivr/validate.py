"""Check flow files together: each file on its own, then subflow names and ACD queue names across them."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from engine.ivr.fields import Kind
from engine.ivr.flow import FLOW_SUFFIXES, Flow, edges, flow_name, load_flow, silent_cycles
from engine.ivr.templates import TemplateEngine
from engine.yamlsrc import SourceError

log = logging.getLogger(__name__)


@dataclass
class ValidationReport:
    """Flows that loaded cleanly, and every problem found (sorted by file, line, column)."""

    flows: dict[str, Flow] = field(default_factory=dict)
    errors: list[SourceError] = field(default_factory=list)
    warnings: list[SourceError] = field(default_factory=list)  # problems that do not stop a flow from running
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def errors_for(self, file: str | Path) -> list[SourceError]:
        return [e for e in self.errors if Path(e.file) == Path(file)]


def flow_files(paths: Iterable[str | Path]) -> list[Path]:
    """The flow files named by `paths` (files, or directories scanned one level deep)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in FLOW_SUFFIXES and p.is_file()))
        else:
            out.append(path)
    return out


def known_flow_names(files: Iterable[Path]) -> set[str]:
    """Names of every flow file next to the given files (subflows may live beside the file checked)."""
    names = set()
    for file in files:
        names.add(flow_name(file))
        if file.parent.is_dir():
            names.update(flow_name(p) for p in file.parent.iterdir() if p.suffix in FLOW_SUFFIXES)
    return names


def check_references(flow: Flow, flow_names: set[str], queues: set[str] | None) -> tuple[list[SourceError],
                                                                                          list[SourceError]]:
    """(subflows that do not exist, queues that are not configured)."""
    assert flow.source is not None
    missing_flows, unknown_queues = [], []
    for ref in flow.refs:
        if ref.kind is Kind.FLOW and ref.target not in flow_names:
            missing_flows.append(flow.source.error(ref.path, f"subflow {ref.target!r} not found"))
        if ref.kind is Kind.QUEUE and queues is not None and ref.target not in queues:
            known = ", ".join(sorted(queues)) or "none configured"
            unknown_queues.append(flow.source.error(ref.path, f"unknown queue {ref.target!r} (acd.queues: {known})"))
    return missing_flows, unknown_queues


class SubflowInput:
    """Whether a flow (with the subflows it calls) ever waits for the caller; loads sibling flow files lazily."""

    def __init__(self, files: Iterable[Path], templates: TemplateEngine) -> None:
        self.templates = templates
        self.paths: dict[str, Path] = {}
        for file in files:
            if file.parent.is_dir():
                for p in sorted(file.parent.iterdir()):
                    if p.suffix in FLOW_SUFFIXES:
                        self.paths.setdefault(flow_name(p), p)
            self.paths[flow_name(file)] = file
        self.loaded: dict[str, Flow | None] = {}
        self.answers: dict[str, bool] = {}

    def flow(self, name: str) -> Flow | None:
        if name not in self.loaded:
            path = self.paths.get(name)
            self.loaded[name] = _load_guarded(path, self.templates)[0] if path else None
        return self.loaded[name]

    def waits(self, name: str, calling: frozenset[str] = frozenset()) -> bool:
        """True unless the flow certainly never waits for input (unknown or broken flows count as waiting)."""
        if name in self.answers:
            return self.answers[name]
        flow = self.flow(name)
        if flow is None:
            return True
        answer = False
        for node in flow.nodes.values():
            if node.TYPE == "call":
                target = node.f.get("flow")
                if target and target not in calling | {name} and self.waits(target, calling | {name}):
                    answer = True
            elif node.TAKES_INPUT:
                answer = True
            if answer:
                break
        self.answers[name] = answer
        return answer


def check_subflow_loops(flow: Flow, subflows: SubflowInput) -> list[SourceError]:
    """Loops whose only waiting nodes are calls of subflows that never wait for the caller."""
    assert flow.source is not None
    silent_calls = frozenset(node_id for node_id, node in flow.nodes.items()
                             if node.TYPE == "call" and node.f.get("flow") and not subflows.waits(node.f["flow"]))
    if not silent_calls:
        return []
    errors = []
    for cycle in silent_cycles(flow, edges(flow), silent_calls):
        calls = [n for n in cycle if n in silent_calls]
        if calls:  # loops without a call node are reported by the flow's own graph check
            names = ", ".join(sorted({flow.nodes[n].f["flow"] for n in calls}))
            errors.append(flow.source.error(("nodes", cycle[0]), "loop that never waits for the caller: "
                                            + " -> ".join(cycle + [cycle[0]])
                                            + f" (subflow {names} never waits for input)"))
    return errors


def _load_guarded(path: Path, templates: TemplateEngine) -> tuple[Flow | None, list[SourceError]]:
    """load_flow, with any unforeseen failure turned into a located error for that file."""
    try:
        return load_flow(path, templates)
    except Exception as exc:
        log.exception("unexpected error loading the flow %s", path)
        return None, [SourceError(str(path), 1, 1, "", f"cannot load this flow ({type(exc).__name__}: {exc})"[:300])]


def validate_paths(paths: Iterable[str | Path], queues: set[str] | None = None,
                   templates: TemplateEngine | None = None, *, strict_queues: bool = True) -> ValidationReport:
    """Load and check every flow file under `paths`; queue names are checked when `queues` is given.

    With strict_queues=False (the running engine) an unknown queue is a warning: the flow still runs and
    its queue node takes `on_failure` when the ACD refuses the call.
    """
    templates = templates or TemplateEngine()
    report = ValidationReport(files=flow_files(paths))
    names = known_flow_names(report.files)
    subflows = SubflowInput(report.files, templates)
    for file in report.files:
        flow, errors = _load_guarded(file, templates)
        if flow is not None:
            subflows.loaded.setdefault(flow.name, flow)
            missing_flows, unknown_queues = check_references(flow, names, queues)
            errors = errors + missing_flows
            if not errors:
                errors = check_subflow_loops(flow, subflows)
            if strict_queues:
                errors += unknown_queues
            else:
                report.warnings.extend(unknown_queues)
            if not errors:
                report.flows[flow.name] = flow
        report.errors.extend(errors)
    report.errors.sort(key=lambda e: (e.file, e.line, e.column))
    report.warnings.sort(key=lambda e: (e.file, e.line, e.column))
    return report
