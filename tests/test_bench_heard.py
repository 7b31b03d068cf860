"""The bench's `heard` scorer on real audio: joe reading a code digit by digit and as a cardinal,
written down by pocketsphinx. A recogniser that writes digits could not tell these apart; the
scorer must, or the section's "after is better than before" says nothing."""

from __future__ import annotations

import pytest

from bench.heard import CASES, Listener, error_rate, speak_after, speak_segments, words
from synthesis.text.frontend import prepare

DIGITS = "your verification code is four eight two nine one three"
CARDINAL = "your verification code is four hundred eighty two thousand nine hundred and thirteen"


@pytest.fixture(scope="module")
def listener() -> Listener:
    return Listener()


@pytest.fixture(scope="module")
def code_audio() -> dict[str, bytes]:
    return {
        "digits": speak_after("Your verification code is 482913.", "en-US"),
        "cardinal": speak_segments(f"{CARDINAL.capitalize()}."),
    }


def test_it_hears_which_reading_of_a_code_joe_spoke(
    listener: Listener, code_audio: dict[str, bytes]
) -> None:
    assert listener.choose(code_audio["digits"], (DIGITS, CARDINAL)) == 0
    assert listener.choose(code_audio["cardinal"], (DIGITS, CARDINAL)) == 1


def test_its_word_error_rate_is_lower_against_the_reading_spoken(
    listener: Listener, code_audio: dict[str, bytes]
) -> None:
    heard_digits = listener.hear(code_audio["digits"])
    heard_cardinal = listener.hear(code_audio["cardinal"])
    assert error_rate(heard_digits, DIGITS) < error_rate(heard_digits, CARDINAL)
    assert error_rate(heard_cardinal, CARDINAL) < error_rate(heard_cardinal, DIGITS)


def test_it_scores_digits_as_no_spoken_form() -> None:
    """A transcript in digits matches neither reading: it cannot make them look alike."""
    assert words("Your code is 482913.") == ["your", "code", "is", "482913"]
    assert error_rate("your verification code is 482913", DIGITS) == 6 / 10
    assert error_rate("your verification code is 482913", CARDINAL) == 9 / 13


def test_it_spells_letter_names_and_drops_the_recognisers_marks() -> None:
    assert words("Six forty-five PM <sil> [NOISE] five(2)") == [
        "six", "forty", "five", "p", "m", "five",
    ]  # fmt: skip


def test_every_reference_is_what_the_front_end_says_and_the_old_reading_what_it_said() -> None:
    """The hand-written references agree with today's front-end word for word, and each case's
    other reading with the old front-end's segments kept beside it."""
    for case in CASES:
        today = " ".join(s.text for s in prepare(text=case.text, locale=case.locale).segments)
        assert words(today) == words(case.reference), case.text
        assert words(case.before) == words(case.other or case.reference), case.text


def test_every_word_of_every_candidate_is_in_the_recognisers_dictionary(
    listener: Listener,
) -> None:
    missing = listener.missing_words(
        [case.reference for case in CASES] + [c.other for c in CASES if c.other]
    )
    assert missing == []
