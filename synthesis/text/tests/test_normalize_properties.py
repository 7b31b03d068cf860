"""Property-based tests: the normalizer never raises and never leaves digits or misread symbols."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthesis.text.normalize import DATE_FORMATS, MISREAD_SYMBOLS, SAY_AS_TYPES, normalize, say_as

# English locales (other languages are left as written); en-AU reads like en-US.
LOCALES = st.sampled_from(["en-US", "en-GB", "en-NG", "en-AU"])
# Text rich in what the normalizer reads: digits, separators, currency and other symbols.
TRICKY = st.lists(
    st.sampled_from(
        [
            *list("0123456789 .,:;-/+()$€£₦¥%&@#=*^~|\\_<>'\"`°aAmMpPkKsStThHxXIVNDr¾½"),
            "st",
            "nd",
            "km",
            "kg",
            "am",
            "pm",
            "Dr.",
            "St.",
            "Mar ",
            "NGN",
            "US$",
            "www.",
        ]
    ),
    max_size=40,
).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=80), TRICKY)
_MISREAD = re.compile("[" + re.escape("".join(sorted(MISREAD_SYMBOLS))) + "]")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(text=ANY_TEXT, locale=LOCALES)
def test_normalize_never_raises_and_leaves_no_digit_or_symbol(text, locale):
    out = normalize(text, locale)
    assert isinstance(out, str)
    assert not re.search(r"[0-9]", out), out
    assert not _MISREAD.search(out), out


@SETTINGS
@given(text=ANY_TEXT, kind=st.sampled_from(sorted(SAY_AS_TYPES)), locale=LOCALES)
def test_say_as_never_raises_for_valid_types(text, kind, locale):
    out = say_as(text, kind, locale=locale)
    assert isinstance(out, str)
    assert not re.search(r"[0-9]", out), out


@SETTINGS
@given(text=ANY_TEXT, fmt=st.sampled_from(sorted(DATE_FORMATS)), locale=LOCALES)
def test_say_as_date_never_raises_for_valid_formats(text, fmt, locale):
    assert isinstance(say_as(text, "date", format=fmt, locale=locale), str)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=-(10**30), max_value=10**30))
def test_every_integer_is_read(n):
    out = normalize(f"{n:,}")
    assert out
    assert not re.search(r"[0-9]", out)
