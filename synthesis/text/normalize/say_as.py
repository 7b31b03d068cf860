"""SSML 1.1 <say-as>: read a text as a given type; what cannot be read so is normalized."""

from __future__ import annotations

import re

from . import dates, measures, money, telephone, times
from .core import normalize, resolve_locale
from .numbers import (
    FRACTION_RE,
    MAX_CARDINAL_DIGITS,
    MIXED_FRACTION_RE,
    decimal,
    digits,
    fraction,
    number,
    ordinal,
)
from .symbols import spell

SAY_AS_TYPES: frozenset[str] = frozenset(
    {
        "cardinal",
        "number",
        "ordinal",
        "characters",
        "spell-out",
        "digits",
        "fraction",
        "unit",
        "date",
        "time",
        "telephone",
        "currency",
        "verbatim",
        "address",
        "name",
        "expletive",
    }
)

_NUMBER = re.compile(r"([-\u2212+])?((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)")


def _cardinal(text: str) -> str | None:
    match = _NUMBER.fullmatch(text.replace(" ", ""))
    if not match:
        return None
    sign = "minus " if match.group(1) in ("-", "\u2212") else ""
    value = match.group(2)
    if len(value.replace(",", "").split(".")[0]) > MAX_CARDINAL_DIGITS:
        return None
    if "." in value:
        return sign + decimal(value)
    plain = value.replace(",", "")
    return sign + number(plain.lstrip("0") or "0")


def _ordinal(text: str) -> str | None:
    match = re.fullmatch(
        r"([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:st|nd|rd|th)?\.?", text.strip(), re.I
    )
    if not match:
        return None
    plain = match.group(1).replace(",", "")
    if len(plain) > MAX_CARDINAL_DIGITS:
        return None
    return ordinal(int(plain))


def _digits(text: str, locale: str) -> str | None:
    if not re.search(r"[0-9]", text):
        return None
    if re.fullmatch(r"[0-9 ]+", text.strip()):
        return digits(text)
    parts = re.split(r"([0-9]+)", text)
    return normalize(
        " ".join(digits(p) if i % 2 else p for i, p in enumerate(parts) if p.strip()), locale
    )


def _fraction(text: str) -> str | None:
    # "3+1/2" is Polly's way of writing a mixed number: three and a half.
    stripped = re.sub(r"(?<=\d)\s*\+\s*(?=\d+/)", " ", text.strip())
    match = MIXED_FRACTION_RE.fullmatch(stripped)
    if match and all(len(g) <= 9 for g in match.groups()):
        whole, num, den = match.groups()
        return f"{number(whole)} and {fraction(int(num), int(den), mixed=True)}"
    match = FRACTION_RE.fullmatch(stripped)
    if match and len(match.group(1)) <= 9 and len(match.group(2)) <= 9:
        return fraction(int(match.group(1)), int(match.group(2)))
    return None


def _unit(text: str, locale: str) -> str | None:
    match = measures.MEASURE_RE.fullmatch(text.strip())
    if match:
        return measures.read_measure(match, locale)
    return None


_DATE_FIELD = re.compile(r"[0-9]+|[A-Za-z]+|\?+")


_UNKNOWN = re.compile(r"\?+")
_FIELD_WIDTH = {"y": 4, "m": 2, "d": 2}


def _compact_fields(text: str, order: str) -> list[str] | None:
    """ "20200922" or "????0922" (no separators; `?` for a field left unsaid): the fields cut by
    width in `order` (ymd when no format is given and there are eight characters)."""
    if sum(_FIELD_WIDTH[kind] for kind in order) != len(text):
        return None
    fields, start = [], 0
    for kind in order:
        fields.append(text[start : start + _FIELD_WIDTH[kind]])
        start += _FIELD_WIDTH[kind]
    return fields


def _date(text: str, fmt: str | None, locale: str) -> str | None:
    order = fmt or dates.default_order(locale)
    compact = text.strip()
    if re.fullmatch(r"[0-9?]{4,8}", compact) and ("?" in compact or len(compact) == 8):
        order = fmt or ("ymd" if len(compact) == 8 else order)
        compact_fields = _compact_fields(compact, order)
        if compact_fields is None:
            return None
        fields = compact_fields
    else:
        fields = _DATE_FIELD.findall(text)
    if len(fields) != len(order):
        return None
    day: int | None = None
    month: int | None = None
    year_text: str | None = None
    for kind, field in zip(order, fields, strict=True):
        if _UNKNOWN.fullmatch(field):  # a field left unsaid
            continue
        if kind == "d":
            if not field.isdigit() or not 1 <= int(field) <= 31:
                return None
            day = int(field)
        elif kind == "m":
            month = int(field) if field.isdigit() else dates.month_number(field)
            if month is None or not 1 <= month <= 12:
                return None
        else:
            if not field.isdigit() or len(field) > 4:
                return None
            year_text = field
    day_first = dates.default_order(locale) == "dmy"
    return dates.read_date(day, month, year_text, day_first=day_first)


def say_as(
    text: str,
    interpret_as: str,
    *,
    format: str | None = None,
    detail: str | None = None,
    locale: str = "en-US",
) -> str:
    """`text` read as SSML `<say-as interpret-as=... format=... detail=...>`.

    Raises ValueError for an `interpret_as` not in SAY_AS_TYPES or a date `format` not in
    DATE_FORMATS; text that cannot be read as the type is normalized instead. `expletive` is
    not censored here (the pipeline replaces it); it is normalized like plain text."""
    kind = interpret_as.strip().lower()
    if kind not in SAY_AS_TYPES:
        raise ValueError(f"unsupported say-as interpret-as: {interpret_as!r}")
    fmt = format.strip().lower() if format else None
    if kind == "date" and fmt is not None and fmt not in dates.DATE_FORMATS:
        raise ValueError(f"unsupported say-as date format: {format!r}")
    locale = resolve_locale(locale)
    result: str | None = None
    if kind in ("cardinal", "number"):
        result = _cardinal(text)
    elif kind == "ordinal":
        result = _ordinal(text)
    elif kind in ("characters", "spell-out"):
        result = spell(text, punctuation=False)
    elif kind == "verbatim":
        result = spell(text, punctuation=True)
    elif kind == "digits":
        result = _digits(text, locale)
    elif kind == "fraction":
        result = _fraction(text)
    elif kind == "unit":
        result = _unit(text, locale)
    elif kind == "date":
        result = _date(text, fmt, locale)
    elif kind == "time":
        result = times.say_time(text)
    elif kind == "telephone":
        result = telephone.read_telephone(text)
    elif kind == "currency":
        result = money.say_currency(text, locale)
    if result is None:
        return normalize(text, locale)
    return result
