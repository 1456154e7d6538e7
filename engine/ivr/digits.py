"""Caller input as data: DTMF cleaning and masking of digits and phone numbers."""
from __future__ import annotations

import re
from typing import Any

_NOT_DTMF = re.compile(r"[^0-9*#]")


def clean_digits(raw: Any, limit: int) -> str:
    """Digits as data: keep only DTMF characters, at most `limit` of them."""
    return _NOT_DTMF.sub("", str(raw or ""))[:limit]


def mask_digits(digits: str) -> str:
    """Mask all but the last two digits (`******89`); short inputs are fully masked."""
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_number(number: str) -> str:
    """A phone number fit for INFO logs: `138****5678`."""
    if len(number) <= 7:
        return number[:1] + "*" * max(0, len(number) - 1)
    return number[:3] + "****" + number[-4:]
