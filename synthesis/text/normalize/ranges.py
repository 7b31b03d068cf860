"""Ranges: two quantities joined by a hyphen or dash, read "to" ("5-10", "$250-$300",
"2pm-5pm", "2-5lb", "1960-80")."""

from __future__ import annotations

import re
from collections.abc import Callable

from . import measures
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
        return f"{read(left, locale)} to {read(right, locale)}{tail}"
    if not (_PLAIN_INT.fullmatch(left) and _PLAIN_INT.fullmatch(right)):
        return None
    lo, hi = int(left), int(right)
    if len(left) == 4 and len(right) == 2 and 1000 <= lo <= 2999 and hi > lo % 100:
        return f"{year(lo)} to {two_digit_year(right)}{tail}"
    if lo < hi and len(right) <= 4 and not left.startswith("0"):
        return f"{read(left, locale)} to {read(right, locale)}{tail}"
    return None
