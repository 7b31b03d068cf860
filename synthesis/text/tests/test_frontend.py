"""The front-end pipeline: text or SSML → the plan an engine is given. Pure, no database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthesis.text.frontend import BLEEP, prepare
from synthesis.text.model import Prosody, locale_for
from synthesis.text.ssml import SsmlError


def texts(plan):
    return [s.text for s in plan.segments]


def test_plain_text_is_normalized_split_and_billed_as_written():
    text = "Dr. Okafor will call you at 3:30pm on 3/4/2025. Please hold."
    plan = prepare(text=text, locale="en-GB")
    assert texts(plan)[0].startswith("Doctor Okafor will call you at three thirty")
    assert "the third of April" in " ".join(texts(plan))
    assert texts(plan)[-1] == "Please hold."
    assert plan.characters == len(text)
    assert sum(s.chars for s in plan.segments) == len(text)
    assert {s.language for s in plan.segments} == {"en-GB"}
    assert plan.segments[-1].source == "Please hold."


def test_locale_chooses_how_dates_are_read():
    assert "March fourth" in texts(prepare(text="Due 3/4/2025.", locale="en-US"))[0]
    assert "April" in texts(prepare(text="Due 3/4/2025.", locale="en-NG"))[0]


def test_text_is_never_ssml():
    plan = prepare(text="<speak>a < b & c</speak>")
    assert "less than" in texts(plan)[0]
    assert "<" not in texts(plan)[0]


def test_breaks_become_the_pause_after_the_segment_before():
    plan = prepare(ssml='<speak><break time="300ms"/>One. <break time="1s"/>Two.</speak>')
    assert plan.leading_pause_ms == 300
    assert texts(plan) == ["One.", "Two."]
    assert [s.pause_after_ms for s in plan.segments] == [1000, 0]


def test_consecutive_breaks_add_up_and_strength_none_does_not_split():
    plan = prepare(ssml='<speak>One <break time="200ms"/><break time="300ms"/> two.</speak>')
    assert [s.pause_after_ms for s in plan.segments] == [500, 0]
    plan = prepare(ssml='<speak>One two <break strength="none"/> three.</speak>')
    assert texts(plan) == ["One two three."]


def test_marks_sit_before_the_speech_after_them():
    plan = prepare(
        ssml='<speak><mark name="a"/>Hello <mark name="b"/>there.<mark name="c"/></speak>'
    )
    assert texts(plan) == ["Hello", "there."]
    assert [s.marks for s in plan.segments] == [("a",), ("b",)]
    assert plan.segments[-1].marks_after == ("c",)


def test_prosody_and_emphasis_compose_into_each_segment():
    plan = prepare(
        ssml='<speak>Plain <prosody rate="50%" pitch="+2st" volume="-6dB">slow '
        '<emphasis level="strong">and loud</emphasis></prosody></speak>'
    )
    plain, slow, loud = plan.segments
    assert plain.prosody == Prosody()
    assert slow.prosody.rate == pytest.approx(0.5)
    assert slow.prosody.pitch_st == pytest.approx(2.0)
    assert slow.prosody.volume_db == pytest.approx(-6.0)
    assert loud.prosody.rate == pytest.approx(0.5 * 0.88)
    assert loud.prosody.volume_db == pytest.approx(-3.0)
    assert Prosody(volume_db=-6).gain == pytest.approx(0.501, abs=0.001)
    assert Prosody(silent=True).gain == 0.0


def test_say_as_sub_and_expletive():
    plan = prepare(
        ssml='<speak>Call <say-as interpret-as="telephone">2025551212</say-as>, '
        '<sub alias="World Wide Web Consortium">W3C</sub>, you <say-as '
        'interpret-as="expletive">darn</say-as> fool.</speak>'
    )
    spoken = " ".join(texts(plan))
    assert "two zero two, five five five, one two one two" in spoken
    assert "World Wide Web Consortium" in spoken
    assert BLEEP in spoken
    assert "darn" not in spoken
    assert plan.characters == len("Call 2025551212, W3C, you darn fool.")


def test_xml_lang_chooses_the_locale_of_its_text():
    plan = prepare(
        ssml='<speak>Due 3/4/2025. <lang xml:lang="en-GB">Due 3/4/2025.</lang></speak>',
        locale="en-US",
    )
    us, gb = plan.segments
    assert (us.language, gb.language) == ("en-US", "en-GB")
    assert "March" in us.text
    assert "April" in gb.text


def test_phonemes_travel_as_ipa_parts_with_the_written_fallback():
    plan = prepare(
        ssml='<speak>You say <phoneme alphabet="ipa" ph="pɪˈkɑːn">pecan</phoneme>.</speak>'
    )
    [segment] = plan.segments
    assert segment.text == "You say pecan."
    assert segment.parts == (("text", "You say"), ("ipa", "pɪˈkɑːn"), ("text", "."))


def test_a_say_as_span_is_never_split():
    digits = "1" * 60  # 239 characters read out: over Piper's 200, under the limit given
    plan = prepare(
        ssml=f'<speak>Code <say-as interpret-as="digits">{digits}</say-as> ok.</speak>',
        max_chars=250,
    )
    assert any(("one " * 59 + "one") in s.text for s in plan.segments)
    assert all(len(s.text) <= 250 for s in plan.segments)


def test_bad_ssml_raises_with_its_code():
    with pytest.raises(SsmlError) as error:
        prepare(ssml="<speak><bogus/></speak>")
    assert error.value.code == "invalid_ssml"
    lenient = prepare(ssml="<speak>a <bogus>b</bogus> c</speak>", lenient=True)
    assert texts(lenient) == ["a b c"]
    assert lenient.warnings


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        (None, "en-US"),
        ("en", "en-US"),
        ("en-us", "en-US"),
        ("en_GB", "en-GB"),
        ("EN-ng", "en-NG"),
        ("en-AU", "en-GB"),
        ("fr-FR", "fr-FR"),  # not English: its own tag, read as written
    ],
)
def test_locale_for(tag, locale):
    assert locale_for(tag) == locale


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_any_text_plans_without_digits_and_bills_every_character(text):
    plan = prepare(text=text)
    assert plan.characters == len(text)
    if plan.segments:
        assert sum(s.chars for s in plan.segments) == len(text)
    for segment in plan.segments:
        assert segment.text.strip() == segment.text
        assert segment.text
        assert not any(ch in "0123456789" for ch in segment.text)
        assert len(segment.text) <= 200


@pytest.mark.parametrize(
    ("xsampa", "ipa"),
    [
        ('p@"kA:n', "pəˈkɑːn"),
        ("tS{t", "tʃæt"),
        ('"h\\{pi', "ˈɦæpi"),
        ("r\\Ed", "ɹɛd"),
        ("n`", "ɳ"),
    ],
)
def test_x_sampa_reaches_the_engine_as_ipa(xsampa, ipa):
    from synthesis.text.xsampa import xsampa_to_ipa

    assert xsampa_to_ipa(xsampa) == ipa
    plan = prepare(
        ssml=f"<speak><phoneme alphabet=\"x-sampa\" ph='{xsampa}'>word</phoneme></speak>"
    )
    assert plan.segments[0].parts == (("ipa", ipa),)
