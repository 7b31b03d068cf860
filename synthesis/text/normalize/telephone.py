"""Telephone numbers, IP addresses and similar digit groups, read digit by digit in groups
separated by commas (a pause between groups, as people read them out)."""

from __future__ import annotations

import re

from .numbers import cardinal, digits

# Country calling codes whose national numbers have ten digits (grouped 3-3-4 when unspaced).
_TEN_DIGIT_COUNTRIES = ("1", "44", "234")

INTERNATIONAL_RE = re.compile(
    r"(?<![\w+])\+[0-9]{1,3}(?:[ .-]?\(?[0-9]{1,5}\)?){1,6}(?![0-9])"
    r"|(?<![\w+])\+[0-9]{8,15}(?![0-9])"
)
NORTH_AMERICAN_RE = re.compile(
    r"(?<![\w.(-])(?:\([0-9]{3}\)[ -]?|[0-9]{3}[-.])[0-9]{3}[-.][0-9]{4}(?:-[0-9]{1,4})*(?![\w.-])"
    r"|(?<![\w.(-])\([0-9]{3}\) ?[0-9]{3} [0-9]{4}(?![\w.-])"
)
# Nigerian mobile numbers written locally: 0803 123 4567, 0803-123-4567, 08031234567.
NIGERIAN_LOCAL_RE = re.compile(r"(?<![\w.+-])0[7-9][01][0-9][ -]?[0-9]{3}[ -]?[0-9]{4}(?![\w-])")
SOCIAL_SECURITY_RE = re.compile(r"(?<![\w.-])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![\w-])")
IP_RE = re.compile(r"(?<![\w.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![\w]|\.[0-9])")
# 1-800-GO-U-HAUL: a toll-free prefix followed by letters (and digits).
VANITY_RE = re.compile(r"(?<![\w-])1-8[0-9]{2}(?:-[A-Za-z0-9]+)*-[A-Za-z]+[A-Za-z0-9-]*(?![\w-])")


def _group(text: str) -> str:
    return digits(text)


def read_groups(groups: list[str], *, plus: bool = False) -> str:
    """Digit groups joined by commas; the first is a country code when `plus`."""
    words = [_group(g) for g in groups if g]
    if plus and words:
        words[0] = "plus " + words[0]
    return ", ".join(words)


def _split_national(number: str) -> list[str]:
    if len(number) == 11 and number.startswith("0"):
        return [number[:4], number[4:7], number[7:]]
    if len(number) == 10:
        return [number[:3], number[3:6], number[6:]]
    groups = []
    while len(number) > 4:
        groups.append(number[:3])
        number = number[3:]
    return [*groups, number]


def read_international(text: str) -> str:
    """+1 415 555 0100 -> "plus one, four one five, five five five, zero one zero zero"."""
    body = text[1:]
    groups = re.findall(r"[0-9]+", body)
    if len(groups) == 1:
        whole = groups[0]
        for code in _TEN_DIGIT_COUNTRIES:
            if whole.startswith(code) and len(whole) == len(code) + 10:
                return read_groups([code, *_split_national(whole[len(code) :])], plus=True)
        return read_groups([whole[:3], *_split_national(whole[3:])], plus=True)
    return read_groups(groups, plus=True)


def read_national(text: str) -> str:
    """(415) 555-0100 -> "four one five, five five five, zero one zero zero"; an unspaced
    08031234567 is grouped 4-3-4."""
    groups = re.findall(r"[0-9]+", text)
    if len(groups) == 1:
        groups = _split_national(groups[0])
    return read_groups(groups)


def read_ip(text: str) -> str:
    """123.45.0.1 -> "one two three dot four five dot zero dot one"."""
    return " dot ".join(digits(part) for part in text.split("."))


def read_vanity(text: str) -> str:
    """1-800-GO-U-HAUL -> "one, eight hundred, GO U HAUL": digits grouped, letters spoken."""
    parts = text.split("-")
    out: list[str] = []
    for part in parts:
        if part.isdigit():
            if len(part) == 3 and part.endswith("00"):
                out.append(cardinal(int(part)))
            else:
                out.append(digits(part))
            out.append(",")
        else:
            out.append(part)
    return " ".join(out).replace(" ,", ",").rstrip(",")


def read_telephone(text: str) -> str | None:
    """Any telephone-like string read as digit groups; None when it has no digits."""
    stripped = text.strip()
    if not re.search(r"[0-9]", stripped):
        return None
    if stripped.startswith("+"):
        return read_international(stripped)
    groups = re.findall(r"[0-9]+", stripped)
    if len(groups) == 1:
        groups = _split_national(groups[0])
    return read_groups(groups)


# --------------------------------------------------------------- the normalizer's readers


def read_international_match(match: re.Match[str], _locale: str) -> str | None:
    return read_international(match.group(0))


def read_national_match(match: re.Match[str], _locale: str) -> str | None:
    return read_national(match.group(0))


def read_ip_match(match: re.Match[str], _locale: str) -> str | None:
    return read_ip(match.group(0))


def read_vanity_match(match: re.Match[str], _locale: str) -> str | None:
    return read_vanity(match.group(0))
