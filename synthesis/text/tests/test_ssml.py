"""The SSML reader: elements, attributes, prosody, errors with positions, limits, safety."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthesis.text.model import Boundary, Break, InputTooLong, Mark, Prosody, SayAs, Span
from synthesis.text.ssml import (
    BREAK_STRENGTH_MS,
    BYTES_PER_CHARACTER,
    DATE_FORMATS,
    DEFAULT_LIMITS,
    MARKUP_BYTES,
    SAY_AS_TYPES,
    Limits,
    ParsedSsml,
    SsmlError,
    looks_like_ssml,
    parse_ssml,
    ssml_max_bytes,
)


def spans(parsed: ParsedSsml) -> list[Span]:
    return [item for item in parsed.items if isinstance(item, Span)]


def only_span(document: str, **kwargs: object) -> Span:
    found = spans(parse_ssml(document, **kwargs))  # type: ignore[arg-type]
    assert len(found) == 1, found
    return found[0]


def error(document: str, **kwargs: object) -> SsmlError:
    with pytest.raises(SsmlError) as caught:
        parse_ssml(document, **kwargs)  # type: ignore[arg-type]
    return caught.value


def speak(body: str) -> str:
    return f"<speak>{body}</speak>"


# -- text and whitespace ----------------------------------------------------------------------


def test_plain_document():
    parsed = parse_ssml("<speak>Mary had a little lamb.</speak>")
    assert parsed.items == [Span("Mary had a little lamb.", chars=23)]
    assert parsed.characters == 23
    assert parsed.language is None
    assert parsed.warnings == []


def test_whitespace_collapses_and_words_never_glue():
    parsed = parse_ssml(
        "<speak>\n  Hello\t\tthere  <emphasis>big</emphasis>\n<emphasis>world</emphasis></speak>"
    )
    text = "".join(span.text for span in spans(parsed))
    assert text == " Hello there big world"
    assert parsed.characters == len("Hello there big world")


def test_no_space_is_invented_where_the_document_has_none():
    assert "".join(
        s.text for s in spans(parse_ssml(speak("un<emphasis>break</emphasis>able")))
    ) == ("unbreakable")


def test_billing_counts_text_only_with_separating_spaces_once():
    parsed = parse_ssml('<speak>Hello <break time="1s"/> world.</speak>')
    assert parsed.characters == len("Hello world.")
    assert sum(span.billed for span in spans(parsed)) == parsed.characters


def test_character_references_and_predefined_entities_decode():
    span = only_span(speak("caf&#233; &amp; &lt;tea&gt; &quot;x&apos;"))
    assert span.text == "café & <tea> \"x'"


def test_comments_and_processing_instructions_say_nothing():
    parsed = parse_ssml(speak("Hel<!-- a comment -->lo<?pi data?>"))
    assert [s.text for s in spans(parsed)] == ["Hello"]


def test_xml_declaration_with_another_encoding_and_bom():
    document = '\ufeff<?xml version="1.0" encoding="ISO-8859-1"?>\n<speak>La vita è bella</speak>'
    assert only_span(document).text == "La vita è bella"


# -- speak ------------------------------------------------------------------------------------


def test_speak_attributes_and_namespace():
    parsed = parse_ssml(
        '<speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.w3.org/2001/10/synthesis synthesis.xsd" '
        'xml:lang="en-NG">Hi</speak>'
    )
    assert parsed.language == "en-NG"
    assert spans(parsed)[0].language == "en-NG"


@pytest.mark.parametrize(
    "document",
    [
        '<speak xmlns="http://example.com/other">Hi</speak>',
        '<speak version="2.0">Hi</speak>',
        '<speak xml:lang="english">Hi</speak>',
        "<voice>not speak</voice>",
        "<speaks></speak>",
        "<speak><speak>hello</speak></speak>",
    ],
)
def test_bad_roots(document):
    assert error(document).code == "invalid_ssml"


# -- break ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "ms"),
    [
        ('time="500ms"', 500),
        ('time="1.5s"', 1500),
        ('time="2s"', 2000),
        ('time="+30ms"', 30),
        ('time=".5s"', 500),
        ('time="300.92ms"', 301),
        ('time="10s"', 10_000),
        ('time="0ms"', 0),
        ("", BREAK_STRENGTH_MS["medium"]),
        ('time="1s" strength="weak"', 1000),  # time wins
    ]
    + [(f'strength="{name}"', ms) for name, ms in BREAK_STRENGTH_MS.items()],
)
def test_break(attribute, ms):
    assert parse_ssml(speak(f"<break {attribute}/>")).items == [Break(ms)]


def test_strength_mapping_follows_polly_ordering():
    s = BREAK_STRENGTH_MS
    assert s["none"] == s["x-weak"] == 0
    assert s["weak"] == s["medium"] < s["strong"] < s["x-strong"]


@pytest.mark.parametrize(
    "value", ["abc", "-30ms", "300,92ms", "1.5", "2 s", "1h", "5S", "", "1e3ms", "9" * 40 + "s"]
)
def test_break_time_errors_name_the_value(value):
    raised = error(speak(f'<break time="{value}"/>'))
    assert raised.code in ("invalid_ssml", "ssml_break_too_long")


def test_break_strength_is_case_sensitive_in_strict_mode():
    assert error(speak('<break strength="Strong"/>')).code == "invalid_ssml"


def test_break_over_the_limit_names_it():
    raised = error(speak('<break time="999999s"/>'))
    assert raised.code == "ssml_break_too_long"
    assert "10000 ms" in raised.message
    assert "max_break_ms" in raised.message
    assert (raised.line, raised.column) == (1, 8)


def test_break_limit_applies_in_lenient_mode_too():
    assert error(speak('<break time="11s"/>'), lenient=True).code == "ssml_break_too_long"


def test_total_break_limit():
    limits = Limits(max_total_break_ms=5_000)
    raised = error(speak('<break time="3s"/>a<break time="3s"/>'), limits=limits)
    assert raised.code == "ssml_breaks_too_long"
    assert "5000" in raised.message


# -- prosody ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ('rate="x-slow"', Prosody(rate=0.5)),
        ('rate="fast"', Prosody(rate=1.25)),
        ('rate="150%"', Prosody(rate=1.5)),
        ('rate="+10%"', Prosody(rate=1.1)),
        ('rate="-20%"', Prosody(rate=0.8)),
        ('rate="default"', Prosody()),
        ('pitch="high"', Prosody(pitch_st=3.0)),
        ('pitch="-2st"', Prosody(pitch_st=-2.0)),
        ('pitch="+1.5st"', Prosody(pitch_st=1.5)),
        ('volume="loud"', Prosody(volume_db=6.0)),
        ('volume="-6dB"', Prosody(volume_db=-6.0)),
        ('volume="15dB"', Prosody(volume_db=15.0)),
        ('volume=".5dB"', Prosody(volume_db=0.5)),
        ('volume="silent"', Prosody(silent=True)),
    ],
)
def test_prosody_values(attribute, expected):
    assert only_span(speak(f"<prosody {attribute}>x</prosody>")).prosody == pytest.approx(expected)


def test_pitch_percent_and_hertz_become_semitones():
    up = only_span(speak('<prosody pitch="+20%">x</prosody>')).prosody.pitch_st
    assert up == pytest.approx(12 * math.log2(1.2))
    hz = only_span(speak('<prosody pitch="+20Hz">x</prosody>')).prosody.pitch_st
    assert hz == pytest.approx(12 * math.log2(170 / 150))
    absolute = only_span(speak('<prosody pitch="200Hz">x</prosody>')).prosody.pitch_st
    assert absolute == pytest.approx(12 * math.log2(200 / 150))


def test_volume_percentages_are_amplitude():
    assert only_span(speak('<prosody volume="50%">x</prosody>')).prosody.volume_db == (
        pytest.approx(20 * math.log10(0.5))
    )
    assert only_span(speak('<prosody volume="-100%">x</prosody>')).prosody.silent


def test_nested_prosody_composes():
    document = speak(
        '<prosody rate="50%" pitch="+2st" volume="-6dB">a'
        '<prosody rate="+20%" pitch="-10%" volume="+3dB">b</prosody></prosody>'
    )
    outer, inner = spans(parse_ssml(document))
    assert outer.prosody == Prosody(rate=0.5, pitch_st=2.0, volume_db=-6.0)
    assert inner.prosody.rate == pytest.approx(0.6)
    assert inner.prosody.pitch_st == pytest.approx(2 + 12 * math.log2(0.9))
    assert inner.prosody.volume_db == pytest.approx(-3.0)


def test_keywords_replace_what_encloses_them():
    document = speak(
        '<prosody rate="50%" pitch="+5st"><prosody rate="fast" pitch="low">x</prosody></prosody>'
    )
    assert only_span(document).prosody == Prosody(rate=1.25, pitch_st=-3.0)


def test_silence_is_inherited_and_a_volume_keyword_restores_sound():
    document = speak(
        '<prosody volume="silent">a<prosody volume="+3dB">b</prosody>'
        '<prosody volume="loud">c</prosody></prosody>'
    )
    a, b, c = spans(parse_ssml(document))
    assert a.prosody.silent
    assert b.prosody.silent
    assert not c.prosody.silent


def test_composed_values_are_clamped_with_a_warning():
    document = speak(
        '<prosody rate="400%"><prosody rate="400%"><prosody pitch="+7st">'
        '<prosody pitch="+7st">x</prosody></prosody></prosody></prosody>'
    )
    parsed = parse_ssml(document)
    assert spans(parsed)[0].prosody == Prosody(rate=4.0, pitch_st=12 * math.log2(1.5))
    assert any("clamped" in warning for warning in parsed.warnings)


@pytest.mark.parametrize(
    "attribute",
    [
        'rate="xx-large"',
        'rate="5%"',
        'rate="60"',
        'rate="401%"',
        'rate="74%%"',
        'rate="64pc"',
        'pitch="x-small"',
        'pitch="+60%"',
        'pitch="-40%"',
        'pitch="+2.5.6%"',
        'pitch="80%"',
        'pitch="+13st"',
        'pitch="400Hz"',
        'volume="xx-large"',
        'volume="-5.5.5dB"',
        'volume="56"',
        'volume="64.5DB"',
        'volume="64.5dBs"',
        'volume="+21dB"',
        'volume="louder"',
        'duration="soon"',
        'contour="(0%,+20Hz) (oops)"',
        "",
        'name="test"',
    ],
)
def test_prosody_errors(attribute):
    raised = error(speak(f"<prosody {attribute}>Hello</prosody>"))
    assert raised.code == "invalid_ssml"
    assert raised.message.startswith("Line 1, column 8: <prosody")


def test_prosody_duration_contour_range_are_accepted_and_ignored():
    parsed = parse_ssml(
        speak(
            '<prosody duration="2s" range="+10%" contour="(0%,+20Hz) (50%,-2st) (100%,+10%)">'
            "x</prosody>"
        )
    )
    assert spans(parsed)[0].prosody == Prosody()
    assert len(parsed.warnings) == 3


# -- emphasis, say-as, sub, phoneme -----------------------------------------------------------


@pytest.mark.parametrize("level", ["strong", "moderate", "reduced", "none"])
def test_emphasis_levels(level):
    assert only_span(speak(f'<emphasis level="{level}">x</emphasis>')).emphasis == level


def test_emphasis_defaults_to_moderate_and_rejects_unknown_levels():
    assert only_span(speak("<emphasis>x</emphasis>")).emphasis == "moderate"
    assert error(speak('<emphasis level="cute">x</emphasis>')).code == "invalid_ssml"


@pytest.mark.parametrize("kind", sorted(SAY_AS_TYPES))
def test_say_as_types(kind):
    span = only_span(speak(f'<say-as interpret-as="{kind}">12</say-as>'))
    assert span.say_as == SayAs(kind)
    assert span.text == "12"


@pytest.mark.parametrize("fmt", sorted(DATE_FORMATS))
def test_say_as_date_formats(fmt):
    span = only_span(speak(f'<say-as interpret-as="date" format="{fmt}">1/2</say-as>'))
    assert span.say_as == SayAs("date", fmt)


def test_say_as_time_format_telephone_country_and_detail():
    assert only_span(
        speak('<say-as interpret-as="time" format="hms24">15:30</say-as>')
    ).say_as == SayAs("time", "hms24")
    assert only_span(
        speak('<say-as interpret-as="telephone" format="44">2122241555</say-as>')
    ).say_as == SayAs("telephone", "44")
    assert only_span(
        speak('<say-as interpret-as="cardinal" detail="2">12</say-as>')
    ).say_as == SayAs("cardinal", None, "2")


@pytest.mark.parametrize(
    "element",
    [
        '<say-as interpret-as="bleep">Wow</say-as>',
        '<say-as interpret-as="interjections">Wow</say-as>',
        "<say-as>Wow</say-as>",
        '<say-as interpret-as="date" format="mddy">September 22</say-as>',
        '<say-as interpret-as="unit" format="mdy">2:30pm</say-as>',
        '<say-as interpret-as="time" format="hqs12">2:30pm</say-as>',
        '<say-as interpret-as="cardinal" detail="-3">1</say-as>',
        '<say-as test="123" interpret-as="time">2:30pm</say-as>',
        '<say-as interpret-as="date"><break/>1</say-as>',
    ],
)
def test_say_as_errors(element):
    assert error(speak(element)).code == "invalid_ssml"


def test_say_as_is_one_span_with_collapsed_text():
    span = only_span(speak('<say-as interpret-as="characters">  S  S\nML </say-as>'))
    assert span.text == " S S ML "


def test_sub_speaks_the_alias_and_bills_it():
    parsed = parse_ssml(speak('My element is <sub alias="Mercury">Hg</sub>, shiny.'))
    before, alias, after = spans(parsed)
    assert alias.text == "Mercury"
    assert alias.normalize is False
    assert parsed.characters == len("My element is Mercury, shiny.")
    assert before.normalize
    assert after.normalize


@pytest.mark.parametrize("inner", ["x", "", " ", "a much longer written form than its alias"])
def test_sub_bills_its_alias_whatever_its_text(inner):
    alias = "World Wide Web Consortium"
    parsed = parse_ssml(speak(f'<sub alias="{alias}">{inner}</sub>'))
    assert parsed.characters == len(alias)
    assert parsed.characters == sum(s.billed for s in spans(parsed))


def test_phoneme_bills_the_longer_of_its_phonemes_and_its_text():
    ph = "ðə kwɪk bɹaʊn fɑks"
    assert only_span(speak(f'<phoneme alphabet="ipa" ph="{ph}">x</phoneme>')).billed == len(ph)
    written = "the quick brown fox jumps"
    assert len(written) > len(ph)
    span = only_span(speak(f'<phoneme alphabet="ipa" ph="{ph}">{written}</phoneme>'))
    assert span.billed == len(written)
    parsed = parse_ssml(speak(f'Say <phoneme alphabet="ipa" ph="{ph}">x</phoneme> now.'))
    assert parsed.characters == len(f"Say {ph} now.")


@pytest.mark.parametrize("lenient", [False, True])
def test_an_alias_or_phonemes_over_their_cap_are_refused_in_both_modes(lenient):
    cap = DEFAULT_LIMITS.max_alias_chars
    parse_ssml(speak(f'<sub alias="{"a" * cap}">x</sub>'), lenient=lenient)
    raised = error(speak(f'<sub alias="{"a" * (cap + 1)}">x</sub>'), lenient=lenient)
    assert raised.code == "ssml_alias_too_long"
    assert "alias" in raised.message
    assert str(cap) in raised.message
    cap = DEFAULT_LIMITS.max_phonemes
    ph = "ə" * cap
    parse_ssml(speak(f'<phoneme alphabet="ipa" ph="{ph}">x</phoneme>'), lenient=lenient)
    raised = error(speak(f'<phoneme alphabet="ipa" ph="{ph}ə">x</phoneme>'), lenient=lenient)
    assert raised.code == "ssml_phonemes_too_long"
    assert "ph" in raised.message
    assert str(cap) in raised.message
    # Lenient does not turn an over-long value into an ignored (so unbilled) attribute.
    raised = error(speak(f'<phoneme alphabet="bad" ph="{ph}ə">x</phoneme>'), lenient=lenient)
    assert raised.code == "ssml_phonemes_too_long"


def test_sub_without_alias_speaks_its_content_and_may_hold_elements():
    parsed = parse_ssml(speak("<sub>W3C</sub>"))
    assert [s.text for s in spans(parsed)] == ["W3C"]
    assert parsed.warnings
    parsed = parse_ssml(speak('<sub alias="test"><p></p></sub>'))
    assert [s.text for s in spans(parsed)] == ["test"]


PECAN = "p\u026a\u02c8k\u0251\u02d0n"


def test_phoneme():
    span = only_span(speak('<phoneme alphabet="ipa" ph="' + PECAN + '">pecan</phoneme>'))
    assert (span.text, span.phonemes, span.alphabet, span.billed) == (
        "pecan",
        "" + PECAN + "",
        "ipa",
        len(PECAN),  # longer than "pecan": the phonemes are what Piper speaks
    )
    span = only_span(speak('<phoneme alphabet="x-sampa" ph="pI\'kA:n">pecan</phoneme>'))
    assert span.alphabet == "x-sampa"


def test_phoneme_character_references_decode():
    span = only_span(speak('<phoneme alphabet="ipa" ph="&#x2C8;l&#x251;">la</phoneme>'))
    assert span.phonemes == "\u02c8l\u0251"


@pytest.mark.parametrize(
    "element",
    [
        '<phoneme ph="x">pecan</phoneme>',
        '<phoneme alphabet="ipa">pecan</phoneme>',
        '<phoneme alphabet="ipa2" ph="x">pecan</phoneme>',
        '<phoneme alphabet="ipa" ph="">pecan</phoneme>',
    ],
)
def test_phoneme_errors(element):
    assert error(speak(element)).code == "invalid_ssml"


# -- lang, voice, mark, p, s ------------------------------------------------------------------


def test_language_is_the_nearest_one():
    parsed = parse_ssml(
        '<speak xml:lang="en-US">a<p xml:lang="en-GB">b<s xml:lang="en-NG">c</s>'
        '<lang xml:lang="fr-FR">d</lang><voice languages="de-DE">e</voice>'
        '<voice language="pt-BR">f</voice><w xml:lang="es">g</w></p>h</speak>'
    )
    assert [s.language for s in spans(parsed)] == [
        "en-US",
        "en-GB",
        "en-NG",
        "fr-FR",
        "de-DE",
        "pt-BR",
        "es",
        "en-US",
    ]


@pytest.mark.parametrize(
    "element",
    [
        '<lang lang="de-DE">x</lang>',
        '<lang xml:lang="not-valid">x</lang>',
        "<lang>x</lang>",
        '<lang xml:lang="en" onlangfailure="shrug">x</lang>',
    ],
)
def test_lang_errors(element):
    assert error(speak(element)).code == "invalid_ssml"


def test_lang_onlangfailure():
    parse_ssml(speak('<lang xml:lang="ja"></lang><lang xml:lang="en" onlangfailure="ignoretext"/>'))


def test_voice_name_and_language():
    span = only_span(speak('<voice name="Kendra" gender="female" languages="en-GB">x</voice>'))
    assert (span.voice, span.language) == ("Kendra", "en-GB")
    outer, inner = spans(
        parse_ssml(speak('<voice name="A">a<voice gender="male">b</voice></voice>'))
    )
    assert outer.voice == inner.voice == "A"


@pytest.mark.parametrize(
    "element",
    [
        "<voice>x</voice>",
        '<voice anoherName="Kendra">x</voice>',
        '<voice gender="robot">x</voice>',
        '<voice age="old">x</voice>',
        '<voice name="">x</voice>',
    ],
)
def test_voice_errors(element):
    assert error(speak(element)).code == "invalid_ssml"


def test_mark_and_its_errors():
    parsed = parse_ssml(speak('Mary had a little <mark name="animal"/>lamb.'))
    assert parsed.items[1] == Mark("animal")
    assert error(speak('<mark animal="lamb"/>')).code == "invalid_ssml"
    assert error(speak("<mark/>")).code == "invalid_ssml"


def test_boundaries_end_sentences_and_paragraphs():
    parsed = parse_ssml(speak("Intro<p><s>One.</s><s>Two.</s></p><p>Three.</p>"))
    assert [type(i).__name__ if not isinstance(i, Boundary) else i.kind for i in parsed.items] == [
        "Span",
        "p",
        "Span",
        "s",
        "Span",
        "s",
        "p",
        "Span",
        "p",
    ]


@pytest.mark.parametrize(
    "document",
    [
        speak("<p>hello<p>world</p></p>"),
        speak("<s><p>x</p></s>"),
        speak("<s>a<s>b</s></s>"),
        speak('<p dog="cute">x</p>'),
        speak('<s name="test">x</s>'),
    ],
)
def test_structure_errors(document):
    assert error(document).code == "invalid_ssml"


# -- audio, desc, token/w, head elements ------------------------------------------------------


def test_audio_is_never_fetched_its_fallback_is_spoken_and_desc_is_not():
    parsed = parse_ssml(
        speak(
            '<audio src="https://example.com/a.mp3" clipBegin="2.2s" clipEnd="3000ms" '
            'repeatCount="3" soundLevel="-6dB" speed="80%">'
            "<desc>a cat purring</desc>PURR</audio>"
        )
    )
    assert [s.text for s in spans(parsed)] == ["PURR"]
    assert any("never played" in warning for warning in parsed.warnings)


def test_empty_audio_says_nothing():
    parsed = parse_ssml(speak('Here. <audio src="http://www.example.com/music.wav"/> Buy it?'))
    assert "".join(s.text for s in spans(parsed)) == "Here. Buy it?"


@pytest.mark.parametrize(
    "document",
    [
        speak('<audio clipBegin="3s"/>'),
        speak('<audio src="a.mp3" clipBegin="aaa"/>'),
        speak('<audio src="a.mp3" repeatCount="3a"/>'),
        speak('<audio src="a.mp3" speed="50"/>'),
        speak("<desc>Some Text</desc>"),
        speak("<p><desc>x</desc></p>"),
    ],
)
def test_audio_and_desc_errors(document):
    assert error(document).code == "invalid_ssml"


def test_too_many_audio():
    raised = error(speak('<audio src="a.mp3"/>' * 6))
    assert raised.code == "ssml_too_many_audio"
    assert "max_audio" in raised.message


def test_token_and_w_speak_their_text():
    parsed = parse_ssml(speak('<w>read</w> <token role="pos:verb">it</token>'))
    assert "".join(s.text for s in spans(parsed)) == "read it"


def test_head_elements_say_nothing():
    parsed = parse_ssml(
        speak(
            '<meta name="author" content="me"/><metadata><rdf:RDF xmlns:rdf="x"><dc:x>nope'
            '</dc:x></rdf:RDF></metadata><lexicon uri="http://example.com/lex.pls"/>Hello'
        )
    )
    assert [s.text for s in spans(parsed)] == ["Hello"]
    assert error(speak("<p><meta name='a' content='b'/></p>")).code == "invalid_ssml"
    assert error(speak("<meta name='a'/>")).code == "invalid_ssml"


# -- unknown elements, vendor extensions, lenient mode ----------------------------------------


def test_unknown_element_strict_and_lenient():
    document = speak("<tag>What is this?</tag> This &amp; that")
    raised = error(document)
    assert raised.code == "invalid_ssml"
    assert raised.message == "Line 1, column 8: <tag>: unknown element."
    parsed = parse_ssml(document, lenient=True)
    assert "".join(s.text for s in spans(parsed)) == "What is this? This & that"
    assert parsed.warnings == [
        "Line 1, column 8: <tag>: unknown element (element dropped, its text is spoken)."
    ]


def test_unknown_attribute_strict_and_lenient():
    document = speak('You lost <break tim="200ms"/> again')
    raised = error(document)
    assert raised.message == "Line 1, column 17: <break tim='200ms'>: unknown attribute."
    parsed = parse_ssml(document, lenient=True)
    assert Break(BREAK_STRENGTH_MS["medium"]) in parsed.items
    assert len(parsed.warnings) == 1


def test_lenient_ignores_invalid_values_with_a_warning():
    document = speak(
        '<prosody pokemon="pikachu" volume="louder" rate="slow">Hello</prosody>'
        '<break strength="Strong"/><say-as interpret-as="bleep">Wow</say-as>'
    )
    parsed = parse_ssml(document, lenient=True)
    first, second = spans(parsed)
    assert first.prosody == Prosody(rate=0.75)
    assert second.say_as is None
    assert second.text == "Wow"
    assert len(parsed.warnings) == 4


def test_lenient_still_rejects_malformed_xml_and_limits():
    assert error(speak("This & that"), lenient=True).code == "invalid_ssml"
    assert error("<speak>unclosed", lenient=True).code == "invalid_ssml"
    assert error("<tag>x</tag>", lenient=True).code == "invalid_ssml"


@pytest.mark.parametrize(
    "element",
    [
        '<amazon:effect name="whispered">x</amazon:effect>',
        '<amazon:domain name="news">x</amazon:domain>',
        '<alexa:name type="first" personId="amzn1.ask.person.A"/>',
        "<google:foo>x</google:foo>",
        "<par><media><speak>x</speak></media></par>",
        '<seq><media begin="0.5s">x</media></seq>',
        "<media>x</media>",
        '<prosody amazon:max-duration="2s">x</prosody>',
        '<w role="amazon:VBD">x</w>',
        '<mstts:express-as style="cheerful">x</mstts:express-as>',
    ],
)
def test_vendor_extensions_are_unsupported_in_strict_mode_and_dropped_in_lenient(element):
    assert error(speak(element)).code == "ssml_unsupported"
    parsed = parse_ssml(speak(element), lenient=True)
    assert parsed.warnings
    assert all(s.text == "x" for s in spans(parsed))


def test_lenient_misplaced_elements():
    parsed = parse_ssml(
        speak("<desc>not me</desc><speak>inner</speak><p>a<p>b</p></p>"), lenient=True
    )
    assert [s.text for s in spans(parsed)] == ["inner", "a", "b"]
    assert len(parsed.warnings) == 3


def test_namespaced_ssml_elements():
    parsed = parse_ssml(
        '<ssml:speak xmlns:ssml="http://www.w3.org/2001/10/synthesis">'
        '<ssml:break time="1s"/>x</ssml:speak>'
    )
    assert parsed.items[0] == Break(1000)
    assert error('<speak><x:p xmlns:x="http://example.com">y</x:p></speak>').code == "invalid_ssml"


# -- errors carry positions -------------------------------------------------------------------


def test_line_and_column_of_an_element():
    raised = error('<speak>\n  Hello\n  <break time="abc"/>\n</speak>')
    assert (raised.line, raised.column) == (3, 3)
    assert raised.message == (
        "Line 3, column 3: <break time='abc'>: use a time like 500ms or 1.5s."
    )


def test_line_and_column_of_malformed_xml():
    raised = error("<speak>\nHello <break time='1s'> world</speak>")
    assert raised.code == "invalid_ssml"
    assert raised.line == 2
    assert raised.column is not None
    assert raised.message.startswith("Line 2, column ")


def test_text_outside_the_root():
    raised = error("Simple test")
    assert (raised.code, raised.line, raised.column) == ("invalid_ssml", 1, 1)
    assert "outside the root" in raised.message
    assert "after the closing" in error("<speak>a</speak> junk").message


def test_undefined_entity_explains_itself():
    assert "&amp;" in error(speak("&nbsp;")).message


# -- safety and limits ------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 2 else "&lol;" * 10}">'
        for i in range(2, 10)
    )
    + "]><speak>&lol9;</speak>"
)


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><speak>&e;</speak>',
        '<?xml version="1.0"?><!DOCTYPE speak SYSTEM "http://example.com/ssml.dtd"><speak>x</speak>',
        "<!DOCTYPE speak><speak>x</speak>",
    ],
)
def test_dtds_and_entities_are_refused_before_expansion(document):
    raised = error(document)
    assert raised.code == "ssml_dtd_forbidden"
    assert raised.line == 1


def test_a_huge_document_is_refused_by_size():
    raised = error("<speak>" + "x" * 10_000_000 + "</speak>")
    assert raised.code == "ssml_too_large"
    assert str(DEFAULT_LIMITS.max_bytes) in raised.message


def test_size_counts_utf8_bytes():
    limits = Limits(max_bytes=100)
    parse_ssml(speak("é" * 40), limits=limits)
    assert error(speak("é" * 50), limits=limits).code == "ssml_too_large"


def test_billed_characters_over_the_callers_limit_stop_the_reading_at_once():
    document = speak("<s>" + "a" * 60 + "</s>" + "<s>" + "b" * 60 + "</s><bogus/>")
    assert parse_ssml(document, max_characters=200, lenient=True).characters == 120
    with pytest.raises(InputTooLong) as caught:
        parse_ssml(document, max_characters=100)
    # Refused at the span that passed the limit: the unknown element after it is never read.
    assert caught.value.limit == 100
    assert "100" in caught.value.message
    with pytest.raises(InputTooLong):
        parse_ssml(speak(f'x <sub alias="{"a" * 120}">b</sub>'), max_characters=100)
    with pytest.raises(InputTooLong):
        parse_ssml(
            speak(f'<phoneme alphabet="ipa" ph="{"ə" * 120}">b</phoneme>'), max_characters=100
        )


def test_the_size_limit_follows_the_callers_character_limit():
    cap = ssml_max_bytes(100)
    assert cap == BYTES_PER_CHARACTER * 100 + MARKUP_BYTES < DEFAULT_LIMITS.max_bytes
    assert ssml_max_bytes(1_000_000) == DEFAULT_LIMITS.max_bytes  # never above the ceiling
    markup = speak("<!--" + "c" * cap + "-->hi")
    assert parse_ssml(markup).characters == 2
    raised = error(markup, max_characters=100)
    assert raised.code == "ssml_too_large"
    assert str(cap) in raised.message
    assert parse_ssml(speak("<!--c-->hi"), max_characters=100).characters == 2


def test_deep_nesting_is_refused():
    document = "<speak>" + "<emphasis>" * 1000 + "x" + "</emphasis>" * 1000 + "</speak>"
    raised = error(document)
    assert raised.code == "ssml_too_deep"
    assert "max_depth" in raised.message


def test_element_count_limit():
    raised = error(speak("<break time='0ms'/>" * (DEFAULT_LIMITS.max_elements + 1)))
    assert raised.code == "ssml_too_many_elements"


def test_mark_limit():
    raised = error(speak("<mark name='m'/>a" * 3), limits=Limits(max_marks=2))
    assert raised.code == "ssml_too_many_marks"
    assert "max_marks" in raised.message


def test_lone_surrogates_are_invalid_not_a_crash():
    assert error(speak("\ud800")).code == "invalid_ssml"


# -- looks_like_ssml --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<speak>Hi</speak>", True),
        ("  \n<speak version='1.1'>Hi</speak>", True),
        ('\ufeff<?xml version="1.0"?>\n<speak>Hi</speak>', True),
        ("<speak/>", True),
        ("Tom & Jerry <3", False),
        ("a <speak>b</speak>", False),
        ("<speaker> said hi", False),
        ("<p>Hi</p>", False),
        ("", False),
    ],
)
def test_looks_like_ssml(text, expected):
    assert looks_like_ssml(text) is expected


# -- the stand-in's adapter -------------------------------------------------------------------


# -- property: nothing but SsmlError ----------------------------------------------------------

_TAGS = sorted(
    {
        "speak",
        "p",
        "s",
        "break",
        "prosody",
        "emphasis",
        "say-as",
        "sub",
        "phoneme",
        "lang",
        "voice",
        "mark",
        "audio",
        "desc",
        "w",
        "token",
        "meta",
        "metadata",
        "lexicon",
        "amazon:effect",
        "par",
        "foo",
    }
)
_ATTRIBUTES = [
    'time="1s"',
    'time="x"',
    'strength="weak"',
    'rate="50%"',
    'rate="-20%"',
    'pitch="+2st"',
    'pitch="99Hz"',
    'volume="silent"',
    'volume="+3dB"',
    'level="strong"',
    'interpret-as="date"',
    'format="mdy"',
    'alias="x"',
    'alphabet="ipa"',
    'ph="a"',
    'xml:lang="en-GB"',
    'name="n"',
    'src="a"',
    'role="amazon:VB"',
    'contour="(0%,+1st)"',
]
_pieces = st.one_of(
    st.sampled_from(_TAGS).map(lambda t: f"<{t}"),
    st.sampled_from(_TAGS).map(lambda t: f"</{t}>"),
    st.sampled_from(_ATTRIBUTES).map(lambda a: f" {a}"),
    st.sampled_from([">", "/>", "&amp;", "&", "&#233;", "<!--c-->", "<![CDATA[x]]>", "<!DOCTYPE"]),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.booleans())
def test_arbitrary_text_raises_only_ssml_error(text, lenient):
    for document in (text, speak(text)):
        with contextlib.suppress(SsmlError):
            parse_ssml(document, lenient=lenient)


@settings(max_examples=400, deadline=None)
@given(st.lists(_pieces, max_size=40), st.booleans())
def test_tag_soup_raises_only_ssml_error(pieces, lenient):
    document = "<speak>" + "".join(pieces) + "</speak>"
    try:
        parsed = parse_ssml(document, lenient=lenient)
    except SsmlError as raised:
        failure: SsmlError | None = raised
    else:
        failure = None
    if failure is not None:
        assert failure.code
        assert failure.message
        return
    assert parsed.characters == sum(s.billed for s in spans(parsed))
    assert all(isinstance(i, Span | Break | Mark | Boundary) for i in parsed.items)
