"""Money: $, £, €, ₦ (and N/NGN in en-NG), ¥, ₩; cents, pence and kobo; scales and per-units."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numbers import MAX_CARDINAL_DIGITS, cardinal, decimal, digits, number


@dataclass(frozen=True)
class Currency:
    singular: str
    plural: str
    minor_singular: str | None = None
    minor_plural: str | None = None
    # Join major and minor units with "and" ("naira and fifty kobo").
    joined: bool = False


CURRENCIES: dict[str, Currency] = {
    "USD": Currency("dollar", "dollars", "cent", "cents"),
    "US$": Currency("US dollar", "US dollars", "cent", "cents"),
    "GBP": Currency("pound", "pounds", "penny", "pence"),
    "EUR": Currency("euro", "euros", "cent", "cents"),
    "NGN": Currency("naira", "naira", "kobo", "kobo", joined=True),
    "JPY": Currency("yen", "yen"),
    "KRW": Currency("won", "won"),
    "CNY": Currency("yuan", "yuan"),
    "INR": Currency("rupee", "rupees", "paisa", "paise"),
    "GHS": Currency("cedi", "cedis", "pesewa", "pesewas"),
}
SYMBOLS = {"$": "USD", "£": "GBP", "€": "EUR", "₦": "NGN", "¥": "JPY", "₩": "KRW", "₹": "INR"}
SCALE_SUFFIXES = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "mn": "million",
    "b": "billion",
    "B": "billion",
    "bn": "billion",
    "tn": "trillion",
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
}
PER_UNITS = {
    "mo": "month",
    "month": "month",
    "yr": "year",
    "year": "year",
    "wk": "week",
    "week": "week",
    "d": "day",
    "day": "day",
    "hr": "hour",
    "h": "hour",
    "hour": "hour",
    "min": "minute",
    "kg": "kilogram",
    "lb": "pound",
    "unit": "unit",
    "person": "person",
    "night": "night",
}

AMOUNT = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.[0-9]+)?"
_SCALE = r"(?:\s?(?:thousand|million|billion|trillion)|\s?(?:bn|mn|tn|[kKmMbB]))(?![\w])"
_PER = r"(?:/(?:mo|month|yr|year|wk|week|d|day|hr|h|hour|min|kg|lb|unit|person|night)(?![\w]))"
_PREFIX = r"(US\$|[$£€₦¥₩₹]|(?:USD|GBP|EUR|NGN|JPY|INR|GHS)\s?)"
MONEY_RE = re.compile(
    rf"(?<![\w$£€₦¥₩₹])(-)?{_PREFIX}\s?(-)?({AMOUNT})({_SCALE})?({_PER})?"
    rf"|(?<![\w$£€₦¥₩₹])(-)?({AMOUNT})\s?(?:({_SCALE})\s)?(USD|GBP|EUR|NGN)(?![\w])"
)
# en-NG writes the naira as N before the amount: N5,000, N2.5m, N 5,000 (a space only before a
# grouped or three-digit amount: "N 5" is likelier a label and a number).
NAIRA_N_RE = re.compile(
    rf"(?<![\w$])N(?: (?=[0-9]{{1,3}},[0-9]{{3}}|[0-9]{{3}}))?({AMOUNT})({_SCALE})?(?![\w])"
)
# Pence written after the amount (en-GB): 50p, 1p; up to 99 ("720p" is a screen).
PENCE_RE = re.compile(r"(?<![\w.,£$€₦-])([0-9]{1,2})p(?![\w])")
# A scale letter before a currency word: "5k naira", "2.5m dollars", "10k pounds".
SCALED_WORD_RE = re.compile(
    r"(?<![\w.,$£€₦])([0-9]+(?:\.[0-9]+)?) ?(k|K|m|M|mn|bn|b|B|tn)"
    r"(?= (?:naira|kobo|dollars?|pounds?|quid|euros?|cedis?)(?![\w]))"
)


def currency_code(prefix: str) -> str:
    prefix = prefix.strip()
    if prefix.replace(" ", "").upper() == "US$":
        return "US$"
    return SYMBOLS.get(prefix, prefix.upper())


def read_money(
    amount: str,
    code: str,
    *,
    scale: str | None = None,
    per: str | None = None,
    negative: bool = False,
    locale: str = "en-US",
) -> str | None:
    """An amount of money in words, or None if `amount` has no digits."""
    currency = CURRENCIES.get(code)
    if currency is None or not re.search(r"[0-9]", amount):
        return None
    amount = amount.replace(",", "")
    whole, _, frac = amount.partition(".")
    frac_trimmed = frac.rstrip("0")
    words: str
    if scale:
        scale_word = SCALE_SUFFIXES.get(scale.strip(), scale.strip())
        value = (
            decimal(_trim_decimal(amount), use_and=False)
            if frac_trimmed
            else number(whole or "0", use_and=False)
        )
        words = f"{value} {scale_word} {currency.plural}"
    elif len(whole) > MAX_CARDINAL_DIGITS:
        words = f"{digits(whole)} {currency.plural}"
    elif len(frac_trimmed) > 2 or (frac_trimmed and currency.minor_singular is None):
        words = f"{decimal(_trim_decimal(amount))} {currency.plural}"
    else:
        major = int(whole) if whole else 0
        minor = int(frac_trimmed.ljust(2, "0")) if frac_trimmed else 0
        parts: list[str] = []
        if major or not minor:
            parts.append(
                f"{cardinal(major)} {currency.singular if major == 1 else currency.plural}"
            )
        if minor:
            minor_name = currency.minor_singular if minor == 1 else currency.minor_plural
            if parts and (currency.joined or locale == "en-NG"):
                parts.append("and")
            parts.append(f"{cardinal(minor)} {minor_name}")
        words = " ".join(parts)
    if negative:
        words = "minus " + words
    if per:
        words += f" per {PER_UNITS.get(per.lstrip('/'), per.lstrip('/'))}"
    return words


def _trim_decimal(amount: str) -> str:
    whole, _, frac = amount.partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac}" if frac else whole or "0"


def read_money_match(match: re.Match[str], locale: str) -> str | None:
    if match.group(2) is not None:
        negative = bool(match.group(1) or match.group(3))
        return read_money(
            match.group(4),
            currency_code(match.group(2)),
            scale=match.group(5),
            per=match.group(6),
            negative=negative,
            locale=locale,
        )
    return read_money(
        match.group(8),
        match.group(10),
        scale=match.group(9),
        negative=bool(match.group(7)),
        locale=locale,
    )


def say_currency(text: str, locale: str) -> str | None:
    """An SSML say-as currency: "$5.50", "5.50 USD", "NGN 2000", "₦10k"; None if unreadable."""
    stripped = text.strip()
    match = MONEY_RE.fullmatch(stripped)
    if match:
        return read_money_match(match, locale)
    match = NAIRA_N_RE.fullmatch(stripped)
    if match:
        return read_money(match.group(1), "NGN", scale=match.group(2), locale=locale)
    match = re.fullmatch(AMOUNT, stripped.replace(" ", ""))
    if match and re.search(r"[0-9]", stripped):
        code = "NGN" if locale == "en-NG" else "GBP" if locale == "en-GB" else "USD"
        return read_money(stripped.replace(" ", ""), code, locale=locale)
    return None


def read_naira_n(match: re.Match[str], locale: str) -> str | None:
    if locale != "en-NG":
        return None
    return read_money(match.group(1), "NGN", scale=match.group(2), locale=locale)


def read_pence(match: re.Match[str], locale: str) -> str | None:
    if locale != "en-GB":
        return None
    amount = int(match.group(1))
    return f"{cardinal(amount)} {'penny' if amount == 1 else 'pence'}"


def read_scaled_word(match: re.Match[str], _locale: str) -> str | None:
    amount, scale = match.groups()
    if "." in amount:
        value = decimal(_trim_decimal(amount), use_and=False)
    else:
        value = number(amount, use_and=False)
    return f"{value} {SCALE_SUFFIXES[scale]}"
