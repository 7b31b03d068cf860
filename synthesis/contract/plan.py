"""The text front-end's plan as engine segments: one place maps prosody to engine controls
(rate → speed, volume → gain, pitch → semitones, breaks → exact pauses), for the web path and
for the conformance run that measures the audio."""

from __future__ import annotations

from synthesis.contract.segments import Segment
from synthesis.text.model import Plan


def engine_segments(plan: Plan, *, language: str, speed: float = 1.0) -> list[Segment]:
    """`speed` is the voice's speed times the request's; each segment's prosody rate scales it."""
    return [
        Segment(
            text=s.text,
            language=language,
            speed=speed * s.prosody.rate,
            volume=s.prosody.gain,
            pitch_st=s.prosody.pitch_st,
            pause_after_ms=s.pause_after_ms,
            pause_before_ms=plan.leading_pause_ms if index == 0 else 0,
            parts=s.parts,
        )
        for index, s in enumerate(plan.segments)
    ]
