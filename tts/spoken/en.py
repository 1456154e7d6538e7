"""English spoken forms: one hundred twenty-three, twelve dollars and thirty-four cents, March fifth."""
from __future__ import annotations

import datetime as dt

from tts.spoken.common import Number, split_number, to_cents, to_date, to_time

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion")
ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                 "nine": "ninth", "twelve": "twelfth"}
MONTHS = ("January February March April May June July August September October November December").split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
# currency -> (major singular, major plural, minor singular, minor plural)
CURRENCIES = {
    "CNY": ("yuan", "yuan", "fen", "fen"),
    "USD": ("dollar", "dollars", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
}
SYMBOLS = {"*": "star", "#": "pound", "+": "plus"}
SEPARATORS = set(" -_/.()\t")


def _below_1000(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(f"{ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        parts.append(TENS[n // 10] + (f"-{ONES[n % 10]}" if n % 10 else ""))
    elif n:
        parts.append(ONES[n])
    return " ".join(parts)


def integer(n: int) -> str:
    """1234567 -> one million two hundred thirty-four thousand five hundred sixty-seven."""
    if n < 0:
        return "minus " + integer(-n)
    if n == 0:
        return "zero"
    if n >= 1000 ** len(SCALES):
        return " ".join(ONES[int(c)] for c in str(n))
    parts, scale = [], 0
    while n:
        n, chunk = divmod(n, 1000)
        if chunk:
            parts.append(_below_1000(chunk) + (f" {SCALES[scale]}" if scale else ""))
        scale += 1
    return " ".join(reversed(parts))


def ordinal(n: int) -> str:
    """21 -> twenty-first, 30 -> thirtieth."""
    words = integer(n)
    head, sep, last = words.rpartition("-") if "-" in words.split(" ")[-1] else words.rpartition(" ")
    if last in ORDINAL_WORDS:
        last = ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def number(value: Number) -> str:
    """123.5 -> one hundred twenty-three point five."""
    negative, whole, frac = split_number(value)
    text = integer(whole) + (" point " + " ".join(ONES[int(c)] for c in frac) if frac else "")
    return ("minus " if negative else "") + text


def money(amount: Number, currency: str) -> str:
    """USD 12.34 -> twelve dollars and thirty-four cents; CNY 1 -> one yuan."""
    if currency not in CURRENCIES:
        raise ValueError(f"unsupported currency {currency!r} (one of {', '.join(CURRENCIES)})")
    major_one, major_many, minor_one, minor_many = CURRENCIES[currency]
    negative, units, cents = to_cents(amount)
    parts = []
    if units or not cents:
        parts.append(f"{integer(units)} {major_one if units == 1 else major_many}")
    if cents:
        parts.append(f"{integer(cents)} {minor_one if cents == 1 else minor_many}")
    return ("minus " if negative else "") + " and ".join(parts)


def year(y: int) -> str:
    """2024 -> twenty twenty-four, 2005 -> two thousand five, 1900 -> nineteen hundred, 1905 -> nineteen oh five."""
    if not 1000 <= y <= 9999 or y % 1000 < 10:
        return integer(y)
    high, low = divmod(y, 100)
    if low == 0:
        return f"{integer(high)} hundred"
    if low < 10:
        return f"{integer(high)} oh {ONES[low]}"
    return f"{integer(high)} {integer(low)}"


def date(value: dt.date | str, *, weekday: bool = False) -> str:
    """2024-03-05 -> March fifth, twenty twenty-four (Tuesday, March fifth, ... with weekday=True)."""
    d = to_date(value)
    text = f"{MONTHS[d.month - 1]} {ordinal(d.day)}, {year(d.year)}"
    return f"{WEEKDAYS[d.weekday()]}, {text}" if weekday else text


def time(value: dt.time | str) -> str:
    """15:30 -> three thirty PM; 09:05 -> nine oh five AM; 12:00 -> twelve PM."""
    t = to_time(value)
    hour = integer(t.hour % 12 or 12)
    minute = "" if t.minute == 0 else f" oh {ONES[t.minute]}" if t.minute < 10 else f" {integer(t.minute)}"
    return f"{hour}{minute} {'AM' if t.hour < 12 else 'PM'}"


def digits(value: str) -> str:
    """Read one by one: 138-0013 -> one three eight, zero zero one three; SF12 -> S F one two."""
    words: list[str] = []
    for ch in str(value):
        if ch in SEPARATORS:
            if words and not words[-1].endswith(","):
                words[-1] += ","
            continue
        if ch.isdigit() and ch.isascii():
            words.append(ONES[int(ch)])
        elif ch in SYMBOLS:
            words.append(SYMBOLS[ch])
        elif ch.isascii() and ch.isalpha():
            words.append(ch.upper())
        elif not ch.isspace():
            words.append(ch)
    if words:
        words[-1] = words[-1].rstrip(",")
    return " ".join(words)
