"""`engine_segments`: which language each segment is spoken in."""

from __future__ import annotations

import pytest

from synthesis.contract.plan import engine_segments
from synthesis.contract.segments import MAX_SPEED, MIN_SPEED
from synthesis.text.frontend import prepare

XTTS_LANGUAGES = ("en", "es", "fr", "de", "zh", "ja", "hi")  # a part of XTTS's, for the tests

MIXED = (
    '<speak xml:lang="en-US">Hello 12. <lang xml:lang="fr-FR">Bonjour 12.</lang> '
    '<lang xml:lang="sv-SE">Hej 12.</lang> <lang xml:lang="en-GB">On 3/4/2025.</lang> '
    '<lang xml:lang="zh-CN">你好。</lang></speak>'
)


def _spoken(plan, **kwargs) -> list[tuple[str, str]]:
    return [(s.text, s.language) for s in engine_segments(plan, **kwargs)]


def test_without_languages_every_segment_gets_the_request_language() -> None:
    # Piper speaks English only: it must keep receiving the request's English tag.
    assert _spoken(prepare(ssml=MIXED), language="en-US") == [
        ("Hello twelve.", "en-US"),
        ("Bonjour 12.", "en-US"),
        ("Hej 12.", "en-US"),
        ("On the third of April twenty twenty five.", "en-US"),
        ("你好。", "en-US"),
    ]


def test_a_segment_in_another_language_the_engine_speaks_keeps_its_own_tag() -> None:
    assert _spoken(prepare(ssml=MIXED), language="en-US", languages=XTTS_LANGUAGES) == [
        ("Hello twelve.", "en-US"),
        ("Bonjour 12.", "fr-FR"),
        ("Hej 12.", "en-US"),  # Swedish: not the engine's, so the request's
        ("On the third of April twenty twenty five.", "en-US"),  # same primary subtag
        ("你好。", "zh-CN"),
    ]


def test_a_request_in_another_language_keeps_its_own_tag_for_its_segments() -> None:
    plan = prepare(
        ssml='<speak xml:lang="fr-FR">Le 12 mai. <lang xml:lang="en">On May 12.</lang></speak>',
        locale="fr-FR",
    )
    assert _spoken(plan, language="fr", languages=XTTS_LANGUAGES) == [
        ("Le 12 mai.", "fr"),
        ("On May twelfth.", "en-US"),
    ]


def test_speed_and_pauses_do_not_depend_on_the_language() -> None:
    plan = prepare(
        ssml='<speak><break time="200ms"/><prosody rate="50%">'
        '<lang xml:lang="de-DE">Guten Tag.</lang></prosody></speak>'
    )
    [segment] = engine_segments(plan, language="en-US", speed=2.0, languages=XTTS_LANGUAGES)
    assert (segment.language, segment.speed, segment.pause_before_ms) == ("de-DE", 1.0, 200)


SLOWEST = (
    '<speak><prosody rate="x-slow"><emphasis level="strong">Take your time.</emphasis>'
    '</prosody> <prosody rate="x-fast"><emphasis level="reduced">Quick now.</emphasis>'
    "</prosody></speak>"
)


def test_the_combined_speed_never_leaves_the_documented_range() -> None:
    # A slow preset (0.5) times the slowest request (0.25) times x-slow (0.5) times strong
    # emphasis (0.88) is 0.055: the engine gets the floor, 0.25.
    slow, fast = engine_segments(prepare(ssml=SLOWEST), language="en-US", speed=0.5 * 0.25)
    assert (slow.speed, fast.speed) == (0.25, 0.25)
    slow, fast = engine_segments(prepare(ssml=SLOWEST), language="en-US", speed=1.0)
    assert slow.speed == pytest.approx(0.5 * 0.88)  # inside the range: left alone
    # And the ceiling: a fast preset (4.0) times the fastest request (4.0) times x-fast.
    slow, fast = engine_segments(prepare(ssml=SLOWEST), language="en-US", speed=4.0 * 4.0)
    assert fast.speed == 4.0
    assert (MIN_SPEED, MAX_SPEED) == (0.25, 4.0)  # the range docs/limits.md states


def test_nested_rates_cannot_multiply_past_the_floor() -> None:
    plan = prepare(
        ssml='<speak><prosody rate="50%"><prosody rate="50%"><prosody rate="50%">'
        "Very slow.</prosody></prosody></prosody></speak>"
    )
    [segment] = engine_segments(plan, language="en-US", speed=0.25)
    assert segment.speed == 0.25
