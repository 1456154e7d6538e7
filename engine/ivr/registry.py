"""The set of loaded flows and the DID -> flow map; picks up edited flow files without a restart.

How it works: `reload()` validates the whole flows directory. A flow file that checks out replaces the
running version; a broken edit is logged with its located errors and the previous good version keeps
serving calls. `flow_for(did)` (called once per new call) re-reads the directory when the files'
modification times changed, at most once per `check_interval` seconds.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Mapping

from engine.ivr.flow import FLOW_SUFFIXES, Flow
from engine.ivr.templates import TemplateEngine
from engine.ivr.validate import ValidationReport, validate_paths
from engine.yamlsrc import SourceError

log = logging.getLogger(__name__)


class FlowRegistry:
    """Loaded flows by name, and which flow answers which dialled number (DID)."""

    def __init__(self, flows_dir: str | Path, *, dids: Mapping[str, str] | None = None, default_flow: str = "",
                 queues: set[str] | None = None, check_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.flows_dir = Path(flows_dir)
        self.dids = {str(k): str(v) for k, v in (dids or {}).items()}
        self.default_flow = default_flow
        self.queues = queues
        self.check_interval = check_interval
        self._clock = clock
        self._templates = TemplateEngine()
        self._flows: dict[str, Flow] = {}
        self._signature: tuple | None = None
        self._last_check: float | None = None
        self.last_report: ValidationReport | None = None

    @classmethod
    def from_config(cls, config: object) -> "FlowRegistry":
        """Build from an engine Config: ivr.flows_dir, ivr.dids, ivr.default_flow, acd.queues."""
        ivr = config.ivr  # type: ignore[attr-defined]
        acd = getattr(config, "acd", {}) or {}
        queues = set(acd["queues"]) if isinstance(acd.get("queues"), dict) else None
        return cls(ivr.flows_dir, dids=ivr.dids, default_flow=ivr.default_flow, queues=queues)

    # -- loading ---------------------------------------------------------------------------------------
    def _current_signature(self) -> tuple | None:
        """(name, mtime, size) of each flow file; None when the directory cannot be read."""
        try:
            entries = sorted(p for p in self.flows_dir.iterdir() if p.suffix in FLOW_SUFFIXES)
        except OSError:
            return None
        out = []
        for p in entries:
            try:
                st = p.stat()
            except OSError:  # a dangling symlink (an editor's lock file) or a file that just went away
                continue
            out.append((p.name, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def reload(self) -> ValidationReport:
        """Re-read every flow file; keep the previous version of any flow whose new version is broken."""
        signature = self._current_signature()
        self._last_check = self._clock()
        if signature is None:
            self._signature = None
            problem = SourceError(str(self.flows_dir), 1, 1, "", "cannot read the flows directory")
            report = ValidationReport(errors=[problem])
            log.error("cannot read the flows directory %s; keeping the %d flows loaded", self.flows_dir,
                      len(self._flows))
            self.last_report = report
            return report
        self._signature = signature
        report = validate_paths([self.flows_dir], self.queues, self._templates, strict_queues=False)
        flows = dict(self._flows)
        present = {Path(name).stem for name, _, _ in self._signature}
        for name in list(flows):
            if name not in present:
                log.info("flow %s removed", name)
                del flows[name]
        broken = {Path(e.file).stem for e in report.errors}
        for error in report.errors:
            log.error("flow error: %s", error)
        for warning in report.warnings:
            log.error("flow problem (the flow still runs; the queue node will fail over): %s", warning)
        for name in sorted(broken & set(flows)):
            log.error("flow %s: keeping the previous version until the errors are fixed", name)
        for name, flow in report.flows.items():
            if name not in self._flows or self._flows[name].mtime != flow.mtime:
                log.info("flow %s loaded (%d nodes)", name, len(flow.nodes))
            flows[name] = flow
        self._flows = flows
        self.last_report = report
        for did, name in self.dids.items():
            if name not in flows:
                log.error("ivr.dids: number %s maps to flow %r, which is not loaded", did, name)
        if self.default_flow and self.default_flow not in flows:
            log.error("ivr.default_flow %r is not loaded", self.default_flow)
        return report

    def reload_if_changed(self) -> bool:
        """Reload when flow files changed (checked at most every `check_interval` s); True if reloaded."""
        now = self._clock()
        if self._last_check is not None and now - self._last_check < self.check_interval:
            return False
        self._last_check = now
        if self._signature is not None and self._current_signature() == self._signature:
            return False
        self.reload()
        return True

    # -- lookups ---------------------------------------------------------------------------------------
    def flow_for(self, did: str) -> Flow | None:
        """The flow for a dialled number: ivr.dids[did], else ivr.default_flow; None if neither is loaded."""
        self.reload_if_changed()
        name = self.dids.get(did, self.default_flow)
        return self._flows.get(name) if name else None

    def get(self, name: str) -> Flow | None:
        self.reload_if_changed()
        return self._flows.get(name)

    def snapshot(self) -> dict[str, Flow]:
        """The current flows by name (a call keeps this view for its subflows)."""
        return dict(self._flows)

    @property
    def names(self) -> list[str]:
        return sorted(self._flows)
