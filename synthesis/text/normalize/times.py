"""Times of day: 12 h and 24 h clocks, seconds, time zones."""

from __future__ import annotations

import re

from .abbreviations import period
from .numbers import ONES, cardinal

AMPM = r"(?:[ap]\. ?m\.|[ap]\.? ?m(?![\w]))"
_ZONES = "est|cst|mst|pst|edt|cdt|mdt|pdt|gmt|utc|wat|bst|cet|cat|eat|ist"
ZONE = rf"(?:(?:{_ZONES})(?![\w])|[ecmp]\.[sd]\.t\.?)"

TIME_RE = re.compile(
    rf"(?<![\w.:])(?<![0-9],)([0-9]{{1,2}})(?:([:.])([0-9]{{2}})(?::([0-9]{{2}}))?)?"
    rf"(?:\s?({AMPM}))?(?:\s?({ZONE}))?(?![\w:]|\.[0-9])",
    re.IGNORECASE,
)


def _ampm(text: str | None) -> str:
    if not text:
        return ""
    return "AM" if text.strip().lower().startswith("a") else "PM"


def _zone(text: str | None) -> str:
    return text.replace(".", "").upper() if text else ""


def _unit(n: int, name: str) -> str:
    return f"{cardinal(n)} {name}" + ("" if n == 1 else "s")


def read_time(
    hour: int,
    minute: int | None,
    second: int | None = None,
    ampm: str | None = None,
    zone: str | None = None,
) -> str | None:
    """A time spoken; None when it is not a valid time."""
    suffix = " ".join(p for p in (_ampm(ampm), _zone(zone)) if p)
    if ampm and not 0 <= hour <= 12:
        return None
    if hour > 24 or (minute is not None and minute > 59) or (second is not None and second > 59):
        return None
    if second is not None and minute is not None:
        words = f"{_unit(hour, 'hour')} {_unit(minute, 'minute')} and {_unit(second, 'second')}"
    elif minute is None or minute == 0:
        if ampm or zone:
            words = cardinal(hour)
        elif minute is None:
            return None
        else:
            words = f"{cardinal(hour)} o'clock" if hour else "midnight"
    elif hour == 0 and not ampm:
        words = f"twelve {_minutes(minute)} AM"
    else:
        words = f"{cardinal(hour)} {_minutes(minute)}"
    return f"{words} {suffix}" if suffix else words


def _minutes(minute: int) -> str:
    return f"oh {ONES[minute]}" if minute < 10 else cardinal(minute)


def parse_time(match: re.Match[str]) -> str | None:
    """Read a TIME_RE match; None when it is not a time (a decimal, a bare number...)."""
    hour_s, sep, minute_s, second_s, ampm, zone = match.groups()
    if minute_s is None and not ampm:
        return None
    if sep == "." and not ampm:
        return None
    return read_time(
        int(hour_s),
        int(minute_s) if minute_s is not None else None,
        int(second_s) if second_s is not None else None,
        ampm,
        zone,
    )


def say_time(text: str) -> str | None:
    """A time as an SSML say-as: "3:30pm", "15:45", "1530", "noon"; None if unreadable."""
    stripped = text.strip()
    lower = stripped.lower()
    if lower in ("noon", "midday", "midnight"):
        return lower
    compact = re.fullmatch(r"([0-9]{2})([0-9]{2})", stripped)
    if compact:
        return read_time(int(compact.group(1)), int(compact.group(2)))
    match = TIME_RE.fullmatch(stripped)
    if match:
        hour_s, _sep, minute_s, second_s, ampm, zone = match.groups()
        return read_time(
            int(hour_s),
            int(minute_s) if minute_s is not None else (0 if not ampm else None),
            int(second_s) if second_s is not None else None,
            ampm,
            zone,
        )
    return None


# A word before a time that makes it a time of day (a 24-hour time after one is read on the
# 12-hour clock, which a caller hears as a time: "at 18:45" -> "at six forty five PM").
_TIME_CONTEXT = re.compile(
    r"(?<![\w])(?:at|by|from|until|till|til|to|before|after|around|about|between|and|since"
    r"|opens?|closes?|starts?|ends?|departs?|arrives?|leaves?)\s+$",
    re.IGNORECASE,
)


def twelve_hour(hour: int, minute: int, zone: str | None = None) -> str | None:
    """A 24-hour time on the 12-hour clock: 18:45 -> "six forty five PM", 12:00 -> "noon",
    00:00 -> "midnight", 00:15 -> "twelve fifteen AM"."""
    if minute == 0 and hour in (0, 12, 24) and not zone:
        return "noon" if hour == 12 else "midnight"
    ampm = "AM" if hour < 12 or hour == 24 else "PM"
    return read_time(hour % 12 or 12, minute, ampm=ampm, zone=zone)


def on_24_hour_clock(hour_s: str) -> bool:
    """Whether an hour as written can only be a 24-hour clock's: 13-24, or with a leading zero."""
    return int(hour_s) > 12 or (len(hour_s) == 2 and hour_s[0] == "0")


def _after_time_word(match: re.Match[str]) -> bool:
    # only the few characters before the time: the longest time word and its spaces
    start = match.start()
    return _TIME_CONTEXT.search(match.string, max(0, start - 16), start) is not None


def read_time_match(match: re.Match[str], _locale: str) -> str | None:
    hour_s, sep, minute_s, second_s, ampm, zone = match.groups()
    if (
        sep == ":"
        and second_s is None
        and not ampm
        and (on_24_hour_clock(hour_s) or (hour_s == "12" and minute_s == "00"))
        and _after_time_word(match)
        and int(hour_s) <= 24
        and int(minute_s) <= 59
    ):
        return twelve_hour(int(hour_s), int(minute_s), zone)
    words = parse_time(match)
    if words is None:
        return None
    if match.group(0).endswith("."):
        words += period(match.string, match.end())
    return words
