"""Roman numerals in context: "Chapter IV" -> "Chapter four", "Henry VIII" -> "Henry the
eighth", "World War II" -> "World War two". The pronoun "I" is never a numeral after a name."""

from __future__ import annotations

import re

from .numbers import cardinal, ordinal

_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_CANONICAL = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")

# Words after which a numeral counts ("Chapter IV", "World War II", "Part XL").
KEYWORDS = frozenset(
    [
        "chapter",
        "part",
        "volume",
        "vol",
        "book",
        "act",
        "scene",
        "section",
        "war",
        "phase",
        "class",
        "type",
        "grade",
        "level",
        "appendix",
        "article",
        "title",
        "psalm",
        "canto",
        "series",
        "stage",
        "schedule",
        "round",
        "season",
        "episode",
        "track",
        "unit",
        "lesson",
        "division",
        "league",
        "tier",
        "category",
        "mark",
        "mk",
    ]
)
# Capitalised words that are not names (sentence openers and the like).
_NOT_NAMES = frozenset(
    [
        "The",
        "A",
        "An",
        "And",
        "But",
        "Or",
        "So",
        "If",
        "When",
        "Then",
        "Than",
        "That",
        "This",
        "These",
        "Those",
        "There",
        "Here",
        "Is",
        "Are",
        "Was",
        "Were",
        "Be",
        "In",
        "On",
        "At",
        "To",
        "For",
        "Of",
        "By",
        "With",
        "From",
        "As",
        "It",
        "He",
        "She",
        "We",
        "They",
        "You",
        "My",
        "Our",
        "Your",
        "His",
        "Her",
        "Its",
        "Their",
        "Who",
        "What",
        "Where",
        "Why",
        "How",
        "Yes",
        "No",
        "Not",
        "Do",
        "Does",
        "Did",
        "Has",
        "Have",
        "Had",
        "Will",
        "Would",
        "Can",
        "Could",
        "Should",
        "May",
        "Might",
        "Must",
        "Let",
        "Dear",
        "Hi",
        "Hello",
    ]
)

ROMAN_RE = re.compile(r"(?<![\w'\u2019-])([A-Z][A-Za-z]*\.?) +([IVXLCDM]+)(?![\w'\u2019-])")
LONE_ROMAN_RE = re.compile(r"^\s*([IVX]{2,})\s*$")


def roman_value(text: str) -> int | None:
    """The value of a canonical Roman numeral, or None."""
    if not text or _CANONICAL.fullmatch(text) is None:
        return None
    total = 0
    for i, ch in enumerate(text):
        value = _VALUES[ch]
        if i + 1 < len(text) and _VALUES[text[i + 1]] > value:
            total -= value
        else:
            total += value
    return total


def read_roman(match: re.Match[str], _locale: str) -> str | None:
    word, numeral = match.group(1), match.group(2)
    value = roman_value(numeral)
    if value is None or value == 0:
        return None
    bare = word.rstrip(".")
    if bare.lower() in KEYWORDS:
        return f"{word} {cardinal(value)}"
    if numeral == "I" or set(numeral) - set("IVX") or value > 39:
        return None
    if bare in _NOT_NAMES or not bare[0].isupper() or bare.isupper() or word.endswith("."):
        return None
    return f"{word} the {ordinal(value)}"


def read_lone_roman(match: re.Match[str], _locale: str) -> str | None:
    value = roman_value(match.group(1))
    return cardinal(value) if value else None
