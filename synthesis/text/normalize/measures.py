"""Measures: a number with a unit (12kg, 3.5 cm², 2°C, 60 mph, 10%), per-units (12kg/kg)."""

from __future__ import annotations

import re

from .numbers import decimal, fraction, number

# unit -> (singular, plural), US spelling; en-GB and en-NG get "metre"/"litre".
UNITS: dict[str, tuple[str, str]] = {
    "mm": ("millimeter", "millimeters"),
    "cm": ("centimeter", "centimeters"),
    "m": ("meter", "meters"),
    "km": ("kilometer", "kilometers"),
    "μm": ("micrometer", "micrometers"),
    "um": ("micrometer", "micrometers"),
    "nm": ("nanometer", "nanometers"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "mi": ("mile", "miles"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "kg": ("kilogram", "kilograms"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "cl": ("centiliter", "centiliters"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "gal": ("gallon", "gallons"),
    "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "kmh": ("kilometer per hour", "kilometers per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "m/s": ("meter per second", "meters per second"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "%": ("percent", "percent"),
    "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "kb": ("kilobit", "kilobits"),
    "Mb": ("megabit", "megabits"),
    "Gb": ("gigabit", "gigabits"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "mbps": ("megabit per second", "megabits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "ha": ("hectare", "hectares"),
}
_POWERS = {"²": "square", "2": "square", "³": "cubic", "3": "cubic"}
# Units also recognised in any case (unambiguous ones).
_CASELESS = {k.lower(): k for k in ("kg", "km", "cm", "mm", "lbs", "mph", "kph", "kbps", "mbps")}

NUMBER = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+"
_UNIT_PATTERN = r"(?:[°º]\s?[CF](?![\w])|[°º%]|km/h|m/s|[A-Za-zμ]+[²³23]?(?![\w]))"
MEASURE_RE = re.compile(
    rf"(?<![\w.,])(-)?((?:[0-9]+ [0-9]+/[0-9]+)|{NUMBER})"
    rf"(?:\s?(thousand|million|billion|trillion))?\s?({_UNIT_PATTERN})(?:/({_UNIT_PATTERN}))?"
)
PER_ONLY_RE = re.compile(rf"(?<![\w.,/])({NUMBER})/({_UNIT_PATTERN})")


def unit_words(token: str, locale: str) -> tuple[str, str] | None:
    """(singular, plural) for a written unit, or None when it is not one."""
    token = token.replace("º", "°").replace("° ", "°")
    found = UNITS.get(token) or UNITS.get(_CASELESS.get(token.lower(), ""))
    if found is None and token and token[-1] in _POWERS and len(token) > 1:
        base = UNITS.get(token[:-1])
        if base is not None and base[0].endswith("meter"):
            power = _POWERS[token[-1]]
            found = (f"{power} {base[0]}", f"{power} {base[1]}")
    if found is None:
        return None
    if locale != "en-US":
        found = (_british(found[0]), _british(found[1]))
    return found


def _british(words: str) -> str:
    return words.replace("meter", "metre").replace("liter", "litre")


def read_quantity(text: str, *, use_and: bool = True) -> str:
    """The number part of a measure: "4 1/2" -> "four and a half", "2.50" -> "two point five
    zero", "1,000" -> "one thousand"."""
    if " " in text:
        whole, frac = text.split(" ", 1)
        num, den = frac.split("/")
        return f"{number(whole)} and {fraction(int(num), int(den), mixed=True)}"
    if "." in text:
        return decimal(text, use_and=use_and)
    return number(text, use_and=use_and)


def read_measure(match: re.Match[str], locale: str) -> str | None:
    sign, amount, scale, unit, per = match.groups()
    words = unit_words(unit, locale)
    per_words = unit_words(per, locale) if per else None
    if words is None or (per and per_words is None):
        if per and unit.isalpha() and per.isalpha() and len(unit) <= 3 and len(per) <= 3:
            # an unknown rate unit ("3 cc/s"): the slash still reads "per"
            return f"{read_quantity(amount)} {unit} per {per}"
        return None
    if len(amount.replace(",", "").split(".")[0]) > 15:
        return None
    singular = amount == "1" and not scale
    out = read_quantity(amount, use_and=not scale)
    if scale:
        out += f" {scale}"
    out += " " + (words[0] if singular else words[1])
    if per_words:
        out += f" per {per_words[0]}"
    return ("minus " if sign else "") + out


def read_per_only(match: re.Match[str], locale: str) -> str | None:
    amount, unit = match.groups()
    words = unit_words(unit, locale)
    if words is None:
        if unit.isalpha() and len(unit) <= 3:
            return f"{read_quantity(amount)} per {unit}"
        return None
    return f"{read_quantity(amount)} per {words[0]}"


# Inches after a number: 12" -> "twelve inches" (unless the quote closes a quotation).
INCH_RE = re.compile(r"(?<![\w.])([0-9]+(?:\.[0-9]+)?)\"")


def read_inches(match: re.Match[str], _locale: str) -> str | None:
    if match.string.count('"', 0, match.start()) % 2:
        return None  # a closing quote, not inches
    amount = match.group(1)
    return f"{read_quantity(amount)} inch" + ("" if amount == "1" else "es")


# Dimensions: "3x4" -> "three by four" (a multiplication sign has been read "times" already).
BY_RE = re.compile(r"(?<=[0-9]) ?[x\u00d7] ?(?=[0-9.])")
