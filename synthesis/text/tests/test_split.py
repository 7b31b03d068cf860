"""Splitting: sentences, clauses, the short first piece, atomic units, billed shares."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthesis.text import split
from synthesis.text.split import (
    FIRST_CUT_ABOVE,
    Unit,
    _starts_sentence,
    sentence_ends,
    split_text,
    split_units,
    words,
)


def texts(pieces):
    return [p.text for p in pieces]


def test_sentences_are_pieces():
    assert texts(split_text("Hello there. How are you? Fine!")) == [
        "Hello there.",
        "How are you?",
        "Fine!",
    ]


def test_a_period_after_an_abbreviation_or_initial_ends_nothing():
    text = "Dr. Okafor and J. R. Tolkien met Mr. Smith at St. Mary's, e.g. today. Next one."
    assert texts(split_text(text, max_chars=200))[-1] == "Next one."
    assert sentence_ends(text) == [text.index(" Next")]


def test_a_period_before_a_lower_case_word_ends_nothing():
    assert sentence_ends("It costs approx. five naira. Good.") == [
        len("It costs approx. five naira.")
    ]


def test_the_first_sentence_is_cut_at_its_first_clause():
    pieces = split_text("Thanks for calling Riverside Dental, how can I help you?")
    assert texts(pieces) == ["Thanks for calling Riverside Dental,", "how can I help you?"]


def test_only_the_first_sentence_is_cut_short():
    text = "Hi. Thanks for calling Riverside Dental, how can I help you?"
    assert texts(split_text(text)) == [
        "Hi.",
        "Thanks for calling Riverside Dental, how can I help you?",
    ]
    pieces = split_units([Unit(text, len(text))], first=False)
    assert texts(pieces) == ["Hi.", "Thanks for calling Riverside Dental, how can I help you?"]


def test_a_short_first_sentence_is_left_whole():
    short = "Yes, of course."
    assert len(short) <= FIRST_CUT_ABOVE
    assert texts(split_text(short)) == [short]


def test_long_sentences_are_cut_at_clauses_then_spaces_under_the_limit():
    clauses = ", ".join(["and then the caller asked about the bill again"] * 8) + "."
    pieces = split_text(clauses, max_chars=120)
    assert all(len(p) <= 120 for p in texts(pieces))
    assert all(p.endswith((",", ".")) for p in texts(pieces))
    no_commas = " ".join(["word"] * 100) + "."
    pieces = split_text(no_commas, max_chars=50)
    assert all(len(p) <= 50 for p in texts(pieces))
    assert words(texts(pieces)) == no_commas.split()


def test_an_atomic_unit_is_never_cut():
    phone = "zero eight zero three, one two three, four five six seven"
    units = [
        Unit("Call ", 5),
        Unit(phone, 13, atomic=True, source="0803 123 4567"),
        Unit(" now, please, then wait for the next available agent to answer.", 62),
    ]
    pieces = split_units(units, first=True, max_chars=80)
    assert any(phone in p.text for p in pieces)
    assert pieces[0].text.startswith(
        "Call zero eight zero three, one two three, four five six seven"
    )


def test_an_atomic_unit_longer_than_the_limit_is_cut_at_its_spaces():
    long = " ".join(["nine"] * 80)
    pieces = split_units([Unit(long, 80, atomic=True)], max_chars=100)
    assert all(len(p.text) <= 100 for p in pieces)
    assert words(texts(pieces)) == long.split()


def test_pieces_bill_every_character_once():
    units = [Unit("One two three. ", 10), Unit("Four, five six seven eight nine ten.", 40)]
    pieces = split_units(units, first=True)
    assert sum(p.chars for p in pieces) == 50
    assert all(p.chars > 0 for p in pieces)


def test_units_join_with_a_space_only_between_words():
    pieces = split_units([Unit("the", 3), Unit("fifth", 1, atomic=True), Unit(".", 1)])
    assert texts(pieces) == ["the fifth."]


def test_pieces_know_their_source():
    units = [
        Unit("Doctor Okafor is in.", 13, source="Dr. Okafor is in."),
        Unit(" Bye.", 5, source=" Bye."),
    ]
    pieces = split_units(units)
    assert [p.source for p in pieces] == ["Dr. Okafor is in.", "Bye."]


def test_whitespace_only_text_has_no_pieces():
    assert split_text(" \n\t ") == []


_word = st.text(alphabet=st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=12)
_text = st.lists(
    st.tuples(_word, st.sampled_from([" ", "  ", "\n", ", ", ". ", "! ", "\n\n", " - "])),
    max_size=120,
).map(lambda pairs: "".join(w + sep for w, sep in pairs))


@settings(max_examples=300, deadline=None)
@given(_text, st.integers(min_value=20, max_value=250))
def test_splitting_keeps_every_word_in_order_under_the_limit(text, limit):
    pieces = split_text(text, max_chars=limit)
    assert words(texts(pieces)) == text.split()
    assert all(p.text and p.text == p.text.strip() for p in pieces)
    assert sum(p.chars for p in pieces) == len(text)
    assert all(len(p.text) <= limit for p in pieces)


def _squeezed(text):
    return "".join(text.split())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_text, st.booleans(), st.integers(0, 50)), max_size=8))
def test_units_keep_every_word_and_every_billed_character(parts):
    units = [Unit(text, chars, atomic) for text, atomic, chars in parts]
    pieces = split_units(units, first=True, max_chars=120)
    # Every character, in order (units written against each other stay joined).
    assert _squeezed("".join(texts(pieces))) == _squeezed("".join(u.text for u in units))
    if pieces:
        assert sum(p.chars for p in pieces) == sum(u.chars for u in units)


# -- splitting is linear in the input ---------------------------------------------------------

# Today's sentence ends, as first written (quadratic: the abbreviation pattern searched the whole
# text before every candidate end, and a run of `!` was retried from each of its characters):
# the reference the linear splitter must agree with.
_OLD_SENTENCE_END = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019)\]\u00bb]*(?=\s+[\"'\u201c\u2018(\[\u00ab\u201e\u00bf\u00a1]?(\w))"
)
_OLD_HARD_END = re.compile(
    r"[!?\u2026\u061f\u06d4\u0964\u0965]+[\"'\u201d\u2019)\]]*(?=\s)|\n\s*\n"
)
_OLD_WIDE_END = re.compile(
    "[\u3002\uff01\uff1f\uff61]+[\"'\u201d\u2019)\\]\u300d\u300f\uff09\u3011\u3015\u3009\u300b]*"
)


def _old_sentence_ends(text):
    cuts = set()
    for match in _OLD_SENTENCE_END.finditer(text):
        if not _starts_sentence(match.group(1)):
            continue
        if split._NOT_AN_END.search(text[: match.start() + 1]) and text[match.start()] == ".":
            continue
        cuts.add(match.end())
    cuts.update(match.end() for match in _OLD_HARD_END.finditer(text))
    cuts.update(match.end() for match in _OLD_WIDE_END.finditer(text))
    return sorted(c for c in cuts if 0 < c < len(text))


_TRICKY = [
    "Dr. Okafor and J. R. Tolkien met Mr. Smith at St. Mary's, e.g. today. Next one.",
    'It costs approx. five naira. Good. Really?! Yes!!! "Fine." (Done.) OK… Then.',
    "Wait... What?  \u00bfQu\u00e9? \u00abNon.\u00bb Vol. 3 and Fig. 2. No. 5 is e.g. Co. "
    "Ltd. Fine.",
    "\u4f60\u597d\u3002\u6211\u5f88\u597d\uff01\u771f\u7684\u5417\uff1f\u662f\u3002 "
    "\u0915\u094d\u092f\u093e \u0939\u0948\u0964 \u0939\u093e\u0901\u0965 Next.\n\nPara two.",
    "a.b. C. x!y! Z? " + "!" * 40 + " A" + "." * 40 + "\n \n" + "?" * 5,
]
_token = st.sampled_from(
    [
        "Mr", "Dr", "e.g", "i.e", "Sept", "approx", "J", "word", "Word", "5", "\u4f60",
        ".", "..", "!", "?", "\u2026", "\"", "'", "\u201d", ")", "(", "\u00ab", "\u00bb",
        " ", "  ", "\n", "\n\n", "\t", "\u3002", "\uff01", "\u0964", ",", "\u00bf",
    ]
)  # fmt: skip


@pytest.mark.parametrize("text", _TRICKY)
def test_sentence_ends_are_todays(text):
    assert sentence_ends(text) == _old_sentence_ends(text)
    assert sentence_ends(text * 2) == _old_sentence_ends(text * 2)


@settings(max_examples=400, deadline=None)
@given(st.lists(_token, max_size=60).map("".join))
def test_sentence_ends_are_todays_for_any_mix_of_abbreviations_and_punctuation(text):
    assert sentence_ends(text) == _old_sentence_ends(text)


class _Counting:
    """A compiled pattern that counts the characters each `search` is given to look at."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.scanned = 0

    def search(self, string, pos=0, endpos=None):
        end = len(string) if endpos is None else min(endpos, len(string))
        self.scanned += end - pos
        return self.pattern.search(string, pos, end)


@pytest.mark.parametrize("repeat", [100, 800])
def test_abbreviations_are_looked_for_in_a_bounded_window_before_each_end(monkeypatch, repeat):
    counting = _Counting(split._NOT_AN_END)
    monkeypatch.setattr(split, "_NOT_AN_END", counting)
    text = "Mr. Smith went home. He came back at St. Mary's. " * repeat  # 20 K at 400
    cuts = split_text(text, max_chars=200)
    assert len(cuts) >= 2 * repeat
    assert 0 < counting.scanned <= 16 * len(text)


def test_a_run_of_end_marks_is_matched_from_its_first_character_only():
    # A match never starts inside a run, so a long run with no end after it is scanned once
    # from its start, not again from each of its characters (which made it quadratic).
    for pattern, mark in ((split._SENTENCE_END, "."), (split._HARD_END, "!")):
        text = mark * 6 + " Next"
        assert pattern.match(text, 0) is not None
        assert all(pattern.match(text, i) is None for i in range(1, 6))


def test_the_first_clause_is_not_cut_between_the_groups_of_a_spoken_code():
    text = "Your verification code is four eight two, nine one three. It expires soon."
    assert texts(split_text(text)) == [
        "Your verification code is four eight two, nine one three.",
        "It expires soon.",
    ]


def test_the_first_clause_may_still_end_after_spoken_digits_before_a_word():
    text = "Please call zero eight zero three, then wait for the tone and speak after it."
    assert texts(split_text(text))[0] == "Please call zero eight zero three,"


@pytest.mark.parametrize(
    "text",
    [
        "Pay into account no. 0123456789 today.",
        "Quote ref. 552031 when you call.",
        "Alh. Musa and Barr. Okafor will call.",
        "Tel. 0803 123 4567 is open.",
    ],
)
def test_a_period_after_a_number_abbreviation_or_a_nigerian_title_ends_nothing(text):
    assert sentence_ends(text) == []


def test_a_lower_case_no_after_any_other_word_may_still_end_a_sentence():
    assert sentence_ends("I said no. 5 people came.") == [len("I said no.")]
