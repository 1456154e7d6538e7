"""IVR: flows written in YAML (validated at load), run one greenlet per call over a CallChannel.

Public API for the daemon: `FlowRegistry` (flows + DID map, hot reload), `FlowRunner` (the outbound
socket handler), the ports it is given (`engine.ivr.ports`, importable without any FreeSWITCH code, so
the ACD can implement `QueueGateway`) and the store adapters (`engine.ivr.store_adapter`). The CLI group
is `engine.ivr.cli:flows`. Names are imported lazily so `engine.ivr.ports` stays light.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FlowRegistry": "engine.ivr.registry",
    "FlowRunner": "engine.ivr.runner",
    "ValidationReport": "engine.ivr.validate",
    "validate_paths": "engine.ivr.validate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine.ivr' has no attribute {name!r}")
