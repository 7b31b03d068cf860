"""SSML attribute values: what each attribute may say, parsed and checked.

Each parser takes the attribute's text (surrounding whitespace removed) and returns what it
means, or raises `BadValue` with what a good value looks like (the element that asked names
itself and the attribute in the message). Numbers are limited to nine digits before and after
the point, so no value is too long to convert.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

# Pause per <break strength>, as Amazon Polly documents them: none and x-weak make no pause,
# weak and medium a comma-length pause, strong a sentence pause, x-strong a paragraph pause.
BREAK_STRENGTH_MS: Mapping[str, int] = {
    "none": 0,
    "x-weak": 0,
    "weak": 400,
    "medium": 400,
    "strong": 700,
    "x-strong": 1200,
}

# Prosody. Keywords are absolute (they replace what an enclosing <prosody> set); percentages and
# signed changes are relative and compose: rates multiply, semitones and decibels add.
RATE_KEYWORDS: Mapping[str, float] = {
    "x-slow": 0.5,
    "slow": 0.75,
    "medium": 1.0,
    "fast": 1.25,
    "x-fast": 1.5,
    "default": 1.0,
}
PITCH_KEYWORDS_ST: Mapping[str, float] = {
    "x-low": -6.0,
    "low": -3.0,
    "medium": 0.0,
    "high": 3.0,
    "x-high": 6.0,
    "default": 0.0,
}
VOLUME_KEYWORDS_DB: Mapping[str, float] = {
    "x-soft": -12.0,
    "soft": -6.0,
    "medium": 0.0,
    "loud": 6.0,
    "x-loud": 12.0,
    "default": 0.0,
}
RATE_RANGE = (0.1, 4.0)  # 10 % .. 400 % of the voice's rate
PITCH_RANGE_ST = (12 * math.log2(2 / 3), 12 * math.log2(1.5))  # -33.3 % .. +50 %, ±7.02 st
VOLUME_RANGE_DB = (-40.0, 20.0)
NOMINAL_PITCH_HZ = 150.0  # what "Hz" values are measured against

MAX_MARK_NAME = 256

_NUM = r"(\d{1,9}(?:\.\d{0,9})?|\.\d{1,9})"
_TIME = re.compile(rf"\+?{_NUM}(ms|s)")
_RATE = re.compile(rf"([+-]?){_NUM}%")
_PITCH_PCT = re.compile(rf"([+-]){_NUM}%")
_PITCH_ST = re.compile(rf"([+-]?){_NUM}st")
_PITCH_HZ = re.compile(rf"([+-]?){_NUM}Hz")
_VOLUME_DB = re.compile(rf"([+-]?){_NUM}dB")
_VOLUME_PCT = re.compile(rf"([+-]?){_NUM}%")
_CONTOUR = re.compile(r"\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|\d{3}))?")
QNAME = re.compile(r"(?:([A-Za-z_][\w.-]*):)?[A-Za-z_][\w.-]*")
DETAIL = re.compile(r"[A-Za-z0-9][\w.-]{0,31}")
TELEPHONE_FORMAT = re.compile(r"\d{1,3}")
XML_SPACE = re.compile(r"[ \t\r\n]+")


class BadValue(Exception):
    """A value an attribute cannot take; the message says what a good one looks like."""


def one_of(values: frozenset[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in values:
            raise BadValue("use one of " + ", ".join(sorted(values)) + ".")
        return value

    return parse


def matching(pattern: re.Pattern[str], description: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if pattern.fullmatch(value) is None:
            raise BadValue(f"use {description}.")
        return value

    return parse


def no_format(value: str) -> str:
    raise BadValue("format applies only to interpret-as date, time and telephone.")


def nonempty(value: str) -> str:
    if not value:
        raise BadValue("must not be empty.")
    return value


def mark_name(value: str) -> str:
    if not value or len(value) > MAX_MARK_NAME:
        raise BadValue(f"a mark name has 1 to {MAX_MARK_NAME} characters.")
    return value


def version(value: str) -> str:
    if value not in ("1.0", "1.1"):
        raise BadValue("SSML versions are 1.0 and 1.1.")
    return value


def language(value: str) -> str:
    if _LANGUAGE.fullmatch(value) is None:
        raise BadValue("use a language tag like en, en-US or sr-Latn-RS.")
    return value


def languages(value: str) -> str:
    tags = value.split()
    if not tags:
        raise BadValue("use a language tag like en-US.")
    for tag in tags:
        language(tag.split(":", 1)[0])
    return tags[0].split(":", 1)[0]


def words(allowed: frozenset[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not value.split() or any(word not in allowed for word in value.split()):
            raise BadValue("use a list of " + ", ".join(sorted(allowed)) + ".")
        return value

    return parse


def integer(minimum: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not value.isascii() or not value.isdigit() or len(value) > 9 or int(value) < minimum:
            raise BadValue(f"use a whole number of at least {minimum}.")
        return value

    return parse


def time_ms(value: str) -> float:
    match = _TIME.fullmatch(value)
    if match is None:
        raise BadValue("use a time like 500ms or 1.5s.")
    number = float(match.group(1))
    return number * 1000 if match.group(2) == "s" else number


def repeat_count(value: str) -> str:
    try:
        count = float(value) if re.fullmatch(r"\+?" + _NUM, value) else -1.0
    except ValueError:  # pragma: no cover - the pattern admits only numbers
        count = -1.0
    if count <= 0:
        raise BadValue("use a positive number.")
    return value


def sound_level(value: str) -> str:
    if _VOLUME_DB.fullmatch(value) is None:
        raise BadValue("use a change like +6dB or -3.5dB.")
    return value


def speed(value: str) -> str:
    match = re.fullmatch(_NUM + "%", value)
    if match is None or float(match.group(1)) <= 0:
        raise BadValue("use a percentage like 80%.")
    return value


def _signed(sign: str, number: str) -> float:
    return -float(number) if sign == "-" else float(number)


def rate(value: str) -> tuple[float, bool]:
    """(multiplier, absolute?)."""
    if value in RATE_KEYWORDS:
        return RATE_KEYWORDS[value], True
    match = _RATE.fullmatch(value)
    if match is None:
        raise BadValue(
            "use x-slow, slow, medium, fast, x-fast, default, a percentage like 80% or a "
            "change like +10%."
        )
    sign, number = match.groups()
    factor = 1 + _signed(sign, number) / 100 if sign else float(number) / 100
    low, high = RATE_RANGE
    if not low <= factor <= high:
        raise BadValue(f"the rate must be between {low:.0%} and {high:.0%} of normal.")
    return factor, False


def pitch(value: str) -> tuple[float, bool]:
    """(semitones, absolute?)."""
    if value in PITCH_KEYWORDS_ST:
        return PITCH_KEYWORDS_ST[value], True
    absolute = False
    if match := _PITCH_PCT.fullmatch(value):
        factor = 1 + _signed(*match.groups()) / 100
        semitones = 12 * math.log2(factor) if factor > 0 else -math.inf
    elif match := _PITCH_ST.fullmatch(value):
        semitones = _signed(*match.groups())
    elif match := _PITCH_HZ.fullmatch(value):
        sign, number = match.groups()
        hertz = NOMINAL_PITCH_HZ + _signed(sign, number) if sign else float(number)
        absolute = not sign
        semitones = 12 * math.log2(hertz / NOMINAL_PITCH_HZ) if hertz > 0 else -math.inf
    else:
        raise BadValue(
            "use x-low, low, medium, high, x-high, default, or a change like +10%, -2st or "
            "+20Hz, or a frequency like 180Hz."
        )
    low, high = PITCH_RANGE_ST
    if not low - 1e-9 <= semitones <= high + 1e-9:
        raise BadValue("the pitch may change by -33.3% to +50% (about ±7 semitones).")
    return semitones, absolute


def volume(value: str) -> tuple[float, bool]:
    """(dB, absolute?); -inf dB is silent."""
    if value == "silent":
        return -math.inf, True
    if value in VOLUME_KEYWORDS_DB:
        return VOLUME_KEYWORDS_DB[value], True
    if match := _VOLUME_DB.fullmatch(value):
        decibels = _signed(*match.groups())
    elif match := _VOLUME_PCT.fullmatch(value):
        sign, number = match.groups()
        factor = 1 + _signed(sign, number) / 100 if sign else float(number) / 100
        if factor <= 0:
            return -math.inf, True
        decibels = 20 * math.log10(factor)
    else:
        raise BadValue(
            "use silent, x-soft, soft, medium, loud, x-loud, default, or a change like +6dB."
        )
    low, high = VOLUME_RANGE_DB
    if not low <= decibels <= high:
        raise BadValue(f"the volume may change by {low:+.0f}dB to {high:+.0f}dB.")
    return decibels, False


def contour(value: str) -> str:
    points = _CONTOUR.findall(value)
    if not points or _CONTOUR.sub("", value).strip(" \t\r\n"):
        raise BadValue("use (position%, pitch) pairs like (0%,+10%) (100%,-2st).")
    for position, target in points:
        match = re.fullmatch(_NUM + "%", position)
        if match is None or float(match.group(1)) > 100:
            raise BadValue("a contour position is a percentage from 0% to 100%.")
        pitch(target)
    return value


def clamp(value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return min(max(value, low), high)
