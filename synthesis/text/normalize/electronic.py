"""E-mail addresses and URLs, read so that they can be typed back: "dot", "at", "slash"."""

from __future__ import annotations

import re

from .numbers import digits

# Top-level and second-level names read as words; other two-letter ones are spelled (upper case
# tells the engine to say the letters).
_WORD_LABELS = frozenset(
    [
        "com",
        "org",
        "net",
        "edu",
        "gov",
        "mil",
        "int",
        "info",
        "biz",
        "name",
        "pro",
        "aero",
        "coop",
        "museum",
        "mobi",
        "gmail",
        "yahoo",
        "hotmail",
        "outlook",
        "icloud",
        "aol",
        "msn",
        "proton",
    ]
)
_EXTENSIONS = {"jpg": "jpeg", "htm": "HTML", "html": "HTML", "pdf": "PDF", "png": "PNG"}
_SEPARATORS = {
    ".": "dot",
    "-": "dash",
    "_": "underscore",
    "/": "slash",
    "@": "at",
    ":": "colon",
    "&": "ampersand",
    "+": "plus",
    "=": "equals",
    "?": "question mark",
    "#": "hash",
    "%": "percent",
    "~": "tilde",
}

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_RE = re.compile(
    rf"(?<![\w@-])(?<!\w\.)[A-Za-z0-9][A-Za-z0-9._%+&-]*@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,24}}"
    r"(?:/[A-Za-z0-9._~%/-]*)?"
)
URL_RE = re.compile(
    r"(?<![\w@])(?:(?:https?|ftp|file)://|www\.)[A-Za-z0-9._~:/?#\[\]@!&'()*+,;=%-]*"
    r"[A-Za-z0-9/_=-]",
    re.IGNORECASE,
)
# A bare domain: lower-case labels, a top-level part of letters, optionally a path.
DOMAIN_RE = re.compile(
    r"(?<![\w.@/-])[a-z0-9][a-z0-9-]+\.(?:[a-z0-9][a-z0-9-]*\.)*(?:[a-z]{2,6})(?:/[A-Za-z0-9._~%/-]*[A-Za-z0-9/])?"
    r"(?![\w@-])|(?<![\w.@/-])[A-Za-z][A-Za-z0-9-]*\.(?:com|org|net|edu|gov|io|co|ng|uk|us)"
    r"(?![\w@-])"
)


def _chunk(text: str) -> str:
    """Letters as a word, digits digit by digit."""
    out: list[str] = []
    for piece in re.findall(r"[0-9]+|[^\W\d_]+", text):
        out.append(digits(piece) if piece[0].isdigit() else piece)
    return " ".join(out)


def _label(label: str, *, top: bool) -> str:
    lower = label.lower()
    if lower in _WORD_LABELS:
        return lower
    if lower == "www":
        return "WWW"
    if top:
        if lower in _EXTENSIONS:
            return _EXTENSIONS[lower]
        if len(lower) <= 3 and lower.isalpha() and lower not in ("com", "org", "net", "edu"):
            return lower.upper()
    return _chunk(label)


def read_address(text: str) -> str:
    """An e-mail address, URL or domain read symbol by symbol."""
    scheme = ""
    match = re.match(r"([A-Za-z]+)://", text)
    if match:
        scheme = f"{match.group(1).upper() if match.group(1).lower() != 'file' else 'file'}"
        scheme += " colon slash slash"
        text = text[match.end() :]
    words: list[str] = [scheme] if scheme else []
    pieces = re.split(r"([./@:_&+=?#%~-])", text)
    for i, piece in enumerate(pieces):
        if not piece:
            continue
        if i % 2 == 1:
            words.append(_SEPARATORS.get(piece, piece))
            continue
        prev_sep = pieces[i - 1] if i else ""
        nxt_sep = pieces[i + 1] if i + 1 < len(pieces) else ""
        top = prev_sep == "." and nxt_sep in ("", "/", "?", "#")
        words.append(_label(piece, top=top))
    return " ".join(w for w in words if w)


def read_address_match(match: re.Match[str], _locale: str) -> str | None:
    found = match.group(0)
    tail = ""
    while found and found[-1] in ".,;:!?)":
        tail = found[-1] + tail
        found = found[:-1]
    if not found:
        return None
    return read_address(found) + tail
