"""Ranges: two quantities joined by a hyphen or dash, read "to" ("5-10", "$250-$300",
"2pm-5pm", "2-5lb", "1960-80")."""

from __future__ import annotations

import re
from collections.abc import Callable

from . import measures, times
from .abbreviations import period
from .numbers import two_digit_year, year

# A quantity that can open or close a range: money, a time, a percentage, a decade, a number.
_SIDE = (
    r"(?:US\$|[$£€₦¥])?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
    r"(?:\s?[ap]\.?m\.?(?![\w])|:[0-9]{2}(?:\s?[ap]\.?m\.?(?![\w]))?|%|s(?![\w]))?"
)
RANGE_RE = re.compile(
    rf"(?<![\w.,/:$£€₦¥-])({_SIDE}) ?[-\u2013\u2014] ?({_SIDE})"
    r"((?:\s?[°º]?[A-Za-zμ]+[²³]?)?)(?![\w])",
    re.IGNORECASE,
)
_PLAIN_INT = re.compile(r"[0-9]+")
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")


def _clock_range(left: str, right: str) -> str | None:
    """Opening hours on the 24-hour clock ("9:00-17:00"), both sides on the 12-hour clock:
    "nine AM to five PM"; None unless both sides are clock times and one is past noon."""
    sides = [_CLOCK.fullmatch(left), _CLOCK.fullmatch(right)]
    if not (sides[0] and sides[1]):
        return None
    hours = [int(m.group(1)) for m in sides if m]
    minutes = [int(m.group(2)) for m in sides if m]
    if max(hours) <= 12 or max(hours) > 24 or max(minutes) > 59:
        return None
    words = []
    for hour, minute in zip(hours, minutes, strict=True):
        word = times.twelve_hour(hour, minute)
        if word is None:
            return None
        words.append(word)
    return " to ".join(words)


def _side(text: str, locale: str, read: Callable[[str, str], str]) -> str:
    """A side read alone, without the period its own reader would keep at the end of a text
    ("9 a.m." alone ends a text; in the range it does not)."""
    words = read(text, locale)
    return words[:-1] if text.endswith(".") and words.endswith(".") else words


def read_range(match: re.Match[str], locale: str, read: Callable[[str, str], str]) -> str | None:
    """`read` reads a side with every pass: a side can be money, a time or a measure."""
    left, right, unit = match.group(1), match.group(2), match.group(3)
    after = match.string[match.end() :]
    if after[:1] == "-" or re.match(r"[-/][0-9]|\s*=", after):
        return None
    unit_words = measures.unit_words(unit.strip(), locale) if unit.strip() else None
    tail = ""
    if unit.strip() and unit_words is None:
        if not unit[:1].isspace():
            return None
        tail, unit = unit, ""
    marked = any(ch in left + right for ch in "$£€₦¥%:") or re.search(
        r"[ap]\.?m", left + right, re.I
    )
    if unit_words is not None:
        right_words = read(right + unit, locale)
        return f"{measures.read_quantity(left)} to {right_words}{tail}"
    if marked or (left.endswith("s") and right.endswith("s")):
        clock = _clock_range(left, right)
        if clock is not None:
            return clock + tail
        end = period(match.string, match.end()) if right.endswith(".") else ""
        return f"{_side(left, locale, read)} to {_side(right, locale, read)}{end}{tail}"
    if not (_PLAIN_INT.fullmatch(left) and _PLAIN_INT.fullmatch(right)):
        return None
    lo, hi = int(left), int(right)
    if len(left) <= 2 and len(right) <= 2 and 12 >= lo > hi >= 1 and not left.startswith("0"):
        # hours across noon ("open 9-5"): a descending range of clock hours
        return f"{read(left, locale)} to {read(right, locale)}{tail}"
    if len(left) == 4 and len(right) == 2 and 1000 <= lo <= 2999 and hi > lo % 100:
        return f"{year(lo)} to {two_digit_year(right)}{tail}"
    if lo < hi and len(right) <= 4 and not left.startswith("0"):
        return f"{read(left, locale)} to {read(right, locale)}{tail}"
    return None
