"""The caller profile of a channel and its `Caller-*` / `Other-Leg-*` / `Channel-*` event headers (§4.3)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

_TIMES = ("Profile-Created-Time", "Channel-Created-Time", "Channel-Answered-Time", "Channel-Progress-Time",
          "Channel-Progress-Media-Time", "Channel-Hangup-Time", "Channel-Transfer-Time", "Channel-Resurrect-Time",
          "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum")


@dataclass
class CallerProfile:
    """switch_caller_profile_t fields that reach events, in their serialization order."""

    direction: str = "inbound"
    logical_direction: str = "inbound"
    username: str = ""
    dialplan: str = "XML"
    caller_id_name: str = ""
    caller_id_number: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    network_addr: str = "127.0.0.1"
    ani: str = ""
    aniii: str = ""
    destination_number: str = ""
    unique_id: str = ""
    source: str = "mod_sofia"
    transfer_source: str = ""
    context: str = "public"
    rdnis: str = ""
    channel_name: str = ""
    profile_index: str = "1"
    times: dict[str, int] = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name != "_cache":
            object.__setattr__(self, "_cache", {})

    def set_time(self, key: str, value: int) -> None:
        self.times[key] = value
        object.__setattr__(self, "_cache", {})

    def snapshot(self) -> CallerProfile:
        """A copy, as FreeSWITCH clones the other leg's profile when it links them."""
        return replace(self, times=dict(self.times))

    def headers(self, prefix: str, primary: bool = True) -> list[tuple[str, str]]:
        """The profile's event headers under `prefix` (cached until a field or a time changes)."""
        cache = self.__dict__.get("_cache")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_cache", cache)
        hit = cache.get((prefix, primary))
        if hit is None:
            hit = cache[(prefix, primary)] = self._headers(prefix, primary)
        return hit

    def _headers(self, prefix: str, primary: bool) -> list[tuple[str, str]]:
        out = [(prefix + "-Direction", self.direction), (prefix + "-Logical-Direction", self.logical_direction)]
        for key, value in (("Username", self.username), ("Dialplan", self.dialplan),
                           ("Caller-ID-Name", self.caller_id_name), ("Caller-ID-Number", self.caller_id_number),
                           ("Orig-Caller-ID-Name", self.orig_caller_id_name),
                           ("Orig-Caller-ID-Number", self.orig_caller_id_number),
                           ("Callee-ID-Name", self.callee_id_name), ("Callee-ID-Number", self.callee_id_number),
                           ("Network-Addr", self.network_addr), ("ANI", self.ani), ("ANI-II", self.aniii),
                           ("Destination-Number", self.destination_number), ("Unique-ID", self.unique_id),
                           ("Source", self.source), ("Transfer-Source", self.transfer_source),
                           ("Context", self.context), ("RDNIS", self.rdnis), ("Channel-Name", self.channel_name),
                           ("Profile-Index", self.profile_index if primary else "")):
            if value:
                out.append((prefix + "-" + key, value))
        for key in _TIMES:
            out.append((prefix + "-" + key, str(self.times.get(key, 0))))
        out += [(prefix + "-Screen-Bit", "true"), (prefix + "-Privacy-Hide-Name", "false"),
                (prefix + "-Privacy-Hide-Number", "false")]
        return out
