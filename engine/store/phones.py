"""Phone numbers: normalise to E.164, derive a time zone, list lookup variants, mask for logs.

How it works: `phonenumbers` is the single source of truth for parsing and validity. Parsing is the
hot spot of a bulk import, so already-clean digit strings ("+8613812345678", "13812345678") take a
fast path that builds the PhoneNumber directly, but only when the region's own metadata shows that
`phonenumbers.parse` would do nothing else: no international prefix, no country code to strip, no
national prefix or carrier code, no leading zero. Anything else goes through `phonenumbers.parse`.
Validity and time zone are then computed by phonenumbers in both cases; a property test checks
that both paths agree.
"""
from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneMetadata,
    PhoneNumberFormat,
    PhoneNumberType,
    is_number_type_geographical,
    region_code_for_country_code,
)
from phonenumbers import timezone as pn_timezone

from engine.store.errors import InvalidPhoneNumber

DEFAULT_REGION = "CN"
_CLEAN = re.compile(r"^\+?[0-9]{3,17}\Z")
_SIP = re.compile(r"^(?:sips?|tel):([^@;]+)", re.IGNORECASE)
_JUNK = re.compile(r"[\s\-().\u3000/]")


def _strip(raw: str) -> str:
    """Remove the decoration a caller ID or spreadsheet adds: sip:/tel: URIs, spaces, dashes, brackets."""
    text = raw.strip()
    match = _SIP.match(text)
    if match:
        text = match.group(1)
    text = _JUNK.sub("", text)
    if text.startswith("＋"):
        text = "+" + text[1:]
    return text


def normalize(raw: str, region: str = DEFAULT_REGION) -> str:
    """The E.164 form ("+8613812345678") of a number in any common format; raise InvalidPhoneNumber."""
    return phonenumbers.format_number(_parse_valid(raw, region)[0], PhoneNumberFormat.E164)


def normalize_with_zone(raw: str, region: str = DEFAULT_REGION) -> tuple[str, str | None]:
    """(E.164, IANA time zone or None) in one parse: what a bulk import needs for every row.

    Same answer as `normalize` plus `timezone_for`, computed the way `phonenumbers.timezone
    .time_zones_for_number` does it but reusing the number type found while validating.
    """
    number, ntype = _parse_valid(raw, region)
    if is_number_type_geographical(ntype, number.country_code):
        zones = pn_timezone.time_zones_for_geographical_number(number)
    else:
        zones = pn_timezone._country_level_time_zones_for_number(number)
    zone = next((z for z in zones if z != "Etc/Unknown"), None)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), zone


def _parse_valid(raw: str, region: str) -> tuple[phonenumbers.PhoneNumber, int]:
    """Parse and validate; the number type comes with it (valid exactly when the type is known)."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("empty phone number")
    number = _fast_parse(raw, region) if _CLEAN.match(raw) else None
    try:
        if number is None:
            number = phonenumbers.parse(raw if _CLEAN.match(raw) else _strip(raw), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {mask(raw)} ({_reason(exc)})") from None
    ntype = phonenumbers.number_type(number)  # is_valid_number() is exactly "type is not UNKNOWN"
    if ntype == PhoneNumberType.UNKNOWN:
        raise InvalidPhoneNumber(f"not a valid number: {mask(raw)}")
    return number, ntype


@functools.lru_cache(maxsize=None)
def _region_rules(region: str) -> tuple[int, str, re.Pattern | None, re.Pattern | None] | None:
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None:
        return None
    idd = re.compile(metadata.international_prefix) if metadata.international_prefix else None
    npfp = re.compile(metadata.national_prefix_for_parsing) if metadata.national_prefix_for_parsing else None
    return metadata.country_code, str(metadata.country_code), idd, npfp


@functools.lru_cache(maxsize=None)
def _npfp_for_code(country_code: int) -> re.Pattern | None | bool:
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region_code_for_country_code(country_code))
    if metadata is None:
        return False
    return re.compile(metadata.national_prefix_for_parsing) if metadata.national_prefix_for_parsing else None


def _fast_parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    """The PhoneNumber phonenumbers.parse would return for a clean digit string, or None to use parse."""
    if text[0] == "+":
        digits = text[1:]
        if digits[0] == "0":
            return None
        for size in (1, 2, 3):
            if int(digits[:size]) in COUNTRY_CODE_TO_REGION_CODE:
                country_code, national = int(digits[:size]), digits[size:]
                break
        else:
            return None
        npfp = _npfp_for_code(country_code)
        if npfp is False or (npfp is not None and npfp.match(national)):
            return None
    else:
        rules = _region_rules(region)
        if rules is None:
            return None
        country_code, code_text, idd, npfp = rules
        national = text
        if (national.startswith(code_text) or (idd is not None and idd.match(national))
                or (npfp is not None and npfp.match(national))):
            return None
    if not 2 <= len(national) <= 17 or national[0] == "0":
        return None
    return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))


def try_normalize(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """Like normalize, but None for a number that is not valid."""
    try:
        return normalize(raw, region)
    except InvalidPhoneNumber:
        return None


def lookup_variants(raw: str, region: str = DEFAULT_REGION) -> list[str]:
    """Every E.164 number a raw caller ID may stand for, most likely first (possibly empty).

    Caller IDs arrive as "+86...", "0086...", "86..." without a plus, national with or without the
    trunk 0, with spaces or dashes, or inside a sip: URI.
    """
    text = _strip(raw) if isinstance(raw, str) else ""
    if not text:
        return []
    out: list[str] = []
    candidates = [text]
    digits = text.lstrip("+")
    if digits.isdigit():
        if text.startswith("00"):
            candidates.append("+" + digits[2:])  # international prefix 00 in any region
        elif not text.startswith("+"):
            candidates.append("+" + digits)  # country code without the plus: "8613812345678"
        if digits.startswith("0") and not digits.startswith("00"):
            candidates.append(digits[1:])  # an extra trunk/outside-line 0
    for candidate in candidates:
        number = try_normalize(candidate, region)
        if number and number not in out:
            out.append(number)
    return out


def timezone_for(e164: str) -> str | None:
    """The IANA time zone of a (valid, E.164) number, or None when phonenumbers does not know one."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in pn_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    return zones[0] if zones else None


def mask(raw: object) -> str:
    """A phone number fit for logs: country code and last 4 digits kept ("+86*******5678")."""
    text = _strip(str(raw or ""))
    if len(text) <= 4:
        return "*" * len(text)
    keep_head = 3 if text.startswith("+") else 0
    return text[:keep_head] + "*" * (len(text) - keep_head - 4) + text[-4:]


def _reason(exc: phonenumbers.NumberParseException) -> str:
    return {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "unparseable")
