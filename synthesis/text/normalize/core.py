"""The normalizer: ordered rewrite passes over the text, most specific first.

Each pass is a regular expression and a reader; the reader returns the spoken form of a match
or None to leave it to a later pass. Spoken forms contain no digits, so later passes never read
them again. The last passes read whatever numbers and symbols are left, so the output never
contains an ASCII digit or a symbol an engine would misread.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from synthesis.text.model import primary_language

from . import abbreviations as abbr
from . import (
    arithmetic,
    codes,
    dates,
    electronic,
    measures,
    money,
    numbers,
    ranges,
    roman,
    symbols,
    telephone,
    times,
)

LOCALES = ("en-US", "en-GB", "en-NG")

Reader = Callable[[re.Match[str], str], str | None]
# A reader that reads parts of its match with every pass again (a range's sides, an equation's
# terms), given the function that does so.
NestedReader = Callable[[re.Match[str], str, Callable[[str, str], str]], str | None]


def resolve_locale(locale: str | None) -> str:
    """One of LOCALES; anything else reads like en-US."""
    return locale if locale in LOCALES else "en-US"


def normalizes(locale: str | None) -> bool:
    """Whether `normalize` reads text for `locale`: English tags (and no tag) are read; any other
    language is left as written for the engine, which expands numbers itself in its languages
    (XTTS) and would be given English words otherwise."""
    return not locale or primary_language(locale) == "en"


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


def _nested(reader: NestedReader) -> Reader:
    def read(match: re.Match[str], locale: str) -> str | None:
        return reader(match, locale, normalize_fragment)

    return read


# ------------------------------------------------------------------------------ the passes

PASSES: list[tuple[re.Pattern[str], Reader]] = [
    (electronic.URL_RE, electronic.read_address_match),
    (electronic.EMAIL_RE, electronic.read_address_match),
    (electronic.DOMAIN_RE, electronic.read_address_match),
    (codes.USSD_RE, codes.read_ussd_match),
    (codes.KEYPAD_RE, codes.read_keypad_match),
    (numbers.ROUND_THE_CLOCK_RE, numbers.read_round_the_clock),
    (codes.CODE_RE, codes.read_code_match),
    (telephone.VANITY_RE, telephone.read_vanity_match),
    (telephone.INTERNATIONAL_RE, telephone.read_international_match),
    (telephone.IP_RE, telephone.read_ip_match),
    (telephone.NANP_ONE_RE, telephone.read_nanp_one_match),
    (telephone.NORTH_AMERICAN_RE, telephone.read_national_match),
    (telephone.LOCAL_SEVEN_RE, telephone.read_national_match),
    (telephone.TRUNK_RE, telephone.read_trunk_match),
    (telephone.TRUNK_UNSPACED_RE, telephone.read_trunk_match),
    (telephone.NIGERIAN_LOCAL_RE, telephone.read_national_match),
    (telephone.SOCIAL_SECURITY_RE, telephone.read_national_match),
    (telephone.SHORT_CODE_RE, telephone.read_short_code_match),
    (dates.ISO_RE, dates.read_iso_date),
    (dates.NUMERIC_RE, dates.read_numeric_date),
    (dates.PERIOD_OF_YEAR_RE, dates.read_period_of_year),
    (numbers.VERSION_RE, numbers.read_version),
    (numbers.HOUSE_NUMBER_RE, numbers.read_house_number),
    (ranges.RANGE_RE, _nested(ranges.read_range)),
    (dates.MONTH_FIRST_RE, dates.read_month_first),
    (dates.DAY_FIRST_RE, dates.read_day_first),
    (dates.MONTH_YEAR_RE, dates.read_month_year),
    (dates.DECADE_RE, dates.read_decade),
    (dates.ERA_RE, dates.read_era),
    (times.TIME_RE, times.read_time_match),
    (arithmetic.RATIO_RE, arithmetic.read_ratio),
    (money.MONEY_RE, money.read_money_match),
    (money.NAIRA_N_RE, money.read_naira_n),
    (money.PENCE_RE, money.read_pence),
    (money.SCALED_WORD_RE, money.read_scaled_word),
    (arithmetic.TIMES_X_RE, arithmetic.read_times_x),
    (arithmetic.TIMES_RE, lambda m, loc: " times "),
    (measures.BY_RE, lambda m, loc: " by "),
    (measures.INCH_RE, measures.read_inches),
    (measures.MEASURE_RE, measures.read_measure),
    (numbers.MIXED_FRACTION_RE, numbers.read_mixed_fraction),
    (measures.PER_ONLY_RE, measures.read_per_only),
    (arithmetic.MATH_RE, _nested(arithmetic.read_equation)),
    (numbers.FRACTION_RE, numbers.read_fraction),
    (numbers.VULGAR_RE, numbers.read_vulgar),
    (roman.LONE_ROMAN_RE, roman.read_lone_roman),
    (roman.ROMAN_RE, roman.read_roman),
    (abbr.WORD_ACRONYM_RE, abbr.read_word_acronym),
    (abbr.LATIN_RE, abbr.expand_latin),
    (abbr.NUMBER_SIGN_RE, lambda m, loc: "number "),
    (abbr.NG_TITLE_RE, abbr.expand_nigerian),
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
    (symbols.TAG_RE, symbols.read_tag),
    (numbers.ORDINAL_RE, numbers.read_ordinal),
]

FINAL_PASSES: list[tuple[re.Pattern[str], Reader]] = [
    (numbers.NUMBER_RE, numbers.read_number),
    (symbols.HASH_RE, symbols.read_hash),
    (symbols.TILDE_RE, symbols.read_tilde),
    (symbols.ANGLE_RE, symbols.read_angle),
    (symbols.BAR_RE, symbols.read_bar),
    (symbols.SYMBOL_RE, symbols.read_symbol),
    (numbers.DIGITS_RE, numbers.read_digits),
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
    kept; the result has no ASCII digit and no symbol an engine would misread.

    A non-English `locale` (see `normalizes`) only gets the language-neutral clean-up (quotes,
    runs of spaces): its numbers and symbols stay as written."""
    text = _QUOTES.sub('"', text).replace("`", "'")
    if normalizes(locale):
        text = normalize_fragment(text, resolve_locale(locale))
    return _SPACES.sub(" ", text).strip()


__all__ = ["LOCALES", "normalize", "normalize_fragment", "normalizes", "resolve_locale"]
