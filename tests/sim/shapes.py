"""Shape comparison of frame streams: content types, reply texts, per-channel event order, header-name sets."""
from __future__ import annotations

from .helpers import Frame

# Events the simulator does not model (they come from modules it does not imitate) or that are timer noise.
NOT_MODELLED = {"API", "MESSAGE_WAITING", "RE_SCHEDULE", "HEARTBEAT", "MESSAGE_QUERY", "PRESENCE_PROBE"}


def channel_orders(frames: list[Frame], skip: set[str] = frozenset()) -> list[list[str]]:
    """Event names per Unique-ID, channels in order of first appearance."""
    order: dict[str, list[str]] = {}
    for fr in frames:
        if fr.event is None:
            continue
        ev = fr.ev
        uid = ev.get("Unique-ID")
        if not uid or ev["Event-Name"] in NOT_MODELLED or ev["Event-Name"] in skip:
            continue
        label = ev["Event-Name"]
        if label == "CHANNEL_STATE":
            label += ":" + ev["Channel-State"]
        elif label == "CHANNEL_CALLSTATE":
            label += ":" + ev["Channel-Call-State"]
        elif label in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"):
            label += ":" + ev.get("Application", "")
        order.setdefault(uid, []).append(label)
    return list(order.values())


def header_names(frames: list[Frame]) -> dict[str, set[str]]:
    """Event label -> union of non-variable header names over all its occurrences."""
    out: dict[str, set[str]] = {}
    for fr in frames:
        if fr.event is None:
            continue
        ev = fr.ev
        name = ev["Event-Name"] + ("/" + ev["Event-Subclass"] if "Event-Subclass" in ev else "")
        out.setdefault(name, set()).update(k for k, _ in fr.event if not k.startswith("variable_"))
    return out


def has_variables(frames: list[Frame]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for fr in frames:
        if fr.event is not None:
            out[fr.ev["Event-Name"]] = any(k.startswith("variable_") for k, _ in fr.event)
    return out


def reply_texts(frames: list[Frame]) -> list[str]:
    return [fr.h.get("Reply-Text", "") for fr in frames if fr.content_type == "command/reply"]


def content_types(frames: list[Frame]) -> list[str]:
    return [fr.content_type or fr.h.get("Content-Type", "") for fr in frames]


def non_event_types(frames: list[Frame]) -> list[str]:
    return [fr.content_type for fr in frames if fr.event is None]


STATE_KEYS = ("Channel-State", "Channel-Call-State", "Answer-State", "Channel-State-Number", "Call-Direction",
              "Hangup-Cause", "Other-Type", "Application-Response", "Playback-Status")


def channel_states(frames: list[Frame]) -> list[list[tuple]]:
    """Per channel, each event with its state headers (values that are the same in every run)."""
    order: dict[str, list[tuple]] = {}
    for fr in frames:
        if fr.event is None:
            continue
        ev = fr.ev
        uid = ev.get("Unique-ID")
        if not uid or ev["Event-Name"] in NOT_MODELLED:
            continue
        order.setdefault(uid, []).append((ev["Event-Name"],) + tuple(ev.get(k, "") for k in STATE_KEYS))
    return list(order.values())
