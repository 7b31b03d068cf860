"""Numbers as words: cardinals, ordinals, digit strings, decimals, years and fractions; and the
readers of numbers in running text (plain, ordinal, fractions, versions, house numbers).

Conventions (all locales): the last three-digit group of a cardinal takes a British-style "and"
("one hundred and twenty three", "eighteen thousand and eighty one"), higher groups do not
("one hundred twenty three thousand"). Ordinals and fraction parts never take the "and".
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = [
    "_",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
    "sextillion",
    "septillion",
    "octillion",
    "nonillion",
    "decillion",
]
SCALE_WORDS = frozenset(SCALES[1:])

_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}

# Longest digit string read as a number; longer ones are read digit by digit (and never handed
# to int(), whose string conversion is limited).
MAX_CARDINAL_DIGITS = len(SCALES) * 3


def _below_hundred(n: int) -> str:
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] if ones == 0 else f"{TENS[tens]} {ONES[ones]}"


def _below_thousand(n: int, *, use_and: bool) -> str:
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _below_hundred(rest)
    head = f"{ONES[hundreds]} hundred"
    if rest == 0:
        return head
    return f"{head} and {_below_hundred(rest)}" if use_and else f"{head} {_below_hundred(rest)}"


def cardinal(n: int, *, use_and: bool = True) -> str:
    """`n` in words: 123 -> "one hundred and twenty three" (`use_and=False`: without "and")."""
    if n < 0:
        return "minus " + cardinal(-n, use_and=use_and)
    if n == 0:
        return "zero"
    groups: list[int] = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    if len(groups) > len(SCALES):
        return digits("".join(str(g).zfill(3) for g in reversed(groups)).lstrip("0"))
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        if index == 0:
            if use_and and group < 100 and len(groups) > 1 and groups[1] != 0:
                words.append("and")
            words.append(_below_thousand(group, use_and=use_and))
        else:
            words.append(f"{_below_thousand(group, use_and=False)} {SCALES[index]}")
    return " ".join(words)


def to_ordinal_word(words: str) -> str:
    """The ordinal of a cardinal phrase: "twenty one" -> "twenty first"."""
    head, _, last = words.rpartition(" ")
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}" if head else last


def ordinal(n: int) -> str:
    """`n` as an ordinal: 21 -> "twenty first", 100 -> "one hundredth"."""
    if n < 0:
        return "minus " + ordinal(-n)
    return to_ordinal_word(cardinal(n, use_and=False))


def ordinal_suffix(n: int) -> str:
    """The written suffix of `n`'s ordinal: 1 -> "st", 12 -> "th", 23 -> "rd"."""
    if n % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def digits(text: str, zero: str = "zero") -> str:
    """Each ASCII digit of `text` as a word; other characters are dropped."""
    return " ".join(zero if ch == "0" else ONES[int(ch)] for ch in text if "0" <= ch <= "9")


def group_sizes(length: int) -> list[int]:
    """How a digit string (or code) of `length` characters is grouped when read out: up to four
    in one group; otherwise the fewest groups of at most four, as even as possible, the longer
    ones last (6 -> 3-3, 7 -> 3-4, 10 -> 3-3-4)."""
    if length <= 4:
        return [length]
    count = -(-length // 4)
    base, extra = divmod(length, count)
    return [base] * (count - extra) + [base + 1] * extra


def grouped_digits(text: str) -> str:
    """A digit string read digit by digit in `group_sizes` groups joined by commas (a pause a
    listener can write down): "0123456789" -> "zero one two, three four five, six seven eight
    nine"."""
    plain = "".join(ch for ch in text if "0" <= ch <= "9")
    out: list[str] = []
    start = 0
    for size in group_sizes(len(plain)):
        out.append(digits(plain[start : start + size]))
        start += size
    return ", ".join(out)


def pluralize(words: str) -> str:
    """The plural of the last word of a number phrase: "nineteen eighty" -> "nineteen eighties"."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}" if head else last


def number(text: str, *, use_and: bool = True) -> str:
    """An integer as written ("1,234", "0042", "17"): grouped or short ones as a cardinal,
    leading zeros digit by digit."""
    plain = text.replace(",", "")
    if not plain.isascii() or not plain.isdigit():
        return digits(plain)
    if len(plain) > 1 and plain.startswith("0"):
        return digits(plain)
    if len(plain) > MAX_CARDINAL_DIGITS:
        return digits(plain)
    return cardinal(int(plain), use_and=use_and)


def decimal(text: str, *, use_and: bool = True) -> str:
    """A decimal as written: "2.050" -> "two point zero five zero", ".5" -> "point five",
    "-1.5" -> "minus one point five"."""
    sign = ""
    if text.startswith(("-", "\u2212")):
        sign, text = "minus ", text[1:]
    whole, dot, frac = text.partition(".")
    parts: list[str] = []
    if whole:
        parts.append(number(whole, use_and=use_and) if whole.replace(",", "") else "zero")
    if dot:
        parts.append("point")
        if frac:
            parts.append(digits(frac))
    return sign + " ".join(parts)


def year(n: int) -> str:
    """`n` read as a year: 1999 -> "nineteen ninety nine", 2005 -> "two thousand five",
    1906 -> "nineteen oh six", 1900 -> "nineteen hundred", 2010 -> "twenty ten"."""
    if n < 0:
        return "minus " + year(-n)
    if n < 100 or n >= 10000:
        return cardinal(n, use_and=False)
    if n % 1000 == 0 or (n >= 1000 and n % 1000 < 10):
        return cardinal(n, use_and=False)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high, use_and=False)} hundred"
    if low < 10:
        return f"{cardinal(high, use_and=False)} oh {ONES[low]}"
    return f"{cardinal(high, use_and=False)} {_below_hundred(low)}"


def two_digit_year(text: str) -> str:
    """A two-digit year: "98" -> "ninety eight", "05" -> "oh five"."""
    n = int(text)
    return f"oh {ONES[n]}" if n < 10 else _below_hundred(n)


_DENOMINATORS = {2: ("half", "halves"), 4: ("quarter", "quarters")}


def fraction(numerator: int, denominator: int, *, mixed: bool = False) -> str:
    """A fraction: 3/4 -> "three quarters", 1/2 -> "one half" ("a half" when `mixed`, as in
    "two and a half"), 22/3 -> "twenty two thirds", 5/1 -> "five over one"."""
    num = cardinal(numerator, use_and=False)
    if denominator == 1:
        return f"{num} over one"
    if denominator == 0:
        return f"{num} over zero"
    if denominator in _DENOMINATORS:
        singular, plural = _DENOMINATORS[denominator]
        if numerator == 1:
            return f"a {singular}" if mixed else f"one {singular}"
        return f"{num} {plural}"
    den = ordinal(denominator)
    if numerator == 1:
        return f"{num} {den}"
    return f"{num} {pluralize(den)}"


# ---------------------------------------------------------------- numbers in running text


# "24/7" (and "24/7/365"): all the time, said as the digits' names, never a fraction.
ROUND_THE_CLOCK_RE = re.compile(r"(?<![\w/.,])24/7(/365)?(?![\w/]|[.,][0-9])")


def read_round_the_clock(match: re.Match[str], _locale: str) -> str:
    return "twenty four seven" + (" three sixty five" if match.group(1) else "")


# A version or section number: 3.11.4 -> "three point eleven point four".
VERSION_RE = re.compile(r"(?<![\w.])[0-9]{1,4}(?:\.[0-9]{1,4}){2,5}(?![\w]|\.[0-9])")


def read_version(match: re.Match[str], _locale: str) -> str:
    return " point ".join(number(part) for part in match.group(0).split("."))


# A house number before a street name: "123 Laguna Ct" -> "one twenty three Laguna Court".
HOUSE_NUMBER_RE = re.compile(
    r"(?<![\w.,])([1-9][0-9]{2,3})(?= (?:[NSEW] )?(?:[A-Z][a-z]+ ){1,3}"
    r"(?:St|Ave|Rd|Blvd|Ct|Ln|Dr|Expy|Hwy|Pkwy|Way|Street|Avenue|Road|Court|Lane|Drive)\b)"
)


def read_house_number(match: re.Match[str], _locale: str) -> str:
    return year(int(match.group(1)))


MIXED_FRACTION_RE = re.compile(
    r"(?<![\w./,])([0-9]+) ([0-9]+)/([0-9]+)(?:st|nd|rd|th)?(?![\w/]|[.,][0-9])", re.IGNORECASE
)
FRACTION_RE = re.compile(
    r"(?<![\w./,])([0-9]+) ?/ ?([0-9]+)(?:st|nd|rd|th)?(?![\w/]|[.,][0-9])", re.IGNORECASE
)
_VULGAR = "½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒"
VULGAR_RE = re.compile(rf"(?<![\w.])([0-9]+)? ?([{_VULGAR}])")


def read_fraction(match: re.Match[str], _locale: str) -> str | None:
    num_s, den_s = match.group(1), match.group(2)
    if len(num_s) > 9 or len(den_s) > 9:
        return None
    return fraction(int(num_s), int(den_s))


def read_mixed_fraction(match: re.Match[str], _locale: str) -> str | None:
    whole_s, num_s, den_s = match.groups()
    if len(whole_s) > 9 or len(num_s) > 9 or len(den_s) > 9:
        return None
    return f"{number(whole_s)} and {fraction(int(num_s), int(den_s), mixed=True)}"


def read_vulgar(match: re.Match[str], _locale: str) -> str | None:
    value = Fraction(unicodedata.numeric(match.group(2))).limit_denominator(20)
    words = fraction(value.numerator, value.denominator, mixed=bool(match.group(1)))
    if match.group(1):
        return f"{number(match.group(1))} and {words}"
    return words


ORDINAL_RE = re.compile(
    r"(?<![\w.,])([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(st|nd|rd|th)(?![A-Za-z])", re.IGNORECASE
)


def read_ordinal(match: re.Match[str], _locale: str) -> str | None:
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


def read_number(match: re.Match[str], _locale: str) -> str | None:
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
    elif not glued and (len(plain) > 9 or (len(plain) > 4 and plain[0] == "0")):
        words = grouped_digits(plain)  # an identifier: read so that it can be written down
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


# Digits no other pass read.
DIGITS_RE = re.compile(r"[0-9]+")


def read_digits(match: re.Match[str], _locale: str) -> str:
    return digits(match.group(0))
