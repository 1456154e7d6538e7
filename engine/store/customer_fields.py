"""Customer fields: check and convert each value a person or a spreadsheet gives for a customer."""
from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

SEGMENT_ALIASES = {
    "prospect": "prospect", "潜在": "prospect", "潜在客户": "prospect",
    "new": "new", "新": "new", "新客户": "new",
    "loyal": "loyal", "忠诚": "loyal", "老客户": "loyal", "忠诚客户": "loyal",
    "vip": "vip", "贵宾": "vip", "vip客户": "vip",
}


def _segment(value: Any) -> str:
    key = str(value).strip().lower()
    if key not in SEGMENT_ALIASES:
        raise ValueError(f"unknown segment {value!r} (prospect, new, loyal, vip)")
    return SEGMENT_ALIASES[key]


def _value_tier(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
        raise ValueError(f"value tier must be a whole number 0..9, got {value!r}")
    tier = int(value)
    if not 0 <= tier <= 9:
        raise ValueError(f"value tier must be 0..9, got {tier}")
    return tier


def _arpu(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        amount = float(str(value).replace(",", "").strip())
    except ValueError:
        raise ValueError(f"ARPU must be a number, got {value!r}") from None
    if amount != amount or amount < 0 or amount == float("inf"):
        raise ValueError(f"ARPU must be a positive number, got {value!r}")
    return round(amount, 2)


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        items = value.replace("；", ";").replace("，", ",").replace(";", ",").split(",")
    else:
        items = list(value or [])
    return sorted({str(t).strip() for t in items if str(t).strip()})


def _yes_no(name: str) -> Any:
    def check(value: Any) -> bool | None:
        if isinstance(value, bool) or value is None:
            return value if name == "marketing_consent" else bool(value)
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "y", "是", "on"):
            return True
        if text in ("0", "false", "no", "n", "否", "off"):
            return False
        if text == "" and name == "marketing_consent":
            return None
        raise ValueError(f"expected yes or no, got {value!r}")
    return check


def _attributes(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("attributes must be a mapping")
    return dict(value)


def _text(name: str, limit: int) -> Any:
    def check(value: Any) -> str | None:
        text = "" if value is None else str(value).strip()
        if len(text) > limit:
            raise ValueError(f"longer than {limit} characters")
        if name == "timezone" and text:
            try:
                ZoneInfo(text)
            except Exception:
                raise ValueError(f"unknown time zone {value!r}") from None
        return text if name == "name" else (text or None)
    return check


_CHECKS = {
    "segment": _segment, "value_tier": _value_tier, "arpu": _arpu, "tags": _tags, "attributes": _attributes,
    "marketing_consent": _yes_no("marketing_consent"), "do_not_disturb": _yes_no("do_not_disturb"),
    "name": _text("name", 200), "language": _text("language", 16), "timezone": _text("timezone", 64),
    "account_no": _text("account_no", 64), "owner_agent_id": _text("owner_agent_id", 32),
}


def clean_field(name: str, value: Any) -> Any:
    """Check and convert one customer field; raise ValueError naming what is wrong."""
    check = _CHECKS.get(name)
    if check is None:
        raise ValueError(f"unknown customer field {name!r}")
    return check(value)
