"""Telephone numbers, IP addresses and similar digit groups, read digit by digit in groups
separated by commas (a pause between groups, as people read them out)."""

from __future__ import annotations

import re

from .numbers import cardinal, digits, grouped_digits

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
# A local North American number without its area code: 555-1234, 555.0123 (never a range: a
# range's ends are read "to", and 555 to 1234 is no range anyone writes).
LOCAL_SEVEN_RE = re.compile(r"(?<![\w.(+$£€₦-])[2-9][0-9]{2}[-.][0-9]{4}(?![\w-]|[.,][0-9])")
# Nigerian mobile numbers written locally: 0803 123 4567, 0803-123-4567, 08031234567.
NIGERIAN_LOCAL_RE = re.compile(r"(?<![\w.+-])0[7-9][01][0-9][ -]?[0-9]{3}[ -]?[0-9]{4}(?![\w-])")
# A national number with a trunk zero, written in groups: 020 7946 0958, 0161 496 0123,
# 07700 900123, 0800 123 456 (UK), 01 234 5678, 0803 123 4567 (Nigeria); nine to eleven digits.
TRUNK_RE = re.compile(r"(?<![\w.+$£€₦-])0[0-9]{1,4}(?:[ -][0-9]{2,6}){1,3}(?![\w-]|[.,][0-9])")
# The same unspaced, eleven digits: 02079460958, 07700900123, 08031234567.
TRUNK_UNSPACED_RE = re.compile(r"(?<![\w.+$£€₦-])0[1-9][0-9]{9}(?![\w-]|[.,][0-9])")
# A North American number with its leading 1: 1-800-555-0199, 1 (800) 555-0199, 1.800.555.0199.
NANP_ONE_RE = re.compile(
    r"(?<![\w.+(-])1[ .-]?(?:\([2-9][0-9]{2}\)|[2-9][0-9]{2})[ .-]?[0-9]{3}[ .-]?[0-9]{4}"
    r"(?![\w-]|[.,][0-9])"
)
# A short code or an emergency number after a word that dials it: "call 911", "dial 300",
# "text STOP to 88440". After call/ring/phone only at a clause end or before a word that
# cannot be counted ("call 100 customers" is a number).
SHORT_CODE_RE = re.compile(
    r"(?<![\w])(?P<lead>(?:dial|(?P<call>call|ring|phone))\s+(?:us\s+|me\s+)?(?:on\s+|at\s+)?"
    r"|(?:text|sms|send)\s+\S+\s+to\s+)(?P<number>[0-9]{3,6})(?![\w]|[.,:/][0-9])",
    re.IGNORECASE,
)
_AFTER_CALL = re.compile(
    r"\s*(?:$|[.,;!?)]|(?:now|today|tonight|for|or|and|if|from|anytime|free|immediately)\b)",
    re.IGNORECASE,
)
EMERGENCY = frozenset({"911", "999", "112"})
SOCIAL_SECURITY_RE = re.compile(r"(?<![\w.-])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![\w-])")
IP_RE = re.compile(r"(?<![\w.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![\w]|\.[0-9])")
# 1-800-GO-U-HAUL: a toll-free prefix followed by letters (and digits).
VANITY_RE = re.compile(r"(?<![\w-])1-8[0-9]{2}(?:-[A-Za-z0-9]+)*-[A-Za-z]+[A-Za-z0-9-]*(?![\w-])")


def _group(text: str) -> str:
    # a written group of six or more ("07700 900123") is too long to hear in one breath
    return grouped_digits(text) if len(text) >= 6 else digits(text)


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


def _area(code: str) -> str:
    """A North American area code: 800 (900, ...) as people say it, "eight hundred"."""
    return cardinal(int(code)) if len(code) == 3 and code[0] != "0" and code.endswith("00") else ""


def read_international(text: str) -> str:
    """+1 415 555 0100 -> "plus one, four one five, five five five, zero one zero zero". A
    bracketed trunk zero (+44 (0)20 ...) is not dialled from abroad and is not said."""
    body = re.sub(r"\(0\)", " ", text[1:])
    groups = re.findall(r"[0-9]+", body)
    if len(groups) == 4 and groups[0] == "1" and _area(groups[1]):
        return ", ".join(["plus one", _area(groups[1]), *map(digits, groups[2:])])
    if len(groups) == 1:
        whole = groups[0]
        for code in _TEN_DIGIT_COUNTRIES:
            if whole.startswith(code) and len(whole) == len(code) + 10:
                return read_groups([code, *_split_national(whole[len(code) :])], plus=True)
        return read_groups([whole[:3], *_split_national(whole[3:])], plus=True)
    return read_groups(groups, plus=True)


def read_national(text: str) -> str:
    """(415) 555-0100 -> "four one five, five five five, zero one zero zero"; an unspaced
    08031234567 is grouped 4-3-4; a toll-free area code is "eight hundred"."""
    groups = re.findall(r"[0-9]+", text)
    if len(groups) == 1:
        groups = _split_national(groups[0])
    if len(groups) == 3 and len(groups[-1]) == 4 and _area(groups[0]):
        return ", ".join([_area(groups[0]), *map(digits, groups[1:])])
    return read_groups(groups)


def split_trunk(number: str, locale: str) -> list[str]:
    """An unspaced eleven-digit national number (with its trunk zero) in the groups its country
    writes: UK London 020 -> 3-4-4, UK mobiles and most areas 07700 900 123 (5-3-3), UK 01x1,
    011x, 03, 08 and every Nigerian number 4-3-4."""
    if locale == "en-GB":
        if number.startswith("02"):
            return [number[:3], number[3:7], number[7:]]
        if number.startswith(("07", "01")) and not re.match(r"01(?:1|[0-9]1)", number):
            return [number[:5], number[5:8], number[8:]]
    return [number[:4], number[4:7], number[7:]]


def read_trunk(text: str, locale: str) -> str | None:
    """A national number with a trunk zero, in its written groups; None unless it has nine to
    eleven digits (fewer or more is not a national number of these countries)."""
    groups = re.findall(r"[0-9]+", text)
    count = sum(len(g) for g in groups)
    if not 9 <= count <= 11:
        return None
    if len(groups) == 1:
        groups = split_trunk(groups[0], locale)
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


def read_trunk_match(match: re.Match[str], locale: str) -> str | None:
    return read_trunk(match.group(0), locale)


def read_nanp_one_match(match: re.Match[str], _locale: str) -> str | None:
    number = "".join(re.findall(r"[0-9]", match.group(0)))
    area, exchange, line = number[1:4], number[4:7], number[7:]
    return ", ".join(["one", _area(area) or digits(area), digits(exchange), digits(line)])


def read_short_code_match(match: re.Match[str], _locale: str) -> str | None:
    number = match.group("number")
    counted = match.group("call") and number not in EMERGENCY
    if counted and not _AFTER_CALL.match(match.string, match.end()):
        return None  # "call 100 customers": a number
    return match.group("lead") + digits(number)
