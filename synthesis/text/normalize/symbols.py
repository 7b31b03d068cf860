"""Symbols by name, reading text character by character, and the symbols (and literal markup)
left in running text."""

from __future__ import annotations

import re
import unicodedata

from .numbers import ONES

# Symbols a TTS engine misreads or skips; normalized text never contains them.
MISREAD_SYMBOLS = frozenset("$€£₦¥₩%&@#/+=*^~|\\_<>§°º¢`")

SYMBOL_NAMES: dict[str, str] = {
    "$": "dollar",
    "€": "euro",
    "£": "pound",
    "₦": "naira",
    "¥": "yen",
    "₩": "won",
    "¢": "cent",
    "%": "percent",
    "&": "and",
    "@": "at",
    "#": "hash",
    "/": "slash",
    "+": "plus",
    "=": "equals",
    "*": "asterisk",
    "^": "caret",
    "~": "tilde",
    "|": "bar",
    "\\": "backslash",
    "_": "underscore",
    "<": "less than",
    ">": "greater than",
    "§": "section",
    "°": "degrees",
    "º": "degrees",
    "`": "backtick",
}

# Names used when reading character by character (verbatim, characters, e-mail addresses).
CHARACTER_NAMES: dict[str, str] = {
    **SYMBOL_NAMES,
    "&": "ampersand",
    "°": "degree",
    "º": "degree",
    ".": "dot",
    ",": "comma",
    ":": "colon",
    ";": "semicolon",
    "!": "exclamation mark",
    "?": "question mark",
    "-": "dash",
    "'": "apostrophe",
    '"': "quote",
    "(": "open parenthesis",
    ")": "close parenthesis",
    "[": "open bracket",
    "]": "close bracket",
    "{": "open brace",
    "}": "close brace",
}


def character_name(ch: str) -> str:
    """One character read aloud: a digit as its word, a letter as itself (upper case), a symbol
    by its name (or its Unicode name), whitespace as nothing."""
    if "0" <= ch <= "9":
        return ONES[int(ch)]
    if ch.isspace():
        return ""
    if ch.isalpha():
        return ch.upper()
    if ch in CHARACTER_NAMES:
        return CHARACTER_NAMES[ch]
    if unicodedata.category(ch)[0] in "MCZ":
        return ""  # marks, controls, format characters: nothing to say
    name = unicodedata.name(ch, "").lower().replace("-", " ")
    return re.sub(r"[0-9]+", lambda m: " ".join(ONES[int(d)] for d in m.group(0)), name)


def spell(text: str, *, punctuation: bool) -> str:
    """`text` letter by letter ("abc1" -> "A B C one"); with `punctuation`, every symbol and
    punctuation mark by name, otherwise punctuation (but not symbols) is left out."""
    words: list[str] = []
    for ch in text:
        if not punctuation and unicodedata.category(ch).startswith("P") and ch not in "#%&@*/\\_":
            continue
        name = character_name(ch)
        if name:
            words.append(name)
    return " ".join(words)


# Literal markup left in plain text (<p>, <br/>, </b>): read the element's name only.
TAG_RE = re.compile(r"</?([A-Za-z][\w-]*)[^<>]{0,40}?/?>")


def read_tag(match: re.Match[str], _locale: str) -> str:
    return f" {match.group(1)} "


# A symbol still in the text after the passes that read it in context (money, measures, ...):
# read as a word of the sentence, which is not always its name ("¢" is "cents"). The hash,
# tilde, angle brackets and bar have passes of their own: what they mean depends on where
# they stand.
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


def read_symbol(match: re.Match[str], _locale: str) -> str:
    return f" {_SYMBOL_WORDS[match.group(0)]} "


def read_hash(match: re.Match[str], _locale: str) -> str:
    return " hash "


def read_tilde(match: re.Match[str], _locale: str) -> str:
    return "approximately" if match.end() < len(match.string) and match.group(0) else "tilde"


def read_angle(match: re.Match[str], _locale: str) -> str:
    text, start, end = match.string, match.start(), match.end()
    spaced = (start == 0 or text[start - 1].isspace()) and (end == len(text) or text[end].isspace())
    if spaced:
        return "less than" if match.group(0) == "<" else "greater than"
    return " "


def read_bar(_match: re.Match[str], _locale: str) -> str:
    return ", "
