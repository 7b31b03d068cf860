"""The normalizer: ordered rewrite passes over the text, most specific first.

Each pass is a regular expression and a reader; the reader returns the spoken form of a match
or None to leave it to a later pass. Spoken forms contain no digits, so later passes never read
them again. The last passes read whatever numbers and symbols are left, so the output never
contains an ASCII digit or a symbol an engine would misread.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from fractions import Fraction

from . import abbreviations as abbr
from . import dates, electronic, measures, money, roman, telephone, times
from .numbers import (
    MAX_CARDINAL_DIGITS,
    cardinal,
    decimal,
    digits,
    fraction,
    number,
    ordinal,
    ordinal_suffix,
    two_digit_year,
    year,
)

LOCALES = ("en-US", "en-GB", "en-NG")

Reader = Callable[[re.Match[str], str], str | None]


def resolve_locale(locale: str | None) -> str:
    """One of LOCALES; anything else reads like en-US."""
    return locale if locale in LOCALES else "en-US"


def _pad(match: re.Match[str], out: str) -> str:
    """Keep a spoken form apart from letters or digits it was glued to ("12text")."""
    text = match.string
    if out and match.start() > 0 and text[match.start() - 1].isalnum() and out[0].isalnum():
        out = " " + out
    if out and match.end() < len(text) and text[match.end()].isalnum() and out[-1].isalnum():
        out += " "
    return out


def _apply(pattern: re.Pattern[str], reader: Reader, text: str, locale: str) -> str:
    def replace(match: re.Match[str]) -> str:
        out = reader(match, locale)
        if out is None:
            return match.group(0)
        return _pad(match, out)

    return pattern.sub(replace, text)


# ---------------------------------------------------------------------------------- readers


def _address(match: re.Match[str], _locale: str) -> str | None:
    found = match.group(0)
    tail = ""
    while found and found[-1] in ".,;:!?)":
        tail = found[-1] + tail
        found = found[:-1]
    if not found:
        return None
    return electronic.read_address(found) + tail


def _phone_international(match: re.Match[str], _locale: str) -> str | None:
    return telephone.read_international(match.group(0))


def _phone_national(match: re.Match[str], _locale: str) -> str | None:
    return telephone.read_national(match.group(0))


def _ip(match: re.Match[str], _locale: str) -> str | None:
    return telephone.read_ip(match.group(0))


def _vanity(match: re.Match[str], _locale: str) -> str | None:
    return telephone.read_vanity(match.group(0))


def _iso_date(match: re.Match[str], locale: str) -> str | None:
    year_s, _sep, month_s, day_s = match.groups()
    day, month = int(day_s), int(month_s)
    if not dates.valid(day, month):
        return None
    return dates.read_date(day, month, year_s, day_first=dates.default_order(locale) == "dmy")


def _numeric_date(match: re.Match[str], locale: str) -> str | None:
    groups = match.groups()
    first_s, _sep, second_s, year_s = groups[0:4] if groups[0] is not None else groups[4:8]
    first, second = int(first_s), int(second_s)
    order = dates.numeric_order(first, second, locale)
    if order is None:
        return None
    day, month = (second, first) if order == "md" else (first, second)
    return dates.read_date(day, month, year_s, day_first=order == "dm")


def _with_the(match: re.Match[str], words: str) -> str:
    if words.startswith("the ") and re.search(r"\bthe\s+$", match.string[: match.start()], re.I):
        return words[4:]
    return words


def _month_first(match: re.Match[str], locale: str) -> str | None:
    month_s, dot, day_s, suffix, comma, year_s = match.groups()
    month = dates.month_number(month_s)
    day = int(day_s)
    if month is None or not dates.valid(day, month):
        return None
    if suffix and suffix.lower() != ordinal_suffix(day):
        return None
    if not dot and month_s == "may":
        return None  # "may 5" is likelier the verb and a number
    sep = ", " if comma and comma.startswith(",") else " "
    return dates.read_date(day, month, year_s, day_first=False, comma=sep)


def _day_first(match: re.Match[str], locale: str) -> str | None:
    day_s, suffix, month_s, dot, comma, year_s = match.groups()
    month = dates.month_number(month_s)
    day = int(day_s)
    if month is None or not dates.valid(day, month):
        return None
    if suffix and suffix.lower() != ordinal_suffix(day):
        return None
    if month_s.lower() == "may" and month_s[0].islower() and not suffix and not year_s:
        return None
    sep = ", " if comma and comma.startswith(",") else " "
    words = dates.read_date(day, month, year_s, day_first=True, comma=sep)
    if dot and not year_s:
        words += abbr.period(match.string, match.end())
    return _with_the(match, words)


def _month_year(match: re.Match[str], _locale: str) -> str | None:
    month = dates.month_number(match.group(1))
    if month is None:
        return None
    return f"{dates.MONTH_NAMES[month - 1]} {year(int(match.group(3)))}"


def _period_of_year(match: re.Match[str], _locale: str) -> str | None:
    return dates.period_of_year(int(match.group(1)), match.group(2), match.group(3))


def _decade(match: re.Match[str], _locale: str) -> str | None:
    text = match.group(1) or match.group(2) or match.group(3)
    return dates.decade(text)


def _era(match: re.Match[str], _locale: str) -> str | None:
    era = match.group(2).replace(".", "")
    return f"{year(int(match.group(1)))} {era}"


def _time(match: re.Match[str], _locale: str) -> str | None:
    words = times.parse_time(match)
    if words is None:
        return None
    if match.group(0).endswith("."):
        words += abbr.period(match.string, match.end())
    return words


def _money(match: re.Match[str], locale: str) -> str | None:
    return money.read_money_match(match, locale)


def _naira_n(match: re.Match[str], locale: str) -> str | None:
    if locale != "en-NG":
        return None
    return money.read_money(match.group(1), "NGN", scale=match.group(2), locale=locale)


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


def _range(match: re.Match[str], locale: str) -> str | None:
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
        right_words = normalize_fragment(right + unit, locale)
        return f"{measures.read_quantity(left)} to {right_words}{tail}"
    if marked or (left.endswith("s") and right.endswith("s")):
        return f"{normalize_fragment(left, locale)} to {normalize_fragment(right, locale)}{tail}"
    if not (_PLAIN_INT.fullmatch(left) and _PLAIN_INT.fullmatch(right)):
        return None
    lo, hi = int(left), int(right)
    if len(left) == 4 and len(right) == 2 and 1000 <= lo <= 2999 and hi > lo % 100:
        return f"{year(lo)} to {two_digit_year(right)}{tail}"
    if lo < hi and len(right) <= 4 and not left.startswith("0"):
        return f"{normalize_fragment(left, locale)} to {normalize_fragment(right, locale)}{tail}"
    return None


def _measure(match: re.Match[str], locale: str) -> str | None:
    return measures.read_measure(match, locale)


def _per_only(match: re.Match[str], locale: str) -> str | None:
    return measures.read_per_only(match, locale)


MATH_RE = re.compile(
    r"(?<![\w.])([A-Za-z]|[0-9]+(?:\.[0-9]+)?)(?:\s*[-+*/\u00d7÷=]\s*(?:[A-Za-z]|[0-9]+(?:\.[0-9]+)?)(?![\w]))+"
)
_OPERATORS = {
    "-": "minus",
    "+": "plus",
    "*": "times",
    "\u00d7": "times",
    "÷": "divided by",
    "/": "divided by",
    "=": "equals",
}


def _math(match: re.Match[str], locale: str) -> str | None:
    expression = match.group(0)
    if "=" not in expression:
        return None
    parts = re.split(r"\s*([-+*/\u00d7÷=])\s*", expression)
    words = [_OPERATORS[p] if i % 2 else normalize_fragment(p, locale) for i, p in enumerate(parts)]
    return " ".join(words)


# A ratio: "2:8", "3:1" (a colon and a single digit is not a time).
RATIO_RE = re.compile(r"(?<![\w.:])([0-9]{1,3}):([0-9])(?![\w:])")


def _ratio(match: re.Match[str], _locale: str) -> str:
    return f"{number(match.group(1))} to {number(match.group(2))}"


# A version or section number: 3.11.4 -> "three point eleven point four".
VERSION_RE = re.compile(r"(?<![\w.])[0-9]{1,4}(?:\.[0-9]{1,4}){2,5}(?![\w]|\.[0-9])")


def _version(match: re.Match[str], _locale: str) -> str:
    return " point ".join(number(part) for part in match.group(0).split("."))


# A house number before a street name: "123 Laguna Ct" -> "one twenty three Laguna Court".
HOUSE_NUMBER_RE = re.compile(
    r"(?<![\w.,])([1-9][0-9]{2,3})(?= (?:[NSEW] )?(?:[A-Z][a-z]+ ){1,3}"
    r"(?:St|Ave|Rd|Blvd|Ct|Ln|Dr|Expy|Hwy|Pkwy|Way|Street|Avenue|Road|Court|Lane|Drive)\b)"
)


def _house_number(match: re.Match[str], _locale: str) -> str:
    return year(int(match.group(1)))


INCH_RE = re.compile(r"(?<![\w.])([0-9]+(?:\.[0-9]+)?)\"")


def _inch(match: re.Match[str], _locale: str) -> str | None:
    if match.string.count('"', 0, match.start()) % 2:
        return None  # a closing quote, not inches
    amount = match.group(1)
    return f"{measures.read_quantity(amount)} inch" + ("" if amount == "1" else "es")


# Literal markup left in plain text (<p>, <br/>, </b>): read the element's name only.
TAG_RE = re.compile(r"</?([A-Za-z][\w-]*)[^<>]{0,40}?/?>")


def _tag(match: re.Match[str], _locale: str) -> str:
    return f" {match.group(1)} "


TIMES_RE = re.compile(r"(?<=[0-9]) ?[*\u00d7] ?(?=[0-9])")
BY_RE = re.compile(r"(?<=[0-9]) ?[x\u00d7] ?(?=[0-9.])")

MIXED_FRACTION_RE = re.compile(
    r"(?<![\w./,])([0-9]+) ([0-9]+)/([0-9]+)(?:st|nd|rd|th)?(?![\w/]|[.,][0-9])", re.IGNORECASE
)
FRACTION_RE = re.compile(
    r"(?<![\w./,])([0-9]+) ?/ ?([0-9]+)(?:st|nd|rd|th)?(?![\w/]|[.,][0-9])", re.IGNORECASE
)
_VULGAR = "½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒"
VULGAR_RE = re.compile(rf"(?<![\w.])([0-9]+)? ?([{_VULGAR}])")


def _fraction(match: re.Match[str], _locale: str) -> str | None:
    num_s, den_s = match.group(1), match.group(2)
    if len(num_s) > 9 or len(den_s) > 9:
        return None
    return fraction(int(num_s), int(den_s))


def _mixed_fraction(match: re.Match[str], _locale: str) -> str | None:
    whole_s, num_s, den_s = match.groups()
    if len(whole_s) > 9 or len(num_s) > 9 or len(den_s) > 9:
        return None
    return f"{number(whole_s)} and {fraction(int(num_s), int(den_s), mixed=True)}"


def _vulgar(match: re.Match[str], _locale: str) -> str | None:
    value = Fraction(unicodedata.numeric(match.group(2))).limit_denominator(20)
    words = fraction(value.numerator, value.denominator, mixed=bool(match.group(1)))
    if match.group(1):
        return f"{number(match.group(1))} and {words}"
    return words


ORDINAL_RE = re.compile(
    r"(?<![\w.,])([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(st|nd|rd|th)(?![A-Za-z])", re.IGNORECASE
)


def _ordinal(match: re.Match[str], _locale: str) -> str | None:
    text, suffix = match.group(1).replace(",", ""), match.group(2)
    if len(text) > MAX_CARDINAL_DIGITS:
        return None
    value = int(text)
    if suffix.lower() == ordinal_suffix(value):
        return ordinal(value)
    return f"{number(match.group(1))} {suffix}"


NUMBER_RE = re.compile(
    r"(?<![0-9])(?<![0-9][.,])(-|\u2212)?([0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(\.[0-9]+)?"
    r"(\s(?:thousand|million|billion|trillion)(?![\w]))?"
    r"|(?<![\w.])(-|\u2212)?\.([0-9]+)"
)


def _signed(match: re.Match[str], sign: str | None) -> str:
    if not sign:
        return ""
    start = match.start()
    before = match.string[start - 1] if start > 0 else " "
    return "minus " if not before.isalnum() else ""


def _number(match: re.Match[str], _locale: str) -> str | None:
    if match.group(6) is not None:
        return _signed(match, match.group(5)) + decimal("." + match.group(6))
    scale = match.group(4) or ""
    sign = _signed(match, match.group(1))
    whole, frac = match.group(2), match.group(3)
    text = match.string
    # a hyphen glued to a word ("covid-19") is not a minus sign: keep it
    prefix = match.group(1) if sign == "" and match.group(1) else ""
    if frac:
        return prefix + sign + decimal(whole + frac) + scale
    plain = whole.replace(",", "")
    if scale:
        return prefix + sign + number(plain, use_and=False) + scale
    glued = (match.start() > 0 and text[match.start() - 1].isalpha()) or (
        match.end() < len(text) and text[match.end()].isalpha()
    )
    # a code joined to letters by a hyphen ("133-A", "1-413-te") is read without "and"
    coded = (
        match.start() > 1 and text[match.start() - 1] == "-" and text[match.start() - 2].isalpha()
    ) or (
        text[match.end() : match.end() + 2][:1] == "-"
        and text[match.end() + 1 : match.end() + 2].isalpha()
    )
    if "," in whole:
        words = number(whole)
    elif len(plain) > 9 or (glued and len(plain) >= 4):
        words = digits(plain)
    elif glued and len(plain) == 3 and not plain.startswith("0"):
        words = year(int(plain))  # a model number: A321 -> "A three twenty one"
    elif coded:
        words = number(plain, use_and=False)
    elif len(plain) == 4 and not plain.startswith("0") and 1000 <= int(plain) <= 2999 and not sign:
        words = year(int(plain))
    else:
        words = number(plain)
    return prefix + sign + words


_SYMBOL_WORDS: dict[str, str] = {
    "&": "and",
    "%": "percent",
    "@": "at",
    "+": "plus",
    "=": "equals",
    "*": "asterisk",
    "^": "caret",
    "\\": "backslash",
    "_": "underscore",
    "/": "slash",
    "$": "dollar",
    "€": "euro",
    "£": "pound",
    "₦": "naira",
    "¥": "yen",
    "₩": "won",
    "¢": "cents",
    "§": "section",
    "°": "degrees",
    "º": "degrees",
}
SYMBOL_RE = re.compile(r"[&%@+=*^\\_/$€£₦¥₩¢§°º]")
HASH_RE = re.compile(r"#")
TILDE_RE = re.compile(r"~(?=\s*[0-9A-Za-z])|~")
ANGLE_RE = re.compile(r"(?<=\s)[<>](?=\s)|[<>]")
BAR_RE = re.compile(r"\s*\|\s*")


def _symbol(match: re.Match[str], _locale: str) -> str:
    return f" {_SYMBOL_WORDS[match.group(0)]} "


def _hash(match: re.Match[str], _locale: str) -> str:
    return " hash "


def _tilde(match: re.Match[str], _locale: str) -> str:
    return "approximately" if match.end() < len(match.string) and match.group(0) else "tilde"


def _angle(match: re.Match[str], _locale: str) -> str:
    text, start, end = match.string, match.start(), match.end()
    spaced = (start == 0 or text[start - 1].isspace()) and (end == len(text) or text[end].isspace())
    if spaced:
        return "less than" if match.group(0) == "<" else "greater than"
    return " "


def _bar(_match: re.Match[str], _locale: str) -> str:
    return ", "


def _digits_left(match: re.Match[str], _locale: str) -> str:
    return digits(match.group(0))


# ------------------------------------------------------------------------------ the passes

PASSES: list[tuple[re.Pattern[str], Reader]] = [
    (electronic.URL_RE, _address),
    (electronic.EMAIL_RE, _address),
    (electronic.DOMAIN_RE, _address),
    (telephone.VANITY_RE, _vanity),
    (telephone.INTERNATIONAL_RE, _phone_international),
    (telephone.IP_RE, _ip),
    (telephone.NORTH_AMERICAN_RE, _phone_national),
    (telephone.NIGERIAN_LOCAL_RE, _phone_national),
    (telephone.SOCIAL_SECURITY_RE, _phone_national),
    (dates.ISO_RE, _iso_date),
    (dates.NUMERIC_RE, _numeric_date),
    (dates.PERIOD_OF_YEAR_RE, _period_of_year),
    (VERSION_RE, _version),
    (HOUSE_NUMBER_RE, _house_number),
    (RANGE_RE, _range),
    (dates.MONTH_FIRST_RE, _month_first),
    (dates.DAY_FIRST_RE, _day_first),
    (dates.MONTH_YEAR_RE, _month_year),
    (dates.DECADE_RE, _decade),
    (dates.ERA_RE, _era),
    (times.TIME_RE, _time),
    (RATIO_RE, _ratio),
    (money.MONEY_RE, _money),
    (money.NAIRA_N_RE, _naira_n),
    (TIMES_RE, lambda m, loc: " times "),
    (BY_RE, lambda m, loc: " by "),
    (INCH_RE, _inch),
    (measures.MEASURE_RE, _measure),
    (MIXED_FRACTION_RE, _mixed_fraction),
    (measures.PER_ONLY_RE, _per_only),
    (MATH_RE, _math),
    (FRACTION_RE, _fraction),
    (VULGAR_RE, _vulgar),
    (roman.LONE_ROMAN_RE, roman.read_lone_roman),
    (roman.ROMAN_RE, roman.read_roman),
    (abbr.LATIN_RE, abbr.expand_latin),
    (abbr.NUMBER_SIGN_RE, lambda m, loc: "number "),
    (abbr.TITLE_RE, abbr.expand_title),
    (abbr.SAINT_STREET_RE, abbr.expand_saint_street),
    (abbr.DAY_RANGE_RE, abbr.expand_day_range),
    (abbr.TRAILING_RE, abbr.expand_trailing),
    (abbr.VS_RE, lambda m, loc: "versus"),
    (abbr.STREET_RE, lambda m, loc: abbr.STREET_TYPES[m.group(0)]),
    (abbr.DIRECTION_RE, lambda m, loc: abbr.DIRECTIONS[m.group(0)]),
    (abbr.INITIALISM_RE, abbr.expand_initialism),
    (abbr.SPACED_INITIALS_RE, abbr.join_initials),
    (abbr.STATE_RE, abbr.expand_state),
    (TAG_RE, _tag),
    (ORDINAL_RE, _ordinal),
]

FINAL_PASSES: list[tuple[re.Pattern[str], Reader]] = [
    (NUMBER_RE, _number),
    (HASH_RE, _hash),
    (TILDE_RE, _tilde),
    (ANGLE_RE, _angle),
    (BAR_RE, _bar),
    (SYMBOL_RE, _symbol),
    (re.compile(r"[0-9]+"), _digits_left),
]

_QUOTES = re.compile(r"``|''")
_SPACES = re.compile(r"[ \t]{2,}")


def normalize_fragment(text: str, locale: str) -> str:
    """Run every pass over `text` (a whole text or a piece of one)."""
    for pattern, reader in PASSES:
        text = _apply(pattern, reader, text, locale)
    for pattern, reader in FINAL_PASSES:
        text = _apply(pattern, reader, text, locale)
    return text


def normalize(text: str, locale: str = "en-US") -> str:
    """Written text -> what a TTS engine should read: numbers, money, dates, times, telephone
    numbers, measures, addresses, abbreviations and symbols as words. Sentence punctuation is
    kept; the result has no ASCII digit and no symbol an engine would misread."""
    locale = resolve_locale(locale)
    text = _QUOTES.sub('"', text).replace("`", "'")
    text = normalize_fragment(text, locale)
    return _SPACES.sub(" ", text).strip()


__all__ = ["LOCALES", "cardinal", "normalize", "normalize_fragment", "resolve_locale"]
