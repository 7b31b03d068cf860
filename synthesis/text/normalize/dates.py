"""Dates: numeric (locale order), ISO, with month names, decades, quarters and eras."""

from __future__ import annotations

import re

from .abbreviations import period
from .numbers import ordinal, ordinal_suffix, pluralize, two_digit_year, year

MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_LOOKUP: dict[str, int] = {}
for _index, _name in enumerate(MONTH_NAMES, start=1):
    _MONTH_LOOKUP[_name.lower()] = _index
    _MONTH_LOOKUP[_name[:3].lower()] = _index
_MONTH_LOOKUP["sept"] = 9

DATE_FORMATS: frozenset[str] = frozenset(
    {"dmy", "mdy", "ymd", "md", "dm", "ym", "my", "d", "m", "y"}
)

MONTH_PATTERN = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
)


def month_number(name: str) -> int | None:
    """1-12 for a month name or abbreviation (any case, trailing period allowed)."""
    return _MONTH_LOOKUP.get(name.rstrip(".").lower())


def default_order(locale: str) -> str:
    """How a locale writes and reads numeric dates: "mdy" for en-US, "dmy" otherwise."""
    return "mdy" if locale == "en-US" else "dmy"


def read_year(text: str) -> str:
    """A year as written: four digits as a year, two as a short year, else as a year number."""
    if len(text) == 2:
        return two_digit_year(text)
    return year(int(text))


def read_date(
    day: int | None,
    month: int | None,
    year_text: str | None,
    *,
    day_first: bool,
    comma: str = " ",
) -> str:
    """A date spoken: month first "March fourth twenty twenty five", or day first "the fourth
    of March twenty twenty five". Any part may be missing."""
    parts: list[str] = []
    month_word = MONTH_NAMES[month - 1] if month else None
    if day is not None and month_word:
        parts.append(
            f"the {ordinal(day)} of {month_word}" if day_first else f"{month_word} {ordinal(day)}"
        )
    elif month_word:
        parts.append(month_word)
    elif day is not None:
        parts.append(f"the {ordinal(day)}")
    if year_text:
        if parts:
            return parts[0] + comma + read_year(year_text)
        return read_year(year_text)
    return " ".join(parts)


def valid(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31


def numeric_order(first: int, second: int, locale: str) -> str | None:
    """Which of d/m a numeric date's first two fields are: "md", "dm", or None if neither."""
    preferred = "md" if default_order(locale) == "mdy" else "dm"
    options = [preferred, "dm" if preferred == "md" else "md"]
    for option in options:
        month, day = (first, second) if option == "md" else (second, first)
        if valid(day, month):
            return option
    return None


_BOUND_L = r"(?<![\w./-])"
_BOUND_R = r"(?![\w]|[./-][0-9])"
ISO_RE = re.compile(_BOUND_L + r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})" + _BOUND_R)
NUMERIC_RE = re.compile(
    _BOUND_L
    + r"([0-9]{1,2})([-/])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})"
    + _BOUND_R
    + r"|"
    + _BOUND_L
    + r"([0-9]{1,2})(\.)([0-9]{1,2})\.([0-9]{4})"
    + _BOUND_R
)
_SUFFIX = r"(?:st|nd|rd|th)"
MONTH_FIRST_RE = re.compile(
    rf"(?<![\w])({MONTH_PATTERN})(\.?)[ -]([0-9]{{1,2}})({_SUFFIX})?(?![\w])"
    r"(?:(,? |-|, ?)([0-9]{4})(?![\w]))?",
    re.IGNORECASE,
)
DAY_FIRST_RE = re.compile(
    rf"(?<![\w.,/-])([0-9]{{1,2}})({_SUFFIX})?(?: of)?[ -]({MONTH_PATTERN})(\.?)(?![\w])"
    r"(?:(,? ?|-)([0-9]{4})(?![\w]))?",
    re.IGNORECASE,
)
MONTH_YEAR_RE = re.compile(
    rf"(?<![\w])({MONTH_PATTERN})(\.?),? ([0-9]{{4}})(?![\w])", re.IGNORECASE
)
PERIOD_OF_YEAR_RE = re.compile(r"(?<![\w])([1-4])(Q|H)([0-9]{4}|[0-9]{2})(?![\w])")
DECADE_RE = re.compile(
    r"(?<![\w'\u2019])([0-9]{3}0) ?'?s(?![\w])"
    r"|(?<![\w])['\u2019]([0-9]0)s(?![\w])"
    r"|(?<![\w.,])([1-9]0)s(?![\w])"
)
ERA_RE = re.compile(r"(?<![\w.,])([0-9]{1,4}) ?(A\.D\.?|B\.C\.?|AD|BC|BCE|CE)(?![\w])")


def decade(text: str) -> str:
    """A decade: "1980" -> "nineteen eighties", "80" -> "eighties", "2000" -> "two thousands"."""
    if len(text) == 2:
        return pluralize(two_digit_year(text))
    return pluralize(year(int(text)))


def period_of_year(index: int, kind: str, year_text: str) -> str | None:
    if kind == "H" and index > 2:
        return None
    name = "half" if kind == "H" else "quarter"
    return f"the {ordinal(index)} {name} of {read_year(year_text)}"


# --------------------------------------------------------------- the normalizer's readers


def read_iso_date(match: re.Match[str], locale: str) -> str | None:
    year_s, _sep, month_s, day_s = match.groups()
    day, month = int(day_s), int(month_s)
    if not valid(day, month):
        return None
    return read_date(day, month, year_s, day_first=default_order(locale) == "dmy")


def read_numeric_date(match: re.Match[str], locale: str) -> str | None:
    groups = match.groups()
    first_s, _sep, second_s, year_s = groups[0:4] if groups[0] is not None else groups[4:8]
    first, second = int(first_s), int(second_s)
    order = numeric_order(first, second, locale)
    if order is None:
        return None
    day, month = (second, first) if order == "md" else (first, second)
    return read_date(day, month, year_s, day_first=order == "dm")


def _with_the(match: re.Match[str], words: str) -> str:
    if words.startswith("the ") and re.search(r"\bthe\s+$", match.string[: match.start()], re.I):
        return words[4:]
    return words


def _day_and_month(day_s: str, suffix: str | None, month_s: str) -> tuple[int, int] | None:
    """A written day (with its ordinal suffix, if any) and month name, if they make a date."""
    month = month_number(month_s)
    day = int(day_s)
    if month is None or not valid(day, month):
        return None
    if suffix and suffix.lower() != ordinal_suffix(day):
        return None
    return day, month


def read_month_first(match: re.Match[str], locale: str) -> str | None:
    month_s, dot, day_s, suffix, comma, year_s = match.groups()
    found = _day_and_month(day_s, suffix, month_s)
    if found is None:
        return None
    day, month = found
    if not dot and month_s == "may":
        return None  # "may 5" is likelier the verb and a number
    sep = ", " if comma and comma.startswith(",") else " "
    return read_date(day, month, year_s, day_first=False, comma=sep)


def read_day_first(match: re.Match[str], locale: str) -> str | None:
    day_s, suffix, month_s, dot, comma, year_s = match.groups()
    found = _day_and_month(day_s, suffix, month_s)
    if found is None:
        return None
    day, month = found
    if month_s.lower() == "may" and month_s[0].islower() and not suffix and not year_s:
        return None
    sep = ", " if comma and comma.startswith(",") else " "
    words = read_date(day, month, year_s, day_first=True, comma=sep)
    if dot and not year_s:
        words += period(match.string, match.end())
    return _with_the(match, words)


def read_month_year(match: re.Match[str], _locale: str) -> str | None:
    month = month_number(match.group(1))
    if month is None:
        return None
    return f"{MONTH_NAMES[month - 1]} {year(int(match.group(3)))}"


def read_period_of_year(match: re.Match[str], _locale: str) -> str | None:
    return period_of_year(int(match.group(1)), match.group(2), match.group(3))


def read_decade(match: re.Match[str], _locale: str) -> str | None:
    text = match.group(1) or match.group(2) or match.group(3)
    return decade(text)


def read_era(match: re.Match[str], _locale: str) -> str | None:
    era = match.group(2).replace(".", "")
    return f"{year(int(match.group(1)))} {era}"
