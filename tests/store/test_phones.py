"""Phone number normalisation, time zones, lookup variants and masking."""
from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as pn_timezone

from engine.store.errors import InvalidPhoneNumber
from engine.store.phones import lookup_variants, mask, normalize, normalize_with_zone, timezone_for, try_normalize


@pytest.mark.parametrize("raw", [
    "13812345678", "+8613812345678", "008613812345678", "+86 138 1234 5678", "138-1234-5678",
    "(138) 1234 5678", "013812345678", "＋86 13812345678",
])
def test_a_mobile_number_in_every_written_format_normalises_to_one_e164(raw: str) -> None:
    assert normalize(raw) == "+8613812345678"


@pytest.mark.parametrize("raw", ["01012345678", "010-1234 5678", "+86 10 1234 5678", "0086 10 12345678"])
def test_a_beijing_landline_keeps_its_area_code_without_the_trunk_zero(raw: str) -> None:
    assert normalize(raw) == "+861012345678"


@pytest.mark.parametrize("raw", ["", "   ", "abc", "12345", "95588", "138123456789999", "+999 1234 5678", "0000"])
def test_malformed_or_impossible_numbers_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize(raw)
    assert try_normalize(raw) is None


def test_the_default_region_decides_how_national_numbers_are_read() -> None:
    assert normalize("(650) 253-0000", region="US") == "+16502530000"
    assert normalize("+16502530000", region="CN") == "+16502530000"


def test_time_zone_comes_from_the_number() -> None:
    assert timezone_for("+8613812345678") == "Asia/Shanghai"
    assert timezone_for("+16502530000") == "America/Los_Angeles"
    assert normalize_with_zone("+442079460000") == ("+442079460000", "Europe/London")


@pytest.mark.parametrize("raw", [
    "+8613812345678", "008613812345678", "8613812345678", "13812345678", "013812345678",
    "sip:+8613812345678@10.0.0.1", "tel:+86-138-1234-5678", "+86 138 1234 5678",
])
def test_caller_id_variants_include_the_customers_number(raw: str) -> None:
    assert "+8613812345678" in lookup_variants(raw)


def test_garbage_caller_ids_have_no_variants() -> None:
    assert lookup_variants("anonymous") == []
    assert lookup_variants("") == []


def test_masked_numbers_keep_only_country_code_and_last_four_digits() -> None:
    assert mask("+8613812345678") == "+86*******5678"
    assert "1234" not in mask("sip:+8613812345678@host")
    assert mask("12") == "**"


_PREFIXES = ["", "0", "00", "86", "+86", "+860", "0086", "1", "10", "12593", "17951", "179", "+1", "+44", "+39",
             "+390", "+852", "+800", "400", "+7", "+999"]


@settings(max_examples=1500, deadline=None)
@given(prefix=st.sampled_from(_PREFIXES), digits=st.text("0123456789", min_size=0, max_size=13),
       region=st.sampled_from(["CN", "US", "IT", "GB", "HK", "DE"]))
def test_fast_path_gives_exactly_what_phonenumbers_gives(prefix: str, digits: str, region: str) -> None:
    raw = prefix + digits
    try:
        parsed = phonenumbers.parse(raw, region)
        valid = phonenumbers.is_valid_number(parsed)
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        with pytest.raises(InvalidPhoneNumber):
            normalize_with_zone(raw, region)
        return
    zones = [z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    expected = (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), zones[0] if zones else None)
    assert normalize_with_zone(raw, region) == expected
    assert normalize(raw, region) == expected[0]
