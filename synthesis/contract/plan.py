"""The text front-end's plan as engine segments: one place maps prosody to engine controls
(rate → speed, volume → gain, pitch → semitones, breaks → exact pauses), for the web path and
for the conformance run that measures the audio."""

from __future__ import annotations

from synthesis.contract.segments import Segment, clamp_speed
from synthesis.text.model import Plan, primary_language


def engine_segments(
    plan: Plan,
    *,
    language: str,
    speed: float = 1.0,
    languages: tuple[str, ...] | None = None,
) -> list[Segment]:
    """`speed` is the voice's speed times the request's; each segment's prosody rate (emphasis
    included) scales it, and the product is clamped to MIN_SPEED..MAX_SPEED: the one place
    those factors meet (`Segment` clamps again, for jobs built some other way).

    Every segment is spoken in `language` (the request's tag), except one whose own language
    (an SSML `xml:lang` span) has another primary subtag that the engine speaks (`languages`,
    its primary subtags): it keeps its own tag, because XTTS switches language per segment and
    that span was left as written for it. Without `languages` (Piper speaks English only) every
    segment gets `language`, as the engine expects."""
    request = primary_language(language)

    def spoken_in(own: str) -> str:
        primary = primary_language(own)
        if languages is not None and primary != request and primary in languages:
            return own
        return language

    return [
        Segment(
            text=s.text,
            language=spoken_in(s.language),
            speed=clamp_speed(speed * s.prosody.rate),
            volume=s.prosody.gain,
            pitch_st=s.prosody.pitch_st,
            pause_after_ms=s.pause_after_ms,
            pause_before_ms=plan.leading_pause_ms if index == 0 else 0,
            parts=s.parts,
        )
        for index, s in enumerate(plan.segments)
    ]
