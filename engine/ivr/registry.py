"""The set of loaded flows and the DID -> flow map; picks up edited flow files without a restart.

How it works: `reload()` validates the whole flows directory. A flow file that checks out replaces the
running version; a broken edit (or any failure of the loader) is logged with its located errors and the
previous good version keeps serving calls. `flow_for(did)` (called once per new call) never loads
anything itself: at most once per `check_interval` seconds it hands a check of the files' modification
times to `background` (by default gevent's native thread pool, so parsing a large file does not stall
the calls in progress) and answers from the flows already loaded. `join()` waits for that check.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from engine.ivr.flow import FLOW_SUFFIXES, Flow
from engine.ivr.templates import TemplateEngine
from engine.ivr.validate import ValidationReport, validate_paths
from engine.yamlsrc import SourceError

log = logging.getLogger(__name__)
Job = Callable[[], None]


def run_in_thread_pool(job: Job) -> Any:
    """Run `job` in gevent's native thread pool (the hub keeps serving calls meanwhile); returns its AsyncResult."""
    import gevent

    return gevent.get_hub().threadpool.spawn(job)


class _Done:
    """The result of a job that already ran."""

    def ready(self) -> bool:
        return True

    def get(self, timeout: float | None = None) -> None:
        return None


def run_inline(job: Job) -> _Done:
    """Run `job` at once, in the caller (tools and tests that want the check done before they go on)."""
    job()
    return _Done()


class FlowRegistry:
    """Loaded flows by name, and which flow answers which dialled number (DID)."""

    def __init__(self, flows_dir: str | Path, *, dids: Mapping[str, str] | None = None, default_flow: str = "",
                 queues: set[str] | None = None, check_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 background: Callable[[Job], Any] = run_in_thread_pool) -> None:
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
        self._background = background
        self._pending: Any = None  # the background check in flight (its AsyncResult), if any
        self._recheck = False
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
        try:
            report = validate_paths([self.flows_dir], self.queues, self._templates, strict_queues=False)
        except Exception as exc:  # a loader defect must not unload the running flows
            log.exception("loading the flows in %s failed; keeping the %d flows loaded", self.flows_dir,
                          len(self._flows))
            report = ValidationReport(errors=[SourceError(str(self.flows_dir), 1, 1, "",
                                                          f"loading the flows failed ({type(exc).__name__})")])
            self.last_report = report
            return report
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

    def reload_if_changed(self, force: bool = False) -> bool:
        """Reload when flow files changed (checked at most every `check_interval` s unless force); True if reloaded."""
        now = self._clock()
        if not force and self._last_check is not None and now - self._last_check < self.check_interval:
            return False
        self._last_check = now
        if self._signature is not None and self._current_signature() == self._signature:
            return False
        self.reload()
        return True

    def check_in_background(self) -> None:
        """Hand a reload_if_changed to `background`, at most once per check_interval and one at a time."""
        now = self._clock()
        if self._last_check is not None and now - self._last_check < self.check_interval:
            return
        self._last_check = now
        if self._pending is not None and not self._pending.ready():
            self._recheck = True  # the check in flight may have looked before the change: look again after it
            return
        self._pending = self._background(self._reload_guarded)

    def _reload_guarded(self) -> None:
        while True:
            self._recheck = False
            try:
                self.reload_if_changed(force=True)
            except Exception:  # nothing may escape into the thread pool: the flows loaded keep serving
                log.exception("checking the flows in %s failed; keeping the %d flows loaded", self.flows_dir,
                              len(self._flows))
            if not self._recheck:
                return

    def join(self, timeout: float | None = None) -> None:
        """Wait until the background check in flight (and any check asked for meanwhile) is done."""
        while self._pending is not None:
            self._pending.get(timeout=timeout)
            self._pending = None
            if self._recheck:
                self._pending = self._background(self._reload_guarded)

    # -- lookups ---------------------------------------------------------------------------------------
    def flow_for(self, did: str) -> Flow | None:
        """The flow for a dialled number: ivr.dids[did], else ivr.default_flow; None if neither is loaded."""
        self.check_in_background()
        name = self.dids.get(did, self.default_flow)
        return self._flows.get(name) if name else None

    def get(self, name: str) -> Flow | None:
        """A loaded flow by name (no reload: call reload() first when the files may have changed)."""
        return self._flows.get(name)

    def snapshot(self) -> dict[str, Flow]:
        """The current flows by name (a call keeps this view for its subflows)."""
        return dict(self._flows)

    @property
    def names(self) -> list[str]:
        return sorted(self._flows)
