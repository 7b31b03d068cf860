"""The front-end pipeline: text or SSML → the plan an engine is given. Pure, no database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthesis.text.frontend import BLEEP, prepare
from synthesis.text.model import InputTooLong, Prosody, locale_for
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
    # The alias is billed as spoken, not the text it stands for.
    assert plan.characters == len("Call 2025551212, World Wide Web Consortium, you darn fool.")


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


def test_a_long_phoneme_is_split_at_its_words_under_the_segment_limit():
    words = ["wʌn", "tuː", "θɹiː", "fɔːɹ", "faɪv", "sɪks", "sɛvən", "eɪt", "naɪn", "tɛn"] * 3
    written = " ".join(["word"] * len(words))
    ph = " ".join(words)
    limit = 40
    plan = prepare(
        ssml=f'<speak>Count <phoneme alphabet="ipa" ph="{ph}">{written}</phoneme> done.</speak>',
        max_chars=limit,
    )
    assert len(plan.segments) > 3
    ipa = [value for s in plan.segments for kind, value in s.parts if kind == "ipa"]
    assert " ".join(ipa).split() == words  # every word once, in order
    for segment in plan.segments:
        assert len(segment.text) <= limit
        assert sum(len(value) for _kind, value in segment.parts) <= limit
    assert " ".join(texts(plan)).split() == ["Count", *written.split(), "done."]
    assert plan.characters == len("Count  done.") + max(len(ph), len(written))
    assert sum(s.chars for s in plan.segments) == plan.characters


_sounds = st.lists(st.text("əɪʊæɑɔθðŋʃʒˈːabdefk", min_size=1, max_size=9), min_size=1, max_size=30)
_words = st.lists(st.text("abcdefghij", min_size=1, max_size=9), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(_sounds, _words, st.integers(min_value=20, max_value=120))
def test_phonemes_reach_the_engine_once_in_order_within_the_limit(sounds, words, limit):
    ph, written = " ".join(sounds), " ".join(words)
    plan = prepare(
        ssml=f'<speak>Say <phoneme alphabet="ipa" ph="{ph}">{written}</phoneme> ok.</speak>',
        max_chars=limit,
    )
    ipa = [value for s in plan.segments for kind, value in s.parts if kind == "ipa"]
    if plan.warnings:  # one written word with more phonemes than fit: the text is read
        assert ipa == []
    else:
        assert " ".join(ipa).split() == sounds
    assert " ".join(texts(plan)).split() == ["Say", *words, "ok."]
    for segment in plan.segments:
        assert len(segment.text) <= limit
        assert sum(len(value) + 1 for _kind, value in segment.parts) - 1 <= limit
    assert sum(s.chars for s in plan.segments) == plan.characters


def test_phonemes_too_long_for_their_written_words_are_not_sent_whole():
    ph = " ".join(["əbɹəˈkædəbɹə"] * 8)  # 103 symbols for one written word
    plan = prepare(
        ssml=f'<speak><phoneme alphabet="ipa" ph="{ph}">x</phoneme></speak>', max_chars=40
    )
    assert all(sum(len(v) for _k, v in s.parts) <= 40 for s in plan.segments)
    assert texts(plan) == ["x"]
    assert plan.warnings
    assert plan.characters == len(ph)


def test_the_callers_character_limit_is_checked_before_any_normalizing(monkeypatch):
    import synthesis.text.frontend as frontend

    def no_work(*args, **kwargs):
        raise AssertionError("normalized or split an input over the limit")

    monkeypatch.setattr(frontend, "normalize", no_work)
    monkeypatch.setattr(frontend, "split_units", no_work)
    document = "<speak>" + "<p>Call 555 1212 now, Dr. Okafor.</p>" * 1_300 + "</speak>"
    assert 45_000 < len(document.encode()) < 50_000
    with pytest.raises(InputTooLong) as caught:
        prepare(ssml=document, max_characters=5000)
    assert caught.value.code == "input_too_long"
    with pytest.raises(InputTooLong):
        prepare(text="y" * 5001, max_characters=5000)
    with pytest.raises(InputTooLong):
        prepare(ssml=f'<speak><sub alias="{"a" * 200}">x</sub></speak>', max_characters=100)


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
