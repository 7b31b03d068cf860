"""Abbreviations: titles before names, street types after them, Latin and other common ones.

An expanded abbreviation's period disappears (so that a sentence splitter does not take it for
a sentence end) unless it also ends the sentence: the text ends there or the next word starts
with a capital letter and is not the name a title belongs to.
"""

from __future__ import annotations

import re

from .numbers import digits

# Written before a name: "Dr. Smith", "Mrs Okafor".
TITLES: dict[str, str] = {
    "Dr": "Doctor",
    "Mr": "Mister",
    "Mrs": "Misses",
    "Ms": "Miz",
    "Prof": "Professor",
    "Rev": "Reverend",
    "Hon": "Honorable",
    "Gen": "General",
    "Capt": "Captain",
    "Lt": "Lieutenant",
    "Sgt": "Sergeant",
    "Col": "Colonel",
    "Gov": "Governor",
    "Sen": "Senator",
    "Rep": "Representative",
    "Maj": "Major",
    "Mt": "Mount",
    "Ft": "Fort",
    "Pres": "President",
    "Engr": "Engineer",
    "Insp": "Inspector",
    "Supt": "Superintendent",
}
# Written after something, with a period: "John Smith Jr.", "apples, pears, etc."
TRAILING: dict[str, str] = {
    "Jr": "Junior",
    "Sr": "Senior",
    "etc": "et cetera",
    "vs": "versus",
    "Co": "Company",
    "Inc": "Incorporated",
    "Ltd": "Limited",
    "Corp": "Corporation",
    "Ave": "Avenue",
    "Rd": "Road",
    "Blvd": "Boulevard",
    "Dept": "Department",
    "approx": "approximately",
    "Ph.D": "PhD",
    "Mon": "Monday",
    "Tue": "Tuesday",
    "Tues": "Tuesday",
    "Wed": "Wednesday",
    "Thu": "Thursday",
    "Thur": "Thursday",
    "Thurs": "Thursday",
    "Fri": "Friday",
    "Sat": "Saturday",
    "Sun": "Sunday",
}
LATIN: dict[str, str] = {
    "e.g.": "for example",
    "i.e.": "that is",
    "cf.": "compare",
    "viz.": "namely",
}
# Street types written without a period after a capitalised street name: "Laguna Ct".
STREET_TYPES: dict[str, str] = {
    "St": "Street",
    "Ave": "Avenue",
    "Rd": "Road",
    "Blvd": "Boulevard",
    "Ct": "Court",
    "Ln": "Lane",
    "Dr": "Drive",
    "Expy": "Expressway",
    "Hwy": "Highway",
    "hwy": "Highway",
    "Pkwy": "Parkway",
    "Cres": "Crescent",
}
DIRECTIONS = {"N": "North", "S": "South", "E": "East", "W": "West"}

TITLE_RE = re.compile(
    r"(?<![\w.])(" + "|".join(sorted(TITLES, key=len, reverse=True)) + r")(\.?)(?= +[A-Z])"
    r"|(?<![\w.])(" + "|".join(sorted(TITLES, key=len, reverse=True)) + r")\.(?![\w.])"
)
SAINT_STREET_RE = re.compile(r"(?<![\w.])St(\.?)(?![\w])")
TRAILING_RE = re.compile(
    r"(?<![\w.])("
    + "|".join(re.escape(k) for k in sorted(TRAILING, key=len, reverse=True))
    + r")\.(?!\w)",
)
VS_RE = re.compile(r"(?<![\w.])vs(?= )")
LATIN_RE = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(k) for k in LATIN) + r")(,?)", re.IGNORECASE
)
NUMBER_SIGN_RE = re.compile(r"(?<![\w.])(?:No|no|Nos|nos)\.? ?(?=[0-9])|#(?=[0-9])")
STREET_RE = re.compile(
    r"(?<=[a-z] )(" + "|".join(k for k in STREET_TYPES if k != "St") + r")(?![\w.])"
    r"|(?<=[A-Z][a-z] )(" + "|".join(STREET_TYPES) + r")(?![\w.])"
    r"|(?<=[a-z][a-z] )(St)(?![\w.])"
)
DIRECTION_RE = re.compile(r"(?<=[0-9] )([NSEW])(?= [A-Z0-9])")
INITIALISM_RE = re.compile(r"(?<![\w.])((?:[A-Za-z]\.){2,}|(?:[A-Za-z]\.)(?:[A-Za-z](?![\w.])))")


# Nigerian titles and abbreviations (en-NG only: elsewhere "Arc." or "Mal." may be something
# else): "Alh. Musa" -> "Alhaji Musa", "Gen. Musa (rtd)" -> "General Musa (retired)".
NG_TITLES: dict[str, str] = {
    "Alh": "Alhaji",
    "Alhj": "Alhaji",
    "Barr": "Barrister",
    "Arc": "Architect",
    "Pst": "Pastor",
    "Mal": "Mallam",
    "Evang": "Evangelist",
    "Deac": "Deacon",
    "Dcn": "Deacon",
    "Dcns": "Deaconess",
    "Chf": "Chief",
}
NG_TITLE_RE = re.compile(
    r"(?<![\w.])(" + "|".join(sorted(NG_TITLES, key=len, reverse=True)) + r")\.(?= +[A-Z])"
    r"|(?<![\w.])(HRH)(?= +[A-Z])"
    r"|(?<![\w.])(\(?)(rtd|Rtd|RTD)(\.?)(\)?)(?![\w])"
    r"|(?<=[a-z] )(Cl|Cres|Est)(\.?)(?![\w.])"
)
_NG_STREETS = {"Cl": "Close", "Cres": "Crescent", "Est": "Estate"}


def expand_nigerian(match: re.Match[str], locale: str) -> str | None:
    if locale != "en-NG":
        return None
    if match.group(1):
        return NG_TITLES[match.group(1)]
    if match.group(2):
        return "His Royal Highness"
    if match.group(4):
        return f"{match.group(3)}retired{match.group(6)}"
    words = _NG_STREETS[match.group(7)]
    return words + (period(match.string, match.end()) if match.group(8) else "")


# Capitals that are said as a word, not spelled: a TTS voice spells a word in capitals it does
# not know ("P I N"), and a caller hears letters where the agent said a word. Only words that
# callers hear in calls, and that are never spelled out by people.
WORD_ACRONYMS = {"PIN": "pin", "SIM": "sim"}
WORD_ACRONYM_RE = re.compile(rf"(?<![\w.-])({'|'.join(WORD_ACRONYMS)})(s?)(?![\w-])")


def read_word_acronym(match: re.Match[str], _locale: str) -> str:
    return WORD_ACRONYMS[match.group(1)] + match.group(2)


def sentence_ends_after(text: str, end: int) -> bool:
    """Whether a period at `end - 1` may end a sentence: nothing but closing punctuation
    follows, or whitespace and a capital letter."""
    rest = text[end:]
    if not rest.strip(" \t\"')]”\u2019"):
        return True
    return re.match(r"\s+[\"'(“\u2018]?[A-Z]", rest) is not None


def period(text: str, end: int) -> str:
    """ "." when an abbreviation ending at `end` also ends a sentence, else ""."""
    return "." if sentence_ends_after(text, end) else ""


def expand_title(match: re.Match[str], _locale: str) -> str:
    if match.group(1):
        return TITLES[match.group(1)]
    # a title's period is not a sentence end unless the text ends there
    return TITLES[match.group(3)] + ("." if not match.string[match.end() :].strip() else "")


def expand_saint_street(match: re.Match[str], _locale: str) -> str:
    text, start, end = match.string, match.start(), match.end()
    before = text[:start].rstrip()
    after = text[end:]
    prev_word = before.rsplit(None, 1)[-1] if before else ""
    after_name = bool(prev_word) and (prev_word[0].isupper() or prev_word[-1].isdigit())
    before_name = re.match(r" +[A-Z]", after) is not None
    if before_name and not after_name:
        return "Saint"
    if not match.group(1):
        return "Street" if after_name else match.group(0)
    return "Street" + period(text, end)


def expand_trailing(match: re.Match[str], _locale: str) -> str:
    text, end = match.string, match.end()
    return TRAILING[match.group(1)] + period(text, end)


_DAYS = "Mon|Tues|Tue|Wed|Thurs|Thur|Thu|Fri|Sat|Sun"
# "Mon.-Fri." -> "Monday to Friday"
DAY_RANGE_RE = re.compile(rf"(?<![\w.])({_DAYS})\.?\s?[-\u2013]\s?({_DAYS})(\.?)(?![\w])")


def expand_day_range(match: re.Match[str], _locale: str) -> str:
    words = f"{TRAILING[match.group(1)]} to {TRAILING[match.group(2)]}"
    return words + (period(match.string, match.end()) if match.group(3) else "")


def expand_latin(match: re.Match[str], _locale: str) -> str:
    return LATIN[match.group(1).lower()] + ","


def expand_initialism(match: re.Match[str], _locale: str) -> str:
    letters = match.group(1).replace(".", "").upper()
    text, end = match.string, match.end()
    dotted_end = match.group(1).endswith(".")
    return letters + (period(text, end) if dotted_end else "")


# Two or more initials before a name: "C. S. Lewis" -> "CS Lewis" (no periods left to split on).
SPACED_INITIALS_RE = re.compile(r"(?<![\w.])((?:[A-Z]\. ?){2,4})(?=[A-Z][a-z])")


def join_initials(match: re.Match[str], _locale: str) -> str:
    return match.group(1).replace(".", "").replace(" ", "") + " "


US_STATES: dict[str, str] = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "FL": "Florida",
    "GA": "Georgia",
    "ID": "Idaho",
    "IL": "Illinois",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "DC": "D C",
}
# A state code closing an address: "Santa Clara, CA 95051", "Stroudsburg, PA".
STATE_RE = re.compile(
    r"(?<=[a-z], )(" + "|".join(US_STATES) + r")(?:(,? )([0-9]{5})(?:-([0-9]{4}))?)?"
    r"(?=[,.;]|\s*$)"
)


def expand_state(match: re.Match[str], _locale: str) -> str:
    out = US_STATES[match.group(1)]
    if match.group(3):
        out += (match.group(2) or " ") + digits(match.group(3))
        if match.group(4):
            out += " " + digits(match.group(4))
    return out
