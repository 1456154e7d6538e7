"""The one place where FreeSWITCH strings live: event and header names, apps, variables, API syntax, causes.

Everything that formats text FreeSWITCH will parse is here, so domain code never does. Builders validate
their inputs through the allow-lists of `engine.esl.allowlist` (re-exported here): a value that would break
FreeSWITCH's own parsing (spaces in a UUID, a `}` in a variable name, CR/LF anywhere) raises `ValueError`
instead of reaching the switch.
"""
from __future__ import annotations

import re
import unicodedata
import uuid as _uuid
from typing import Iterable, Mapping

from engine.esl.allowlist import (  # noqa: F401  (re-exported: commands is the import point)
    ENTERPRISE_DELIM, MAX_DIAL_VALUE, _APP_RE, _DIAL_PUNCTUATION, _EXT_RE, _NAME_RE, _TARGET_RE, _UUID_RE,
    _VAR_NAME_RE, _WORD_FORBIDDEN, _control, _no_newlines, check_dial_target, check_extension, check_name,
    check_text, check_uuid, check_var_name, check_word, dial_value, escape_dial_value, no_expansion,
)
from engine.esl.causes import HangupCause  # noqa: F401  (re-exported: commands is the import point)

# --- event names (ESL.md §4.1) -------------------------------------------------------------------------
EV_CUSTOM = "CUSTOM"
EV_CHANNEL_CREATE = "CHANNEL_CREATE"
EV_CHANNEL_DESTROY = "CHANNEL_DESTROY"
EV_CHANNEL_STATE = "CHANNEL_STATE"
EV_CHANNEL_CALLSTATE = "CHANNEL_CALLSTATE"
EV_CHANNEL_ANSWER = "CHANNEL_ANSWER"
EV_CHANNEL_HANGUP = "CHANNEL_HANGUP"
EV_CHANNEL_HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
EV_CHANNEL_EXECUTE = "CHANNEL_EXECUTE"
EV_CHANNEL_EXECUTE_COMPLETE = "CHANNEL_EXECUTE_COMPLETE"
EV_CHANNEL_BRIDGE = "CHANNEL_BRIDGE"
EV_CHANNEL_UNBRIDGE = "CHANNEL_UNBRIDGE"
EV_CHANNEL_PROGRESS = "CHANNEL_PROGRESS"
EV_CHANNEL_PROGRESS_MEDIA = "CHANNEL_PROGRESS_MEDIA"
EV_CHANNEL_OUTGOING = "CHANNEL_OUTGOING"
EV_CHANNEL_PARK = "CHANNEL_PARK"
EV_CHANNEL_UNPARK = "CHANNEL_UNPARK"
EV_CHANNEL_ORIGINATE = "CHANNEL_ORIGINATE"
EV_CHANNEL_UUID = "CHANNEL_UUID"
EV_CHANNEL_HOLD = "CHANNEL_HOLD"
EV_CHANNEL_UNHOLD = "CHANNEL_UNHOLD"
EV_CHANNEL_DATA = "CHANNEL_DATA"
EV_DTMF = "DTMF"
EV_BACKGROUND_JOB = "BACKGROUND_JOB"
EV_HEARTBEAT = "HEARTBEAT"
EV_PLAYBACK_START = "PLAYBACK_START"
EV_PLAYBACK_STOP = "PLAYBACK_STOP"
EV_RECORD_START = "RECORD_START"
EV_RECORD_STOP = "RECORD_STOP"
EV_API = "API"
EV_ALL = "ALL"

SUBCLASS_SOFIA_REGISTER = "sofia::register"
SUBCLASS_SOFIA_UNREGISTER = "sofia::unregister"
SUBCLASS_SOFIA_EXPIRE = "sofia::expire"

# mod_avmd (beep detection on an answered outbound leg): CUSTOM events with Unique-ID, Call-command: avmd
SUBCLASS_AVMD_START = "avmd::start"  # Start-time (us)
SUBCLASS_AVMD_BEEP = "avmd::beep"  # Beep-Status: DETECTED, Frequency, Frequency-variance, Amplitude, Detection-time
SUBCLASS_AVMD_STOP = "avmd::stop"  # Beep-Status: DETECTED|NOTDETECTED, Total-time (the `avmd` API's is unreliable)
SUBCLASS_AGENT_CONTROL = "jinqiao::agent"  # the engine's own agent-control event (CLI, phone feature codes)

# --- header names ----------------------------------------------------------------------------------------
H_EVENT_NAME = "Event-Name"
H_UNIQUE_ID = "Unique-ID"
H_JOB_UUID = "Job-UUID"
H_APPLICATION = "Application"
H_APPLICATION_UUID = "Application-UUID"
H_APPLICATION_RESPONSE = "Application-Response"
H_HANGUP_CAUSE = "Hangup-Cause"
H_ANSWER_STATE = "Answer-State"
H_CHANNEL_STATE = "Channel-State"
H_CALLER_NUMBER = "Caller-Caller-ID-Number"
H_CALLER_NAME = "Caller-Caller-ID-Name"
H_CALLER_ANSWERED_TIME = "Caller-Channel-Answered-Time"  # epoch microseconds: when the leg was answered
H_CALLER_CREATED_TIME = "Caller-Channel-Created-Time"  # epoch microseconds: when the call arrived
H_DESTINATION_NUMBER = "Caller-Destination-Number"
H_CHANNEL_NAME = "Channel-Name"
H_DTMF_DIGIT = "DTMF-Digit"
H_BRIDGE_A = "Bridge-A-Unique-ID"
H_BRIDGE_B = "Bridge-B-Unique-ID"
H_OTHER_LEG_UUID = "Other-Leg-Unique-ID"
H_CALL_STATE = "Channel-Call-State"
H_CALLER_CONTEXT = "Caller-Context"
H_EVENT_DATE_TIMESTAMP = "Event-Date-Timestamp"
H_SUBCLASS = "Event-Subclass"
H_RECORD_FILE_PATH = "Record-File-Path"
H_REG_USER = "from-user"
H_REG_USERNAME = "username"
H_REG_CONTACT = "contact"
H_AGENT_ID = "Agent-ID"  # headers of the jinqiao::agent control event
H_AGENT_ACTION = "Agent-Action"
H_AGENT_REASON = "Agent-Reason"
H_AGENT_QUEUES = "Agent-Queues"

# --- SIP headers the engine puts on agent legs (a plain softphone can show who is calling) -------------
SIP_HEADER_CUSTOMER = "X-Jinqiao-Customer"
SIP_HEADER_CUSTOMER_NAME = "X-Jinqiao-Customer-Name"
SIP_HEADER_CALL_ID = "X-Jinqiao-Call-Id"
SIP_HEADER_QUEUE = "X-Jinqiao-Queue"
SIP_HEADER_SEGMENT = "X-Jinqiao-Segment"

# --- channel variables -----------------------------------------------------------------------------------
VAR_CALL_ID = "jq_call_id"  # set by the engine on every leg it creates or controls
VAR_QUEUE = "jq_queue"
VAR_CAMPAIGN_ID = "jq_campaign_id"  # set by the dialer on every campaign leg (the outbound server dispatches on it)
VAR_ATTEMPT_ID = "jq_attempt_id"
VAR_CONTACT_ID = "jq_contact_id"
VAR_CUSTOMER_ID = "jq_customer_id"
VAR_AGENT_ID = "jq_agent_id"  # on an agent leg: the agent it rings (rebuilt after a restart, engine/ha/rebuild.py)
VAR_QUEUE_PRIORITY = "jq_queue_priority"  # on a queued caller: its priority in line (kept across a restart)
VAR_QUEUED_AT = "jq_queued_at"  # on a queued caller: epoch seconds it entered the line (its place after a restart)
VAR_READOPT = "jq_readopt"  # on a caller sent back to the engine's socket after a restart: re-enter its queue
VAR_SOCKET_RESUME = "socket_resume"  # the dialplan continues (to `park`) if the engine's socket closes
VAR_BRIDGE_UUID = "bridge_uuid"  # the channel it is (or was last) bridged to
VAR_ORIGINATION_UUID = "origination_uuid"
VAR_ORIGINATION_CID_NUMBER = "origination_caller_id_number"
VAR_ORIGINATION_CID_NAME = "origination_caller_id_name"
VAR_ORIGINATE_TIMEOUT = "originate_timeout"
VAR_IGNORE_EARLY_MEDIA = "ignore_early_media"
VAR_API_ON_ANSWER = "api_on_answer"  # an API command FreeSWITCH runs itself when the leg is answered
VAR_CONTINUE_ON_FAIL = "continue_on_fail"
VAR_HANGUP_AFTER_BRIDGE = "hangup_after_bridge"
VAR_PARK_AFTER_BRIDGE = "park_after_bridge"
VAR_PLAYBACK_TERMINATORS = "playback_terminators"
VAR_PLAYBACK_TERMINATOR_USED = "playback_terminator_used"
VAR_READ_RESULT = "read_result"
VAR_RECORD_SECONDS = "record_seconds"
VAR_RECORD_MS = "record_ms"
VAR_ORIGINATE_DISPOSITION = "originate_disposition"
VAR_DIALSTATUS = "DIALSTATUS"
VAR_HANGUP_CAUSE = "hangup_cause"
VAR_SIP_TERM_STATUS = "sip_term_status"  # final SIP status of the dialog (200 after a BYE, 486 busy...)
VAR_SIP_INVITE_FAILURE_STATUS = "sip_invite_failure_status"
VAR_PROTO_HANGUP_CAUSE = "proto_specific_hangup_cause"  # "sip:200"
VAR_SIP_HANGUP_DISPOSITION = "sip_hangup_disposition"  # recv_bye, send_bye, recv_cancel, recv_refuse...
VAR_TTS_ENGINE = "tts_engine"
VAR_TTS_VOICE = "tts_voice"
VAR_SIP_HEADER_PREFIX = "sip_h_"
VAR_EFFECTIVE_CID_NAME = "effective_caller_id_name"
VAR_EFFECTIVE_CID_NUMBER = "effective_caller_id_number"
VAR_RECORD_STEREO = "RECORD_STEREO"
VAR_AVMD_DETECT = "avmd_detect"  # "TRUE" once mod_avmd heard a beep (set before avmd::beep fires)
VAR_AVMD_TOTAL_TIME = "avmd_total_time"  # "[ms]" from avmd start to the beep
H_BEEP_STATUS = "Beep-Status"
# read by eavesdrop on the listening channel (switch_ivr_eavesdrop_session): mux the listener's audio into
# the target's read (aleg: the target hears it) / write (bleg: the target's peer hears it); DTMF mode switching.
VAR_EAVESDROP_WHISPER_ALEG = "eavesdrop_whisper_aleg"
VAR_EAVESDROP_WHISPER_BLEG = "eavesdrop_whisper_bleg"
VAR_EAVESDROP_ENABLE_DTMF = "eavesdrop_enable_dtmf"

SAY_PREFIX = "say:"  # playback of TTS text with the channel's tts_engine/tts_voice

# --- applications ----------------------------------------------------------------------------------------
APP_ANSWER = "answer"
APP_PRE_ANSWER = "pre_answer"
APP_PLAYBACK = "playback"
APP_SPEAK = "speak"
APP_PLAY_AND_GET_DIGITS = "play_and_get_digits"
APP_READ = "read"
APP_RECORD = "record"
APP_RECORD_SESSION = "record_session"
APP_STOP_RECORD_SESSION = "stop_record_session"
APP_BRIDGE = "bridge"
APP_PARK = "park"
APP_HANGUP = "hangup"
APP_SET = "set"
APP_EXPORT = "export"
APP_UNSET = "unset"
APP_SLEEP = "sleep"
APP_TRANSFER = "transfer"
APP_SOCKET = "socket"
APP_EAVESDROP = "eavesdrop"
APP_AVMD_START = "avmd_start"  # mod_avmd: start beep detection (outbound legs, after answer)
APP_AVMD_STOP = "avmd_stop"  # fires avmd::stop with the real Beep-Status and Total-time
API_AVMD = "avmd"  # `avmd <uuid> start|stop`; replies "+OK\n [<uuid>] [<channel name>] started!\n\n"
AVMD_CMD_START = "start"
AVMD_CMD_STOP = "stop"

# --- call-commands for sendmsg ----------------------------------------------------------------------------
CALL_COMMAND_EXECUTE = "execute"
CALL_COMMAND_HANGUP = "hangup"

# --- sounds ------------------------------------------------------------------------------------------------
MUSIC_ON_HOLD = "local_stream://moh"
TONE_RINGBACK = "tone_stream://%(2000,4000,440,480)"

# --- API reply texts -----------------------------------------------------------------------------------------
REPLY_OK = "+OK"
REPLY_ERR = "-ERR"
UNDEF = "_undef_"


def new_uuid() -> str:
    """A fresh UUID for origination_uuid, Event-UUID or Job-UUID."""
    return str(_uuid.uuid4())


# --- dial strings and originate --------------------------------------------------------------------------------
def variables_block(variables: Mapping[str, object], brackets: str = "{}") -> str:
    """`{a=b,c=d}` (or `[a=b]` with brackets="[]") with names checked and values from the allow-list.

    A value that is empty once cleaned is left out (FreeSWITCH ignores `a=` anyway)."""
    if brackets not in ("{}", "[]", "<>"):
        raise ValueError(f"bad variable block brackets {brackets!r}")
    pairs = [(check_var_name(k), escape_dial_value(v)) for k, v in variables.items()]
    inner = ",".join(f"{k}={v}" for k, v in pairs if v)
    return f"{brackets[0]}{inner}{brackets[1]}" if inner else ""


def user_endpoint(extension: str, domain: str | None = None) -> str:
    """`user/<ext>[@domain]` for a registered SIP user."""
    check_extension(extension)
    if domain and not re.match(r"^[A-Za-z0-9.\-]{1,253}\Z", domain):
        raise ValueError(f"not a SIP domain: {domain!r}")
    return f"user/{extension}@{domain}" if domain else f"user/{extension}"


def sofia_gateway_endpoint(gateway: str, number: str) -> str:
    """`sofia/gateway/<gw>/<number>` for a PSTN destination through a configured gateway."""
    if not isinstance(number, str) or not re.match(r"^\+?[0-9*#]{1,32}\Z", number) \
            or not isinstance(gateway, str) or not _NAME_RE.match(gateway):
        raise ValueError(f"bad gateway destination: {gateway!r} {number!r}")
    return f"sofia/gateway/{gateway}/{number}"


def sip_uri_endpoint(uri: str, profile: str = "internal") -> str:
    """`sofia/<profile>/<uri>` for a SIP URI transfer target."""
    if not isinstance(uri, str) or not re.match(r"^(sips?:)?[A-Za-z0-9_.+\-]+@[A-Za-z0-9_.\-]+(:\d{1,5})?\Z", uri):
        raise ValueError(f"not a SIP URI: {uri!r}")
    return f"sofia/{check_name(profile, 'SIP profile')}/{uri}"


def dial_string(target: str, variables: Mapping[str, object] | None = None,
                leg_variables: Mapping[str, object] | None = None) -> str:
    """`{global vars}[leg vars]target`: one leg to one target, whatever the values hold."""
    check_dial_target(target)
    return variables_block(variables or {}) + variables_block(leg_variables or {}, "[]") + target


_APP_ARG_RE = re.compile(r"^[A-Za-z0-9_.+*#@/:=%,-]{0,256}\Z")


def originate(target: str, *, app: str = APP_PARK, app_arg: str = "", variables: Mapping[str, object] | None = None,
              uuid: str | None = None, timeout: int | None = None, extension: str | None = None,
              dialplan: str = "XML", context: str = "default",
              leg_variables: Mapping[str, object] | None = None) -> str:
    """`originate {vars,origination_uuid=..}target &app(arg)` (or an extension in dialplan/context)."""
    merged: dict[str, object] = dict(variables or {})
    if uuid:
        merged[VAR_ORIGINATION_UUID] = check_uuid(uuid)
    if timeout is not None:
        merged[VAR_ORIGINATE_TIMEOUT] = int(timeout)
    dial = dial_string(target, merged, leg_variables)
    if extension is not None:
        check_extension(extension)
        return f"originate {dial} {extension} {check_name(dialplan, 'dialplan')} {check_name(context, 'context')}"
    if not isinstance(app, str) or not _APP_RE.match(app):
        raise ValueError(f"not an application name: {app!r}")
    if not all(_APP_ARG_RE.match(word) for word in app_arg.split(" ")):
        raise ValueError("an &app() argument must be words without ')', quotes, '$' or control characters")
    if " " in app_arg:  # quoted, so the API's blank splitter keeps `&app(a b c)` one argument
        return f"originate {dial} '&{app}({app_arg})'"
    return f"originate {dial} &{app}({app_arg})"


# --- channel API commands ---------------------------------------------------------------------------------
def uuid_bridge(uuid: str, other: str) -> str:
    return f"uuid_bridge {check_uuid(uuid)} {check_uuid(other)}"


def uuid_kill(uuid: str, cause: HangupCause | str = HangupCause.NORMAL_CLEARING) -> str:
    cause_name = cause.name if isinstance(cause, HangupCause) else HangupCause.parse(cause).name
    return f"uuid_kill {check_uuid(uuid)} {cause_name}"


def uuid_break(uuid: str, all: bool = False) -> str:  # noqa: A002 - FreeSWITCH's word
    return f"uuid_break {check_uuid(uuid)}" + (" all" if all else "")


def uuid_transfer(uuid: str, extension: str, dialplan: str = "XML", context: str = "default", leg: str = "") -> str:
    check_extension(extension)
    if leg not in ("", "bleg", "both"):
        raise ValueError(f"bad transfer leg {leg!r}")
    flag = {"": "", "bleg": "-bleg ", "both": "-both "}[leg]
    return (f"uuid_transfer {check_uuid(uuid)} {flag}{extension} {check_name(dialplan, 'dialplan')} "
            f"{check_name(context, 'context')}")


def uuid_broadcast(uuid: str, path: str, leg: str = "aleg") -> str:
    check_word(path, "broadcast path")
    if leg not in ("aleg", "bleg", "both", "holdb"):
        raise ValueError(f"bad broadcast leg {leg!r}")
    return f"uuid_broadcast {check_uuid(uuid)} {path} {leg}"


def uuid_record(uuid: str, action: str, path: str, limit_seconds: int | None = None) -> str:
    if action not in ("start", "stop", "pause", "resume", "mask", "unmask"):
        raise ValueError(f"bad record action {action!r}")
    check_word(path, "record path")
    return f"uuid_record {check_uuid(uuid)} {action} {path}" + (f" {int(limit_seconds)}" if limit_seconds else "")


def uuid_setvar(uuid: str, name: str, value: str) -> str:
    """`uuid_setvar <uuid> <name> <value>`; the value is one word (FreeSWITCH strips quotes and escapes)."""
    return f"uuid_setvar {check_uuid(uuid)} {check_var_name(name)} {check_word(value, 'variable value')}"


def uuid_setvar_multi(uuid: str, variables: Mapping[str, str]) -> str:
    """`uuid_setvar_multi <uuid> a=1;b=2`: several variables in one command (values are single words, no `;`)."""
    pairs = []
    for name, value in variables.items():
        value = check_word(value, "variable value")
        if ";" in value or "=" in value:
            raise ValueError(f"variable value {value!r} contains ';' or '='")
        pairs.append(f"{check_var_name(name)}={value}")
    return f"uuid_setvar_multi {check_uuid(uuid)} {';'.join(pairs)}"


def uuid_getvar(uuid: str, name: str) -> str:
    return f"uuid_getvar {check_uuid(uuid)} {check_var_name(name)}"


def uuid_exists(uuid: str) -> str:
    return f"uuid_exists {check_uuid(uuid)}"


def uuid_dump(uuid: str) -> str:
    return f"uuid_dump {check_uuid(uuid)} json"


def uuid_answer(uuid: str) -> str:
    return f"uuid_answer {check_uuid(uuid)}"


def uuid_hold(uuid: str, on: bool = True) -> str:
    return f"uuid_hold {check_uuid(uuid)}" if on else f"uuid_hold off {check_uuid(uuid)}"


def show_channels_json() -> str:
    return "show channels as json"


def show_calls_json() -> str:
    return "show calls as json"


def status() -> str:
    return "status"


# --- inbound session commands -----------------------------------------------------------------------------------
def auth(password: str) -> str:
    return "auth " + check_text(password, "password")


_EVENT_WORD_RE = re.compile(r"^[A-Za-z0-9_:.\-]{1,128}\Z")


def subscribe(event_format: str, names: Iterable[str]) -> str:
    names = list(names)
    for name in names:
        if not _EVENT_WORD_RE.match(name or ""):
            raise ValueError(f"not an event name: {name!r}")
    # FreeSWITCH reads every word after CUSTOM as a subclass name, so CUSTOM and its subclasses go last.
    plain = [n for n in names if "::" not in n and n != "CUSTOM"]
    custom = [n for n in names if "::" in n]
    words = plain + (["CUSTOM", *custom] if custom or "CUSTOM" in names else [])
    if event_format not in ("plain", "json", "xml"):
        raise ValueError(f"bad event format {event_format!r}")
    return f"event {event_format} " + " ".join(words)


def sendevent(name: str) -> str:
    if not isinstance(name, str) or not re.match(r"^[A-Z_]{1,64}\Z", name):
        raise ValueError(f"not an event name: {name!r}")
    return f"sendevent {name}"


def filter_add(header: str, value: str) -> str:
    if not _EVENT_WORD_RE.match(header or ""):
        raise ValueError(f"not a filter header: {header!r}")
    return f"filter {header} {check_text(value, 'filter value')}"


def execute_headers(app: str, event_uuid: str, *, event_lock: bool = True, loops: int = 1) -> dict[str, str]:
    """Headers for `sendmsg` call-command execute (the app argument travels as the text/plain body)."""
    if not isinstance(app, str) or not _APP_RE.match(app):
        raise ValueError(f"not an application name: {app!r}")
    headers = {"execute-app-name": app, "Event-UUID": check_uuid(event_uuid)}
    if event_lock:
        headers["event-lock"] = "true"
    if loops != 1:
        headers["loops"] = str(int(loops))
    return headers


def hangup_headers(cause: HangupCause | str = HangupCause.NORMAL_CLEARING) -> dict[str, str]:
    name = cause.name if isinstance(cause, HangupCause) else HangupCause.parse(cause).name
    return {"hangup-cause": name}


# --- application arguments ----------------------------------------------------------------------------------------
def play_and_get_digits_arg(*, min_digits: int, max_digits: int, tries: int, timeout_ms: int, terminators: str,
                            prompt: str, invalid_prompt: str, variable: str, regexp: str,
                            digit_timeout_ms: int | None = None) -> str:
    """The argument of play_and_get_digits (ESL.md §5.2); file names must not contain spaces."""
    check_text(regexp, "regexp")
    if not regexp or " " in regexp or "'" in regexp:
        raise ValueError(f"regexp must be one non-empty word without quotes: {regexp!r}")
    prompt, invalid_prompt = _one_argument(prompt, "prompt"), _one_argument(invalid_prompt, "invalid prompt")
    for escape in ("\\s", "\\t", "\\n"):  # FreeSWITCH's argument splitter turns these into whitespace
        if escape in regexp:
            raise ValueError(f"regexp must not use {escape} (write [ ] or [\\t] instead): {regexp!r}")
    check_var_name(variable)
    terminators = terminators or "none"
    if not re.match(r"^(none|[0-9*#]{1,12})\Z", terminators):
        raise ValueError(f"terminators must be DTMF keys or 'none': {terminators!r}")
    arg = (f"{int(min_digits)} {int(max_digits)} {int(tries)} {int(timeout_ms)} {terminators} {prompt} "
           f"{invalid_prompt} {variable} {regexp}")
    if digit_timeout_ms is not None:
        arg += f" {int(digit_timeout_ms)}"
    return arg


def _one_argument(text: str, what: str) -> str:
    """A file or `say:` text as one field of a space-split argument: single-quoted when it has spaces
    (switch_separate_string groups '…' and drops the quotes); quotes and backslashes cannot be carried."""
    if not text.strip() or text != text.strip(" ") or any(c in text for c in "'\\") or _control(text):
        raise ValueError(f"{what} must be non-empty, without quotes, backslashes, control characters or "
                         f"blanks at the ends: {text!r}")
    return f"'{text}'" if " " in text else text


def record_arg(path: str, max_seconds: int, silence_threshold: int = 200, silence_seconds: int = 3) -> str:
    check_word(path, "record path")
    return f"{path} {int(max_seconds)} {int(silence_threshold)} {int(silence_seconds)}"


def set_arg(name: str, value: str) -> str:
    """`name=value` for the set app. FreeSWITCH expands `${...}` twice on this path (app data, then
    `set` itself), so no escape survives: a value with `$` is refused rather than ever evaluated."""
    value = check_text(value, "variable value")
    if "$" in value:
        raise ValueError(f"a set value must not contain '$' (FreeSWITCH would expand it): {value[:40]!r}")
    return f"{check_var_name(name)}={value}"


def _spoken(text: str) -> str:
    """Text to speak as one line: control characters become blanks, blanks collapse, `$` is escaped."""
    cleaned = "".join(" " if (unicodedata.category(c) == "Cc" or c in "\u2028\u2029") else c for c in str(text))
    return no_expansion(" ".join(cleaned.split()))


def say_path(text: str) -> str:
    """A playback path that speaks `text` with the channel's tts_engine/tts_voice: one line, `$` escaped so
    caller data inside it is never expanded."""
    return SAY_PREFIX + _spoken(text)


def speak_arg(engine: str, voice: str, text: str) -> str:
    """`engine|voice|text` for the speak app; `$` escaped so caller-supplied data is never expanded."""
    check_name(engine, "TTS engine")
    check_name(voice, "TTS voice")
    return f"{engine}|{voice}|{_spoken(text)}"


def transfer_arg(extension: str, dialplan: str = "XML", context: str = "default") -> str:
    check_extension(extension)
    return f"{extension} {check_name(dialplan, 'dialplan')} {check_name(context, 'context')}"


def silence(ms: int) -> str:
    return f"silence_stream://{int(ms)}"


def socket_arg(host: str, port: int) -> str:
    """The `socket` application's argument that hands a call to the engine's outbound server (async, full)."""
    if not isinstance(host, str) or not re.match(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]{1,253})\Z", host):
        raise ValueError(f"not a host name or address: {host!r}")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"not a TCP port: {port!r}")
    return f"{host}:{int(port)} async full"


# --- routing API commands between several FreeSWITCH nodes (engine/esl/switchnodes.py) -----------------------
H_SESSION_COUNT = "Session-Count"  # HEARTBEAT: channels in use on that switch
_UUID_WORD_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MERGED_LISTINGS = (show_channels_json(), show_calls_json())  # answered by every node, rows joined


def command_channel(command: str) -> str:
    """The channel a `uuid_*` API command acts on (its first argument); "" for any other command."""
    verb, _, rest = command.partition(" ")
    return rest.split(" ", 1)[0] if verb.startswith("uuid_") and rest else ""


def is_originate(command: str) -> bool:
    return command.startswith("originate ")


def uuids_named(command: str) -> list[str]:
    """Every channel UUID written in a command (an originate's own uuid, its api_on_answer bridge, an eavesdrop
    target), in order."""
    return _UUID_WORD_RE.findall(command)
