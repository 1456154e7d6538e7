"""HMAC-SHA256 signatures over `timestamp + "." + body`, as sent in X-Jinqiao-Signature."""
from __future__ import annotations

import hashlib
import hmac

HEADER_TIMESTAMP = "X-Jinqiao-Timestamp"
HEADER_SIGNATURE = "X-Jinqiao-Signature"
HEADER_EVENT_ID = "X-Jinqiao-Event-Id"
HEADER_EVENT_TYPE = "X-Jinqiao-Event"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body)."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: float = 300.0) -> bool:
    """What a receiver does: the signature matches (constant time) and the timestamp is recent."""
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)
