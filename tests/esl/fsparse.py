"""A small pure-Python model of how FreeSWITCH splits the commands the engine builds (for property tests).

Modelled on switch_utils.c / switch_event.c / switch_ivr_originate.c:
- `separate(buf, delim, limit)` is switch_separate_string: `^^X` at the start picks another delimiter, a
  backslash escapes the next byte, `'` toggles quoting, and each field is cleaned (quotes removed,
  escapes resolved). With delim " " blanks *and tabs* separate and runs of them collapse.
- `find_end_paren` is switch_find_end_paren: nesting depth of one bracket pair, quotes not honoured.
- `parse_dial(dial)` is the front of switch_ivr_originate: `:_:` anywhere (brackets included) makes it an
  enterprise originate; `<…>` and `{…}` blocks at the start (switch_event_create_brackets: split on `,`
  then on the first `=`); then legs split on `|` and on `,` outside `[…]`; each leg's own `[…]` blocks;
  the rest is the target.
"""
from __future__ import annotations

from dataclasses import dataclass, field


def separate(buf: str, delim: str, limit: int = 1024) -> list[str]:
    if buf.startswith("^^") and len(buf) >= 4:
        delim, buf = buf[2], buf[3:]
    blank = delim == " "
    fields: list[str] = []
    i, n = 0, len(buf)
    if blank:
        while i < n and buf[i] in " \t":
            i += 1
    while i < n and len(fields) < limit:
        start, quoted = i, False
        if len(fields) == limit - 1:  # the last field takes the rest
            fields.append(buf[start:])
            break
        while i < n:
            c = buf[i]
            if c == "\\":
                i += 2
                continue
            if c == "'":
                quoted = not quoted
            elif not quoted and (c in " \t" if blank else c == delim):
                break
            i += 1
        fields.append(buf[start:i])
        i += 1
        if blank:
            while i < n and buf[i] in " \t":
                i += 1
    return [_cleanup(f, blank) for f in fields]


def _cleanup(text: str, blank: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c != "'":
            out.append(c)
        i += 1
    result = "".join(out)
    return result.strip(" \t") if blank else result


def find_end_paren(text: str, open_: str, close: str) -> int:
    depth = 0
    for i, c in enumerate(text):
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i
    return -1


@dataclass
class Leg:
    variables: dict[str, str] = field(default_factory=dict)
    target: str = ""


@dataclass
class Dial:
    enterprise: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    legs: list[Leg] = field(default_factory=list)  # flattened over `|` groups
    groups: int = 0
    error: str = ""


def _block(text: str, open_: str, close: str, delim: str, into: dict[str, str]) -> str | None:
    end = find_end_paren(text, open_, close)
    if end < 0:
        return None
    for part in separate(text[1:end], delim):
        pair = separate(part, "=", 2)
        if len(pair) == 2:
            into[pair[0]] = pair[1]
    return text[end + 1:]


def parse_dial(dial: str) -> Dial:
    result = Dial()
    if ":_:" in dial:
        result.enterprise = True
        return result
    data = dial.lstrip(" ")
    for open_, close in (("<", ">"), ("{", "}")):
        while data.startswith(open_):
            rest = _block(data, open_, close, ",", result.variables)
            if rest is None:
                result.error = "parse error"
                return result
            data = rest
    data = data.lstrip(" ")
    groups = separate(data, "|")
    result.groups = len(groups)
    for group in groups:
        for peer in _split_legs(group):
            leg = Leg()
            peer = peer.lstrip(" ")
            while peer.startswith("["):
                rest = _block(peer, "[", "]", "\x02", leg.variables)
                if rest is None:
                    result.error = "parse error"
                    return result
                peer = rest
            leg.target = peer.lstrip(" ")
            result.legs.append(leg)
    return result


def _split_legs(group: str) -> list[str]:
    """The comma pass of switch_ivr_originate: commas inside `[…]` are protected, the rest split legs."""
    chars = list(group)
    end = -1
    quoted = False
    for i, c in enumerate(chars):
        if end < 0 and c == "[":
            end = i + find_end_paren(group[i:], "[", "]") if find_end_paren(group[i:], "[", "]") >= 0 else -1
            quoted = False
        if c == "'":
            quoted = not quoted
        if end >= 0 and i < end and c == "," and (i == 0 or chars[i - 1] != "\\"):
            chars[i] = "\x01" if quoted else "\x02"
        if i == end:
            end = -1
    legs = separate("".join(chars), ",")
    return [leg.replace("\x01", ",") for leg in legs]


def parse_originate_api(line: str) -> tuple[str, list[str]]:
    """`originate <dial> <&app(arg)|exten> [dialplan] [context] …` as mod_commands splits it."""
    command, _, rest = line.partition(" ")
    return command, separate(rest, " ")


def parse_app(dest: str) -> tuple[str, str] | None:
    """`&app(arg)` as mod_commands reads it: the app ends at `(`, the argument at the first `)`."""
    if not dest.startswith("&"):
        return None
    name, _, arg = dest[1:].partition("(")
    return name, arg.split(")", 1)[0]
