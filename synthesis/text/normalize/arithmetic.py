"""Arithmetic written with symbols: equations ("x = 2 + 3"), products ("3 * 4") and ratios
("2:8")."""

from __future__ import annotations

import re
from collections.abc import Callable

from .numbers import decimal, number

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


def read_equation(match: re.Match[str], locale: str, read: Callable[[str, str], str]) -> str | None:
    """`read` reads each term with every pass."""
    expression = match.group(0)
    if "=" not in expression:
        return None
    parts = re.split(r"\s*([-+*/\u00d7÷=])\s*", expression)
    words = [_OPERATORS[p] if i % 2 else read(p, locale) for i, p in enumerate(parts)]
    return " ".join(words)


# A product of two numbers: "3 * 4" -> "three times four" (also with a multiplication sign).
TIMES_RE = re.compile(r"(?<=[0-9]) ?[*\u00d7] ?(?=[0-9])")

# "x" after a number means "times" before a word that says how often or how much more:
# "3x a day", "2x faster", "1.5x the price". A bare "2x" stays "two x" (the shared suite's
# reading: it may be a name, a size or a zoom).
TIMES_X_RE = re.compile(
    r"(?<![\w.])([0-9]+(?:\.[0-9]+)?)x(?= +(?:(?:a|an|per|each|every) +(?:day|week|month|year"
    r"|night|hour|minute)|daily|weekly|monthly|yearly|faster|slower|more|less|bigger|smaller"
    r"|larger|cheaper|better|higher|lower|longer|stronger|the|as|over)(?![\w]))",
    re.IGNORECASE,
)


def read_times_x(match: re.Match[str], _locale: str) -> str:
    amount = match.group(1)
    return f"{decimal(amount) if '.' in amount else number(amount)} times"


# A ratio: "2:8", "3:1" (a colon and a single digit is not a time).
RATIO_RE = re.compile(r"(?<![\w.:])([0-9]{1,3}):([0-9])(?![\w:])")


def read_ratio(match: re.Match[str], _locale: str) -> str:
    return f"{number(match.group(1))} to {number(match.group(2))}"
