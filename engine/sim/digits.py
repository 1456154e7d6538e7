"""Digit collection apps: `read` and `play_and_get_digits` with FreeSWITCH's §5.2 semantics."""
from __future__ import annotations

import re

from engine.sim.apps import _media_ready, app, media_wait, play_file
from engine.sim.channel import Channel


def read_digits(ch: Channel, min_d: int, max_d: int, prompt: str, var: str, timeout_ms: int,
                terminators: str, digit_timeout_ms: int) -> str:
    """switch_ivr_read (§5.2); returns read_result."""
    ch.set_var("read_result", None)
    if var:
        ch.set_var(var, None)
    required = terminators.startswith("=")          # a terminator must end the input
    terminators = terminators.lstrip("=")
    keep = ""
    if len(terminators) > 1 and terminators[0] in "+x":
        keep, terminators = terminators[0], terminators[1:]   # +# appends the #, x# also means "restart"
    digits: list[str] = []
    term_used: list[str] = []

    def on_digit(d: str) -> bool:
        if d in terminators:
            term_used.append(d)
        else:
            digits.append(d)
        return True

    if prompt and prompt != "silence":
        if play_file(ch, prompt, on_digit) == "hangup":
            ch.set_var("read_result", "failure")
            return "failure"
    result = ""
    while not term_used and len(digits) < max_d:
        wait = (digit_timeout_ms if digits else timeout_ms) / 1000.0
        got: list[str] = []
        why = media_wait(ch, wait, lambda d: (got.append(d), True)[1])
        if why == "hangup":
            result = "failure"
            break
        if why != "digit":
            result = "timeout" if len(digits) >= min_d and digits else "failure"
            break
        on_digit(got[0])
    if not result:
        result = "success" if len(digits) >= min_d else "failure"
    if required and not term_used:
        result = "failure"
    if term_used:
        ch.set_var("read_terminator_used", term_used[0])
        if keep:
            digits.append(term_used[0])
            if keep == "x":
                result = "restart"
    if digits and var:
        ch.set_var(var, "".join(digits))
    ch.set_var("read_result", result)
    return result


@app("read")
def _read(ch: Channel, arg: str) -> None:
    a = arg.split()
    if len(a) < 4:
        return
    min_d = max(1, int(a[0]))
    max_d = max(min_d, int(a[1]))
    timeout = max(1000, int(a[4])) if len(a) > 4 else 1000
    terms = a[5] if len(a) > 5 else "#"
    digit_timeout = int(a[6]) if len(a) > 6 else timeout
    _media_ready(ch)
    read_digits(ch, min_d, max_d, a[2], a[3], timeout, terms, digit_timeout)


@app("play_and_get_digits")
def _pagd(ch: Channel, arg: str) -> None:
    a = [token.strip("'") for token in re.findall(r"'[^']*'|\S+", arg)]  # FreeSWITCH drops the quotes
    if len(a) < 8:
        return
    min_d, max_d, tries, timeout = int(a[0]), int(a[1]), max(1, int(a[2])), int(a[3])
    terms, prompt, invalid, var = a[4], a[5], a[6], a[7]
    regexp = a[8] if len(a) > 8 else ""
    digit_timeout = int(a[9]) if len(a) > 9 and a[9].isdigit() else timeout
    fail = a[10].strip("'") if len(a) > 10 else ""
    _media_ready(ch)
    if regexp and var:
        ch.set_var(var + "_invalid", None)
    for _ in range(tries):
        if not ch.up:
            return
        res = read_digits(ch, min_d, max_d, prompt, var, timeout, terms, digit_timeout)
        value = ch.get_var(var)
        ok = res == "success" or (res == "timeout" and len(value) >= min_d)
        if min_d == 0 and not value and ch.get_var("read_terminator_used"):
            ok = True
        if ok and value and regexp and not re.search(regexp, value):
            ch.set_var(var, None)
            ch.set_var(var + "_invalid", value)
            ok = False
        if ok and (value or min_d == 0):
            return
        if invalid and invalid != "silence" and ch.up:
            play_file(ch, invalid, lambda d: True)
    if fail and ch.up:
        bits = fail.split()
        ch.pending_transfer = (bits[0], bits[1] if len(bits) > 1 else "XML",
                               bits[2] if len(bits) > 2 else ch.profile.context)
