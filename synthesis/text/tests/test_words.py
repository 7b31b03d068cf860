"""Each segment knows the input's words it says, as the tenant wrote them, with the spoken
tokens that say them: the basis of word timings and of the text heard at a barge-in."""

from __future__ import annotations

import pytest

from synthesis.text.frontend import prepare
from synthesis.text.words import segment_words


def spoken_by(segment) -> list[tuple[str, str]]:
    tokens = segment.text.split()
    return [(w.text, " ".join(tokens[w.first : w.last])) for w in segment.words]


def test_it_maps_written_words_to_the_words_that_say_them():
    [segment] = prepare(text="Your total is $5 for today.").segments
    assert spoken_by(segment) == [
        ("Your", "Your"),
        ("total", "total"),
        ("is", "is"),
        ("$5", "five dollars"),
        ("for", "for"),
        ("today.", "today."),
    ]


def test_a_sentence_cut_for_first_audio_gives_each_word_to_one_segment():
    text = "Thanks for calling Riverside Dental, how can I help you today?"
    first, second = prepare(text=text).segments
    assert [w.text for w in first.words] == ["Thanks", "for", "calling", "Riverside", "Dental,"]
    assert [w.text for w in second.words] == ["how", "can", "I", "help", "you", "today?"]


@pytest.mark.parametrize(
    "text",
    [
        "Pay $1,005 and more now, and then 2 more.",
        "Call 555-1234 & ask Dr. Okafor -- he knows.",
        "On 12/03/2025 at 3:45pm we got 50% off; it's 24/7. Then 1 2 3 4 5 6 7 8 9.",
        "Hello!!! Is it   you? Yes... it is. " * 20,
    ],
)
def test_every_written_word_lands_once_in_order_within_its_segments_tokens(text):
    plan = prepare(text=text)
    words = [w for segment in plan.segments for w in segment.words]
    assert [w.text for w in words] == text.split()
    for segment in plan.segments:
        tokens = len(segment.text.split())
        last = 0
        for word in segment.words:
            assert last <= word.first <= word.last <= tokens
            last = word.last


def test_a_short_word_that_normalization_repeats_does_not_pull_the_words_out_of_step():
    [segment] = prepare(text="Pay $1,005 and more now.").segments
    assert dict(spoken_by(segment))["$1,005"] == "one thousand and five dollars"
    assert dict(spoken_by(segment))["more"] == "more"


def test_ssml_words_are_the_documents_text_and_a_sub_says_its_alias():
    ssml = (
        '<speak>Dial <say-as interpret-as="characters">ABC</say-as> on the '
        '<sub alias="World Wide Web">WWW</sub>.</speak>'
    )
    words = [w for s in prepare(ssml=ssml).segments for w in spoken_by(s)]
    assert words[:2] == [("Dial", "Dial"), ("ABC", "A B C")]
    assert [text for text, _spoken in words][4:7] == ["World", "Wide", "Web"]


def test_spoken_tokens_no_word_matches_go_with_the_word_before_or_the_first():
    [words] = segment_words(["Call me."], ["Please call me."])
    assert [(w.text, w.first, w.last) for w in words] == [("Call", 0, 2), ("me.", 2, 3)]
    [words] = segment_words(["Go -- now"], ["Go now"])
    assert [(w.text, w.first, w.last) for w in words] == [("Go", 0, 1), ("--", 1, 1), ("now", 1, 2)]


def words_of(written: str, spoken: str) -> list[tuple[str, str]]:
    [words] = segment_words([written], [spoken])
    tokens = spoken.split()
    return [(w.text, " ".join(tokens[w.first : w.last])) for w in words]


def test_a_word_found_once_on_each_side_pairs_up_inside_a_rewritten_stretch():
    spoken = "Call zero two zero, seven nine four six or plus two three four, eight zero three now."
    assert words_of("Call 020 7946 or +234 803 now.", spoken) == [
        ("Call", "Call"),
        ("020", "zero two zero,"),
        ("7946", "seven nine four six"),
        ("or", "or"),
        ("+234", "plus two three four,"),
        ("803", "eight zero three"),
        ("now.", "now."),
    ]


def test_clause_ends_on_both_sides_pair_up_in_order():
    spoken = "Open twenty four seven, nine to five Monday to Friday."
    pairs = words_of("Open 24/7, 9-5 Mon-Fri.", spoken)
    assert pairs[1] == ("24/7,", "twenty four seven,")
