"""The verdict on a reference clip, as stored with the voice and shown in the portal.

Plain data with no numpy or model import, so the web side can read a stored report
(`Report.from_json`) without loading what made it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reason:
    """One thing that lowered the score (or, `blocking`, that fails the clip outright)."""

    code: str  # stable snake_case, e.g. "too_short", "clipping", "noisy"
    message: str  # words a non-expert can act on
    points: int  # points taken off the score (0 for a blocking reason)
    blocking: bool

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "points": self.points,
            "blocking": self.blocking,
        }


# Decimal places kept in `as_json`: enough for a person and for a threshold comparison.
_ROUNDING: Mapping[str, int] = {
    "duration_seconds": 2,
    "speech_seconds": 2,
    "speech_ratio": 3,
    "longest_pause_seconds": 2,
    "clipping_ratio": 5,
    "noise_floor_dbfs": 1,
    "snr_db": 1,
    "loudness_lufs": 1,
    "speaker_consistency": 3,
}


def _rounded(value: float | None, places: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), places)


@dataclass(frozen=True)
class Report:
    """Measures of a clip, the score they earn, and why it is not 100."""

    duration_seconds: float
    sample_rate: int
    channels: int
    speech_seconds: float
    speech_ratio: float  # speech / duration, 0..1
    longest_pause_seconds: float  # longest non-speech gap between speech segments
    clipping_ratio: float  # fraction of samples in flat runs at the peak level
    noise_floor_dbfs: float | None  # level of the non-speech parts; None if there are none
    snr_db: float | None  # speech against non-speech energy
    loudness_lufs: float | None  # integrated BS.1770 loudness; None when too short or silent
    multiple_speakers: bool
    speaker_consistency: float | None  # lowest window-to-centroid cosine; None: little speech
    quality_score: int  # 0-100
    reasons: tuple[Reason, ...]  # worst first
    usable: bool
    speech_segments: tuple[tuple[float, float], ...] = ()  # seconds; for the clean-up only

    def as_json(self) -> dict[str, object]:
        """Everything but `speech_segments`, JSON-safe (no NaN or infinity) and rounded."""
        data: dict[str, object] = {
            "duration_seconds": _rounded(self.duration_seconds, 2),
            "sample_rate": int(self.sample_rate),
            "channels": int(self.channels),
        }
        for name, places in _ROUNDING.items():
            data[name] = _rounded(getattr(self, name), places)
        data["multiple_speakers"] = bool(self.multiple_speakers)
        data["quality_score"] = int(self.quality_score)
        data["reasons"] = [reason.as_json() for reason in self.reasons]
        data["usable"] = bool(self.usable)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        """The report `as_json` wrote (its `speech_segments` empty)."""

        def number(name: str) -> float:
            return float(data[name])

        def optional(name: str) -> float | None:
            value = data.get(name)
            return None if value is None else float(value)

        return cls(
            duration_seconds=number("duration_seconds"),
            sample_rate=int(data["sample_rate"]),
            channels=int(data["channels"]),
            speech_seconds=number("speech_seconds"),
            speech_ratio=number("speech_ratio"),
            longest_pause_seconds=number("longest_pause_seconds"),
            clipping_ratio=number("clipping_ratio"),
            noise_floor_dbfs=optional("noise_floor_dbfs"),
            snr_db=optional("snr_db"),
            loudness_lufs=optional("loudness_lufs"),
            multiple_speakers=bool(data["multiple_speakers"]),
            speaker_consistency=optional("speaker_consistency"),
            quality_score=int(data["quality_score"]),
            reasons=tuple(
                Reason(
                    code=str(reason["code"]),
                    message=str(reason["message"]),
                    points=int(reason["points"]),
                    blocking=bool(reason["blocking"]),
                )
                for reason in data.get("reasons", ())
            ),
            usable=bool(data["usable"]),
        )
