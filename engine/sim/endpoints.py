"""Far ends the simulator can ring: user/<ext> agent phones and external numbers, plus SIP registration events."""
from __future__ import annotations

import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.sim.channel import Channel
    from engine.sim.population import Population, PopulationDirectory
    from engine.sim.switch import Switch

OUTCOME_CAUSES = {"busy": "USER_BUSY", "unallocated": "UNALLOCATED_NUMBER", "rejected": "CALL_REJECTED",
                  "not_registered": "USER_NOT_REGISTERED", "no_user_response": "NO_USER_RESPONSE"}
OUTCOMES = ("answer", "busy", "no_answer", "unallocated", "rejected", "machine", "not_registered",
            "no_user_response")
DOMAIN = "127.0.0.1"


@dataclass
class Endpoint:
    """A registered (or not) user/<ext> phone and how its human behaves when it rings."""

    ext: str
    registered: bool = True
    answer_after: float | None = 1.0
    reject_cause: str | None = None
    hangup_after: float | None = None
    call_id: str = field(default_factory=lambda: "%s@127.0.0.1" % uuidlib.uuid4().hex[:12])
    port: int = 5090
    rings: int = 0                      # how many times it was rung (for tests)


@dataclass
class Latency:
    """Real-time delays of a FreeSWITCH host (seconds, never scaled by `time_scale`: they are the switch's own
    processing, not the humans' behaviour).

    - `answer_signal`: the phone's 200 OK until sofia marks the channel answered (fires CHANNEL_ANSWER and
      runs `api_on_answer`). 0 by default so tests stay fast.
    - `event_delivery`: a fired event until it is on the ESL sockets (FreeSWITCH's event thread and the
      listener queues), order kept. With `answer_signal` it makes the field figure of ~17 ms from the
      200 OK until the engine has CHANNEL_ANSWER. 0 by default.
    - `originate_return`: CHANNEL_ANSWER until the originate returns and its BACKGROUND_JOB is fired
      (capture 04f: 20 ms). A leg uuid_bridged inside this window makes the originate end
      `-ERR ORIGINATOR_CANCEL` although the leg stays up and bridged (seen on the real switch).
    - `media_break`: a channel playing a file or stream leaves that app this long after `uuid_break` or
      `uuid_bridge` interrupts it (field figure: ~28 ms to take a caller off hold music).
    """

    answer_signal: float = 0.0
    event_delivery: float = 0.0
    originate_return: float = 0.020
    media_break: float = 0.0


@dataclass
class Destination:
    """What happens when the sim dials an external number (originate or bridge to a gateway)."""

    number: str
    outcome: str = "answer"
    after: float = 2.0
    hangup_after: float | None = None
    machine_greeting: float = 8.0       # an answering machine "talks" this long after answering, then beeps
    beep_frequency: float = 1000.0      # the machine's beep (Hz), as mod_avmd measures it
    truth: Any = None                   # the population's ground-truth record of this attempt (population.py)


class Directory:
    """Endpoints and destinations known to the simulator."""

    def __init__(self, switch: Switch) -> None:
        self.switch = switch
        self.endpoints: dict[str, Endpoint] = {}
        self.destinations: dict[str, Destination] = {}
        self.default = Destination("*", "answer", 1.0)
        self.population: PopulationDirectory | None = None

    def set_population(self, population: Population | None) -> PopulationDirectory | None:
        """Numbers without an explicit destination follow `population` (None: they answer after 1 s again)."""
        from engine.sim.population import PopulationDirectory
        if self.population is not None:
            self.switch.on_channel_destroy.remove(self._population_leg_destroyed)
        self.population = PopulationDirectory(population) if population is not None else None
        if self.population is not None:
            self.switch.on_channel_destroy.append(self._population_leg_destroyed)
        return self.population

    def _population_leg_destroyed(self, ch: Channel) -> None:
        if self.population is not None:
            self.population.channel_destroyed(ch)

    def add_endpoint(self, ep: Endpoint) -> Endpoint:
        self.endpoints[ep.ext] = ep
        return ep

    def destination(self, number: str) -> Destination:
        """What dialing `number` does; each call is one dial attempt (a population counts it)."""
        dest = self.destinations.get(number)
        if dest is not None:
            return dest
        if self.population is not None:
            return self.population.dial(number)
        return self.default

    def _user_vars(self, ext: str) -> list[tuple[str, str]]:
        return [("sip_number_alias", ext), ("sip_auth_username", ext), ("sip_auth_realm", DOMAIN),
                ("number_alias", ext), ("user_name", ext), ("domain_name", DOMAIN), ("record_stereo", "true"),
                ("default_gateway", "example.com"), ("default_areacode", "918"),
                ("transfer_fallback_extension", "operator"), ("toll_allow", "domestic,international,local"),
                ("accountcode", ext), ("user_context", "default"), ("effective_caller_id_name", "Extension " + ext),
                ("effective_caller_id_number", ext), ("outbound_caller_id_name", "FreeSWITCH"),
                ("outbound_caller_id_number", "0000000000"), ("callgroup", "techsupport")]

    def register(self, ext: str, expires: int = 120) -> None:
        """Mark ext registered and fire CUSTOM sofia::register (capture 07 header set)."""
        ep = self.endpoints.get(ext) or self.add_endpoint(Endpoint(ext))
        ep.registered = True
        contact = '"" <sip:%s@127.0.0.1:%d>' % (ext, ep.port)
        self.switch.fire_simple("CUSTOM", [
            ("profile-name", "internal"), ("from-user", ext), ("from-host", DOMAIN),
            ("presence-hosts", "%s,%s" % (DOMAIN, DOMAIN)), ("contact", contact), ("call-id", ep.call_id),
            ("rpid", "unknown"), ("status", "Registered(UDP)"), ("expires", str(expires)), ("to-user", ext),
            ("to-host", DOMAIN), ("network-ip", "127.0.0.1"), ("network-port", str(ep.port + 1)),
            ("username", ext), ("realm", DOMAIN), ("user-agent", "jinqiao-sim-phone")] + self._user_vars(ext),
            subclass="sofia::register")

    def unregister(self, ext: str) -> None:
        """Mark ext unregistered and fire CUSTOM sofia::unregister."""
        ep = self.endpoints.get(ext) or self.add_endpoint(Endpoint(ext, registered=False))
        ep.registered = False
        contact = '"" <sip:%s@127.0.0.1:%d>' % (ext, ep.port)
        self.switch.fire_simple("CUSTOM", [
            ("profile-name", "internal"), ("username", ext), ("from-user", ext), ("from-host", DOMAIN),
            ("contact", contact), ("call-id", ep.call_id), ("rpid", "unknown"), ("realm", DOMAIN),
            ("network-ip", "127.0.0.1"), ("network-port", str(ep.port + 1)), ("user-agent", "jinqiao-sim-phone"),
            ("expires", "0")] + self._user_vars(ext), subclass="sofia::unregister")

    def expire(self, ext: str) -> None:
        """The registration of ext expired: fire CUSTOM sofia::expire (`expires` is an epoch)."""
        ep = self.endpoints.get(ext) or self.add_endpoint(Endpoint(ext, registered=False))
        ep.registered = False
        self.switch.fire_simple("CUSTOM", [
            ("profile-name", "internal"), ("call-id", ep.call_id), ("user", ext), ("username", ext),
            ("host", DOMAIN), ("contact", '"" <sip:%s@127.0.0.1:%d>' % (ext, ep.port)),
            ("expires", str(int(time.time()))), ("user-agent", "jinqiao-sim-phone"), ("realm", DOMAIN),
            ("network-ip", "127.0.0.1"), ("network-port", str(ep.port + 1))], subclass="sofia::expire")
