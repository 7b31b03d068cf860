"""The stand-in text front-end: pure, no database."""

from __future__ import annotations

import pytest

from synthesis.text.split import FIRST_SEGMENT_CHARS, MAX_SEGMENT_CHARS, split_text


@pytest.mark.parametrize(
    "text",
    [
        "Hello there. How are you? Fine!",
        "  leading and trailing  ",
        "One sentence without an end",
        ("word " * 30 + ", ") * 4 + "end.",
        "A first sentence that is long, with a comma early on so the first piece can be short. "
        "Then more.",
        "Para one.\n\n\nPara two.",
    ],
)
def test_pieces_account_for_every_input_character_and_are_never_blank(text):
    pieces = split_text(text)
    assert sum(p.chars for p in pieces) == len(text)
    assert all(p.text.strip() == p.text and p.text for p in pieces)
    assert all(len(p.text) <= MAX_SEGMENT_CHARS for p in pieces)


def test_the_first_piece_is_short_when_a_comma_allows():
    text = (
        "Thank you for calling Riverside Dental, this is the automated assistant speaking "
        "to you today. Bye."
    )
    first = split_text(text)[0]
    assert len(first.text) <= FIRST_SEGMENT_CHARS
    assert first.text == "Thank you for calling Riverside Dental,"


def test_whitespace_only_text_has_no_pieces():
    assert split_text(" \n\t ") == []
