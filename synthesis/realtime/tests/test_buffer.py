"""TextBuffer: an LLM's token stream into speakable units, early first clause, nothing lost."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthesis.realtime.buffer import TextBuffer


def stream(buffer: TextBuffer, tokens: list[str]) -> list[tuple[int, str]]:
    """Feeds `tokens` and flushes; each unit with the index of the token that completed it
    (len(tokens) for the flush)."""
    out = [(i, unit) for i, token in enumerate(tokens) for unit in buffer.add(token)]
    out.extend((len(tokens), unit) for unit in buffer.flush())
    return out


def llm_tokens(text: str) -> list[str]:
    """Pieces the way LLM tokenizers cut text: a leading space with up to four characters,
    so words, numbers and punctuation are split."""
    return re.findall(r"\s*\S{1,4}|\s+", text)


# Tokens as an LLM streams them: splits inside words, "$2," + "500", "3." + "5", "Dr" + ".".
TOKENS = [
    "Thanks", " for", " call", "ing", " River", "side", " Dental", ",", " this", " is", " Ada",
    ".", " Dr", ".", " Ok", "afor", " has", " an", " opening", " Tuesday", " for", " $2", ",",
    "500", ",", " about", " 3", ".", "5", " hours", ".", " Would", " that", " work", "?",
    " Great", "…", "\n", "\n", "I", "'ll", " book", " it", ".",
]  # fmt: skip


def test_a_token_stream_yields_its_units_as_soon_as_they_are_complete():
    got = stream(TextBuffer(), TOKENS)
    assert got == [
        (TOKENS.index(" this"), "Thanks for calling Riverside Dental,"),
        (TOKENS.index(" Dr"), "this is Ada."),
        (TOKENS.index(" Would"), "Dr. Okafor has an opening Tuesday for $2,500, about 3.5 hours."),
        (TOKENS.index(" Great"), "Would that work?"),
        (TOKENS.index("\n"), "Great…"),
        (len(TOKENS), "I'll book it."),
    ]
    assert " ".join(unit for _i, unit in got).split() == "".join(TOKENS).split()


def test_the_same_text_in_llm_sized_tokens_gives_the_same_units():
    text = "".join(TOKENS)
    tokens = llm_tokens(text)
    assert "".join(tokens) == text
    assert [u for _i, u in stream(TextBuffer(), tokens)] == [
        u for _i, u in stream(TextBuffer(), TOKENS)
    ]


def test_the_first_clause_comes_before_the_sentence_ends():
    buffer = TextBuffer()
    assert buffer.add("Thanks for calling Riverside Dental,") == []  # no space after it yet
    assert buffer.add(" how") == ["Thanks for calling Riverside Dental,"]
    assert buffer.emitted_any
    assert buffer.pending == "how"
    # Only the first unit is a clause: later ones wait for the sentence.
    assert buffer.add(" can I help you, today, or tomorrow,") == []
    assert buffer.add(" then? ") == ["how can I help you, today, or tomorrow, then?"]


@pytest.mark.parametrize("mark", [",", ";", ":", "\u2014"])
def test_every_clause_break_counts_for_the_first_unit(mark):
    buffer = TextBuffer()
    assert buffer.add(f"We can do that{mark} ") == [f"We can do that{mark}"]


def test_a_first_clause_needs_a_few_words():
    buffer = TextBuffer()
    assert buffer.add("So, ") == []
    assert buffer.add("yes, of course, ") == ["So, yes, of course,"]
    one_word = TextBuffer(first_clause_words=1)
    assert one_word.add("So, yes") == ["So,"]


def test_a_comma_inside_a_number_is_no_clause_break():
    buffer = TextBuffer(first_clause_words=1)
    assert buffer.add("It costs $2,") == []
    assert buffer.add("500") == []
    assert buffer.add(" a month") == []
    assert buffer.pending == "It costs $2,500 a month"
    assert buffer.add(",") == []
    assert buffer.add(" paid yearly.") == ["It costs $2,500 a month,"]


def test_an_abbreviation_does_not_end_a_sentence():
    buffer = TextBuffer()
    assert buffer.add("Please see Dr.") == []
    assert buffer.add(" Okafor") == []
    assert buffer.add(" and J. R. Smith on Tuesday.") == []
    assert buffer.add(" Bring") == ["Please see Dr. Okafor and J. R. Smith on Tuesday."]


def test_a_decimal_split_after_its_point_does_not_cut():
    buffer = TextBuffer()
    assert buffer.add("It takes 3.") == []
    assert buffer.add("5") == []
    assert buffer.add(" hours.") == []
    assert buffer.add(" Then") == ["It takes 3.5 hours."]
    assert buffer.flush() == ["Then"]


def test_a_period_waits_for_the_next_sentence_to_start():
    buffer = TextBuffer()
    assert buffer.add("Hello there.") == []
    assert buffer.add(" ") == []
    assert buffer.add("how") == []  # lower case: not a sentence end
    assert buffer.add(" are you. Fine") == ["Hello there. how are you."]
    assert buffer.pending == "Fine"


@pytest.mark.parametrize("mark", ["!", "?", "\u2026", "?!", '!"'])
def test_exclamation_question_and_ellipsis_end_a_unit_at_the_next_whitespace(mark):
    buffer = TextBuffer()
    assert buffer.add(f"Oh no{mark}") == []
    assert buffer.add(" ") == [f"Oh no{mark}"]
    assert buffer.pending == ""


def test_a_blank_line_ends_a_unit_at_once():
    buffer = TextBuffer()
    assert buffer.add("A heading\n") == []
    assert buffer.add("\n") == ["A heading"]
    assert buffer.add("more text \n \nand") == ["more text"]
    assert buffer.pending == "and"


def test_token_edges_keep_their_whitespace():
    buffer = TextBuffer()
    for token in ["Hel", "lo", " there", ",", " my", " fri", "end"]:
        assert buffer.add(token) == []
    assert buffer.pending == "Hello there, my friend"
    assert buffer.flush() == ["Hello there, my friend"]


def test_flush_empties_the_buffer():
    buffer = TextBuffer()
    assert buffer.flush() == []
    assert buffer.add("   ") == []
    assert buffer.flush() == []
    assert not buffer.emitted_any
    buffer.add(" Hi there ")
    assert buffer.flush() == ["Hi there"]
    assert buffer.pending == ""
    assert buffer.emitted_any
    assert buffer.flush() == []


def test_after_a_flush_the_first_clause_rule_is_over():
    buffer = TextBuffer()
    buffer.add("Hi")
    assert buffer.flush() == ["Hi"]
    assert buffer.add("thanks for calling us, how ") == []


def test_long_text_without_punctuation_is_cut_at_the_last_space_within_the_limit():
    buffer = TextBuffer(max_chars=50)
    text = " ".join(f"word{i}" for i in range(60))
    units = [u for piece in llm_tokens(text) for u in buffer.add(piece)]
    assert units  # cut while streaming, not only at the end
    assert all(len(u) <= 50 for u in [*units, buffer.pending])
    assert all(len(u) > 40 for u in units)  # cut late, at the last space
    units += buffer.flush()
    assert " ".join(units).split() == text.split()


def test_a_long_sentence_is_cut_at_its_last_clause_break_within_the_limit():
    buffer = TextBuffer(max_chars=60)
    buffer.add("One")
    assert buffer.flush() == ["One"]
    text = "we have openings on Monday, Tuesday and Wednesday, and also on Friday afternoon"
    assert buffer.add(text) == ["we have openings on Monday, Tuesday and Wednesday,"]
    assert buffer.pending == "and also on Friday afternoon"


def test_an_early_clause_break_is_not_a_long_cut():
    buffer = TextBuffer(max_chars=40, first_clause_words=5)
    units = buffer.add("So, " + "blah " * 12)
    assert units == ["So, blah blah blah blah blah blah blah"]


def test_a_word_longer_than_the_limit_is_cut_hard():
    buffer = TextBuffer(max_chars=50)
    assert buffer.add("x" * 120) == ["x" * 50, "x" * 50]
    assert buffer.pending == "x" * 20


def test_a_sentence_end_beyond_the_limit_is_cut_first():
    buffer = TextBuffer(max_chars=30)
    units = buffer.add("a " * 40 + "end. Next")
    assert all(len(u) <= 30 for u in units)
    assert units[-1].endswith("end.")
    assert buffer.pending == "Next"


def test_trailing_whitespace_does_not_force_a_long_cut():
    buffer = TextBuffer(max_chars=20)
    assert buffer.add("Short sentence here." + " " * 30) == []
    assert buffer.add("Next") == ["Short sentence here."]


def test_a_whole_paragraph_in_one_message():
    sentence = "Dr. Okafor saw Mr. J. Smith at 3.5 past noon, for $2,500 in all. "
    buffer = TextBuffer()
    units = buffer.add(sentence * 80) + buffer.flush()
    assert units[:2] == ["Dr. Okafor saw Mr. J. Smith at 3.5 past noon,", "for $2,500 in all."]
    assert units[2:] == [sentence.strip()] * 79


def test_limits_are_validated():
    with pytest.raises(ValueError, match="max_chars"):
        TextBuffer(max_chars=0)


# Properties ------------------------------------------------------------------------------

WORD_CHARS = "abcxyzABCDJ0123459.,;:!?\u2026\u2014$'\")("
SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", " \n \n", "\t"])


@st.composite
def split_texts(draw, max_word: int):
    words = draw(st.lists(st.text(WORD_CHARS, min_size=1, max_size=max_word), max_size=60))
    text = "".join(w + draw(SEPARATORS) for w in words)
    if draw(st.booleans()):
        text = draw(SEPARATORS) + text
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=40)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    return text, pieces


def run(buffer: TextBuffer, pieces: list[str]) -> list[str]:
    units: list[str] = []
    for piece in pieces:
        units += buffer.add(piece)
        assert len(buffer.pending.rstrip()) <= buffer.max_chars
    return units + buffer.flush()


@settings(max_examples=300, deadline=None)
@given(
    split_texts(max_word=12),
    st.integers(min_value=12, max_value=90),
    st.integers(min_value=1, max_value=5),
)
def test_units_keep_every_word_in_order(case, max_chars, first_clause_words):
    text, pieces = case
    units = run(TextBuffer(max_chars=max_chars, first_clause_words=first_clause_words), pieces)
    assert " ".join(units).split() == text.split()
    for unit in units:
        assert unit == unit.strip()
        assert unit
        assert len(unit) <= max_chars


@settings(max_examples=300, deadline=None)
@given(st.text(), st.lists(st.integers(min_value=0), max_size=30), st.integers(1, 60))
def test_any_text_keeps_every_character_and_the_limit(text, cuts, max_chars):
    """Any text at all (a word may be longer than the limit: then it alone is cut hard)."""
    cuts = sorted(c % (len(text) + 1) for c in cuts)
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    units = run(TextBuffer(max_chars=max_chars), pieces)
    assert "".join("".join(units).split()) == "".join(text.split())
    assert all(u and u == u.strip() and len(u) <= max_chars for u in units)
    if all(len(w) <= max_chars for w in text.split()):
        assert " ".join(units).split() == text.split()
