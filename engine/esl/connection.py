"""The gevent connection layer to FreeSWITCH: the inbound control client and the outbound call server.

This module is the import point for the rest of the engine; the pieces live in `wire` (one socket with
FIFO replies), `inbound` (control connection) and `outbound` (`socket` app server and CallChannel).
"""
from engine.esl.inbound import InboundConnection
from engine.esl.outbound import CallChannel, CallHandler, CallHungUp, OutboundServer, mask_number
from engine.esl.wire import AuthenticationFailed, CommandError, ConnectionLost, EslError

__all__ = [
    "InboundConnection", "OutboundServer", "CallChannel", "CallHandler", "CallHungUp", "mask_number",
    "AuthenticationFailed", "CommandError", "ConnectionLost", "EslError",
]
