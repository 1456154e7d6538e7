"""IVR node types; importing this package registers every node class in NODE_TYPES."""
from engine.ivr.nodes import control, media, routing  # noqa: F401  (registers node types)
from engine.ivr.nodes.base import NODE_TYPES, FlowFinished, Node

__all__ = ["NODE_TYPES", "FlowFinished", "Node"]
