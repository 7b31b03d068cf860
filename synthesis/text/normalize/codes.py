"""Codes a caller must write down or type: one-time codes, PINs, card endings, references,
account and order numbers; keypad keys and USSD codes.

A code is read digit by digit (letters spelled) in short groups separated by commas, which the
engine says as a pause: "482913" -> "four eight two, nine one three". A caller cannot type
"four hundred eighty two thousand...". Each digit is its own word: no "double" or "triple"
(a listener writing digits down follows one word per digit; "double four" is a second step).

What makes digits a code:
- a context word before them: strict words (code, OTP, PIN, passcode, verification,
  confirmation, CVV, "card ending (in)", reference, tracking, BVN, NIN, ...) take three
  digits or more; loose words (account, order, ticket, booking, invoice, case, claim, policy,
  transaction, customer, member, receipt, voucher) take five or more, or three or more after a
  link ("order number", "ticket #", "account no.", "order:"), so "order 3 pizzas" and
  "order 1000 units" stay numbers. Between the word and the digits only a few link words may
  stand (is, was, number, no., #, ID, code, ":"): "my account balance is 15000" stays a number.
- its shape, with no context: ten or more digits in a row, or a leading zero (read digit by
  digit anyway, now in groups; see `numbers.read_number`).
"""

from __future__ import annotations

import re

from .numbers import digits, group_sizes

_STRICT = (
    r"one[- ]time (?:pass)?code|security code|access code|promo code|pass ?code|code|otp|pin"
    r"|verification|confirmation|cvv|cvc|(?:card|account|number) ending(?: in)?"
    r"|last (?:four|4) digits"
    r"|reference|ref|tracking|bvn|nin|nuban|imei|pnr"
)
_LOOSE = (
    r"account|acct|a/c|order|ticket|booking|invoice|case|claim|policy|transaction|customer"
    r"|member(?:ship)?|receipt|voucher"
)
# What may stand between a context word and its code.
_LINK = r"(?:\s*[:#]\s*|\s+(?:is|was|will be|number|no\.?|nr\.?|num|id|code|reads)(?![\w]))"
_CODE = r"(?:[0-9]+(?:[ -][0-9]{2,})*|(?=[A-Z]*[0-9])(?=[0-9]*[A-Z])[A-Z0-9]{3,})"
CODE_RE = re.compile(
    rf"(?<![\w/-])(?P<word>{_STRICT}|{_LOOSE})(?P<dot>\.)?(?P<link>{_LINK}*)\s*"
    rf"(?P<code>{_CODE})(?![\w]|[.,][0-9])",
    re.IGNORECASE,
)
_LOOSE_RE = re.compile(rf"(?:{_LOOSE})", re.IGNORECASE)
# Abbreviations in the lead that would be read wrong once the digits after them are words.
_LEAD_WORDS = {"ref": "reference", "acct": "account", "a/c": "account"}
_LINK_WORDS = re.compile(r"(?<![\w])(?:no\.?|nr\.?|num)(?![\w])|#", re.IGNORECASE)


def _say(chars: str) -> str:
    """Digits one by one; capitals spelled one by one; a run of lower-case letters kept as
    written (the shared suite reads "your otp is ab9453" as "ab nine four five three")."""
    pieces = re.findall(r"[0-9]|[A-Z]|[a-z]+", chars)
    return " ".join(digits(p) if p.isdigit() else p for p in pieces)


def read_code(text: str) -> str:
    """A code read aloud: its written groups (spaces or dashes) kept, a single run grouped by
    `group_sizes`; digits as words, letters spelled; groups joined by commas."""
    written = [g for g in re.split(r"[ -]", text) if g]
    if len(written) > 1:
        return ", ".join(_say(g) for g in written)
    out: list[str] = []
    start = 0
    for size in group_sizes(len(text)):
        out.append(_say(text[start : start + size]))
        start += size
    return ", ".join(out)


def _is_code(word: str, link: str, code: str) -> bool:
    count = sum(ch.isdigit() for ch in code)
    if not code.isdigit() and not re.fullmatch(r"[0-9 -]+", code):
        return True  # letters and digits: a reference such as XK42P9
    if _LOOSE_RE.fullmatch(word) and not link.strip():
        return count >= 5
    return count >= 3


def read_code_match(match: re.Match[str], _locale: str) -> str | None:
    word, dot, link, code = match.group("word", "dot", "link", "code")
    lead_word = _LEAD_WORDS.get(word.lower())
    if (dot and not lead_word) or not _is_code(word, link, code):
        return None  # "your PIN. 1234 is...": a period after a whole word ends its sentence
    lead = (lead_word or word) + _LINK_WORDS.sub(" number ", link)
    lead = re.sub(r" {2,}", " ", lead).replace(" :", ":")
    gap = "" if lead.endswith(" ") else " "
    return f"{lead}{gap}{read_code(code)}"


# ------------------------------------------------------------------------------ keypad, USSD

# *123#, *901*1#: the USSD codes Nigerian (and other) networks use.
USSD_RE = re.compile(r"(?<![\w*#])\*[0-9]+(?:\*[0-9]+)*#(?![\w*#])")
# A key on its own after press/dial/enter, or before "key": "press #", "the * key".
KEYPAD_RE = re.compile(
    r"(?<![\w])(?P<lead>(?:press|dial|enter|tap|hit|then)\s+(?:the\s+)?)(?P<key>[*#])(?![\w*#])"
    r"|(?<![\w*#])(?P<alone>[*#])(?=\s+key(?![\w]))",
    re.IGNORECASE,
)


def key_name(key: str, locale: str) -> str:
    """The name of a telephone key: * is "star"; # is "pound" in en-US, "hash" elsewhere."""
    if key == "*":
        return "star"
    return "pound" if locale == "en-US" else "hash"


def read_ussd_match(match: re.Match[str], locale: str) -> str:
    words: list[str] = []
    for piece in re.findall(r"[*#]|[0-9]+", match.group(0)):
        words.append(key_name(piece, locale) if piece in "*#" else digits(piece))
    return " ".join(words)


def read_keypad_match(match: re.Match[str], locale: str) -> str:
    if match.group("alone"):
        return key_name(match.group("alone"), locale)
    return match.group("lead") + key_name(match.group("key"), locale)
