"""Arithmetic written with symbols: equations ("x = 2 + 3"), products ("3 * 4") and ratios
("2:8")."""

from __future__ import annotations

import re
from collections.abc import Callable

from .numbers import number

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

# A ratio: "2:8", "3:1" (a colon and a single digit is not a time).
RATIO_RE = re.compile(r"(?<![\w.:])([0-9]{1,3}):([0-9])(?![\w:])")


def read_ratio(match: re.Match[str], _locale: str) -> str:
    return f"{number(match.group(1))} to {number(match.group(2))}"
