"""IVR: flows written in YAML (validated at load), run one greenlet per call over a CallChannel.

Public API for the daemon: `FlowRegistry` (flows + DID map, hot reload), `FlowRunner` (the outbound
socket handler), the ports it is given (`engine.ivr.ports`) and the store adapters
(`engine.ivr.store_adapter`). The CLI group is `engine.ivr.cli:flows`.
"""
from engine.ivr.ports import (CallbackRequest, CallbackStore, CustomerDirectory, InteractionLog, IvrRecord,
                              QueueGateway, QueueOutcome, QueueRequest, QueueResult)
from engine.ivr.registry import FlowRegistry
from engine.ivr.runner import FlowRunner
from engine.ivr.validate import ValidationReport, validate_paths

__all__ = [
    "CallbackRequest", "CallbackStore", "CustomerDirectory", "FlowRegistry", "FlowRunner", "InteractionLog",
    "IvrRecord", "QueueGateway", "QueueOutcome", "QueueRequest", "QueueResult", "ValidationReport",
    "validate_paths",
]
